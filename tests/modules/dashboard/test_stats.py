"""GET /api/dashboard/stats: my figures, the showcase's for anonymous callers (cached, never stale)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import delete, select, update

from backend.extensions import db
from backend.modules.bots.models import BotEquity, BotInstance
from backend.modules.dashboard import service
from backend.modules.strategies.models import Strategy
from tests.core.test_showcase import sql_statements
from tests.helpers.api import error, ok

HOUR = 3_600_000
NOW = 1_767_225_600_000 + 15 * 24 * HOUR  # 2026-01-16 00:00 UTC


def test_a_new_user_gets_zeros_against_the_configured_quota(app, client, user, monkeypatch):
    monkeypatch.setitem(app.config, "BACKTEST_MONTHLY_QUOTA", 7)
    data = ok(client.get("/api/dashboard/stats", headers=user.headers))
    assert data["scope"] == "mine" and data["period"] == "24h"
    assert (data["backtestsThisMonth"], data["backtestQuota"], data["backtestQuotaRemaining"]) == (0, 7, 7)
    assert (data["bots"], data["botRuntimeHours"], data["totalProfit"], data["profitChange"]) == (0, 0, 0, 0)
    assert (data["strategies"], data["avgWinRate"], data["avgHoldingDays"], data["avgSharpe"]) == (
        0,
        None,
        None,
        None,
    )
    assert data["periodStart"] == data["asOf"] - 24 * HOUR and data["monthStart"] <= data["asOf"]


def test_backtests_this_month_and_kpi_averages_come_from_the_server_metrics(
    app, client, user, other_user, make_strategy, run_backtest
):
    for name in ("a", "b"):
        strategy = make_strategy(user, name=name)
        ok(run_backtest(user, strategy_id=strategy["id"]), 202)
    ok(run_backtest(other_user, strategy_id=make_strategy(other_user)["id"]), 202)  # not mine
    data = ok(client.get("/api/dashboard/stats?period=30d", headers=user.headers))
    assert (
        data["backtestsThisMonth"] == 2 and data["backtestQuotaRemaining"] == 98 and data["strategies"] == 2
    )
    with app.app_context():
        metrics = db.session.scalars(
            select(Strategy.latest_metrics).where(Strategy.owner_id == user.id)
        ).all()
    for field, key in (
        ("avgWinRate", "winRate"),
        ("avgSharpe", "sharpeRatio"),
        ("avgHoldingDays", "avgHoldingDays"),
    ):
        values = [m[key] for m in metrics if m[key] is not None]
        expected = round(sum(values) / len(values), 2) if values else None
        assert data[field] == pytest.approx(expected, abs=0.006), field


def test_month_start_is_the_first_of_the_utc_month():
    assert service.month_start_ms(NOW) == 1_767_225_600_000
    assert service.month_start_ms(1_767_225_600_000) == 1_767_225_600_000  # the first instant itself
    assert service.month_start_ms(1_767_225_599_999) == 1_764_547_200_000  # the last ms of December


@pytest.fixture
def priced_bot(app, user, make_bot):
    """One running bot of `user`: profit 200 now, 50 at NOW - 48h per its equity curve, 1.5 h run."""
    bot = make_bot(user)
    with app.app_context():
        db.session.execute(
            update(BotInstance)
            .where(BotInstance.id == bot["id"])
            .values(
                cash=Decimal(9000), position=Decimal(2), mark_price=Decimal(600), cost_basis=Decimal(1000),
                run_ms=HOUR, status="running", running_since=NOW - HOUR // 2,
            )
        )  # fmt: skip
        db.session.execute(delete(BotEquity).where(BotEquity.bot_id == bot["id"]))
        db.session.add_all(
            [
                BotEquity(bot_id=bot["id"], time=NOW - 48 * HOUR, value=Decimal(10050)),
                BotEquity(bot_id=bot["id"], time=NOW - HOUR, value=Decimal(10150)),
            ]
        )
        db.session.commit()
    return bot


def test_profit_runtime_and_the_change_over_the_period(app, user, priced_bot, make_bot, other_user):
    deleted = make_bot(user, name="gone")
    make_bot(other_user)  # someone else's
    with app.app_context():
        db.session.execute(update(BotInstance).where(BotInstance.id == deleted["id"]).values(deleted_at=NOW))
        db.session.commit()
        day = service.get_stats(actor_id=user.id, period="24h", now=NOW)
        month = service.get_stats(actor_id=user.id, period="30d", now=NOW)
    assert (day.bots, day.bot_runtime_hours, day.total_profit) == (1, 1.5, Decimal(200))
    assert day.profit_change == Decimal(150)  # 200 now - 50 at the last equity point before the start
    assert month.profit_change == Decimal(200)  # no equity point before the start: profit then was 0


def test_an_unmarked_bot_is_valued_at_its_cost_basis(app, user, priced_bot):
    with app.app_context():
        db.session.execute(
            update(BotInstance).where(BotInstance.id == priced_bot["id"]).values(mark_price=None)
        )
        db.session.commit()
        stats = service.get_stats(actor_id=user.id, now=NOW)
    assert stats.total_profit == Decimal(0)  # 9000 cash + 1000 at cost - 10000 capital


def test_anonymous_callers_get_the_showcase_cached_and_never_stale(
    app, client, user, make_strategy, run_backtest, make_bot
):
    strategy = make_strategy(user, name="shown", published=True)
    ok(run_backtest(user, strategy_id=strategy["id"]), 202)
    make_strategy(user, name="private")  # not in the showcase
    first = ok(client.get("/api/dashboard/stats"))
    assert first["scope"] == "showcase" and first["strategies"] == 1 and first["backtestsThisMonth"] == 1
    assert first["bots"] == 0
    with sql_statements(app) as statements:
        assert ok(client.get("/api/dashboard/stats")) == first
    assert statements == []  # served from the showcase cache
    make_bot(user, public=True)  # a write to bot_instances drops the cached figures
    assert ok(client.get("/api/dashboard/stats"))["bots"] == 1
    other = make_strategy(user, name="second", published=True)
    ok(run_backtest(user, strategy_id=other["id"]), 202)
    after = ok(client.get("/api/dashboard/stats"))
    assert (after["strategies"], after["backtestsThisMonth"]) == (2, 2)
    assert ok(client.get("/api/dashboard/stats", headers=user.headers))["scope"] == "mine"


def test_bad_input_is_422_and_a_bad_token_401(client):
    body = error(client.get("/api/dashboard/stats?period=1y"), 422, "validation_error")
    assert "period" in body["details"]["fields"]
    error(client.get("/api/dashboard/stats", headers={"Authorization": "Bearer nope"}), 401, "token_invalid")


def test_the_card_costs_the_same_few_statements_however_many_bots_and_strategies(
    app, client, user, make_bot, make_strategy, run_backtest
):
    def statements_for_one_read() -> int:
        with sql_statements(app) as seen:
            ok(client.get("/api/dashboard/stats", headers=user.headers))
        return len([s for s in seen if s.lstrip().upper().startswith("SELECT")])

    make_bot(user)
    ok(run_backtest(user, strategy_id=make_strategy(user)["id"]), 202)
    few = statements_for_one_read()
    for i in range(3):
        make_bot(user, name=f"bot {i}")
        ok(run_backtest(user, strategy_id=make_strategy(user, name=f"s{i}")["id"]), 202)
    assert statements_for_one_read() == few <= 6  # aggregates, not a query per row
