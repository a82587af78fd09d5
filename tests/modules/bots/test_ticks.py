"""Ticks: lifecycle, pause/resume, duplicate ticks, error and recovery, the ledger invariant."""

from __future__ import annotations

from decimal import Decimal as D

import numpy as np
import pytest
from sqlalchemy import func, select

from backend.domain.bars import Bars
from backend.extensions import db
from backend.modules.bots import service
from backend.modules.bots.models import BotEquity, BotInstance, Order
from tests.fixtures.bots import MIN, T0


@pytest.fixture
def replay_bot(ctx, user, bot_strategy, wave_market):
    """Return a factory creating a bot that trades the fake market from bar 0 (T0)."""

    def _make(**kw) -> str:
        args = {"fee_bps": D(0), "slippage_bps": D(0), "capital": D(10000), **kw}
        view = service.create_bot(
            actor_id=user.id,
            name="replay",
            strategy_id=bot_strategy(user.id),
            start_ms=T0,
            now=wave_market.now,
            **args,
        )
        return view.id

    return _make


def _orders(bot_id):
    return db.session.scalars(select(Order).where(Order.bot_id == bot_id).order_by(Order.time)).all()


def _equity_count(bot_id):
    return db.session.scalar(select(func.count()).select_from(BotEquity).where(BotEquity.bot_id == bot_id))


def test_ticks_place_orders_once_per_new_bar(replay_bot, wave_market):
    bot_id = replay_bot()
    now = wave_market.at_bar(60)  # bars 0..60 are complete; signal bars 0..59 can be processed
    first = service.tick_bot(bot_id=bot_id, now=now)
    assert first.status == "ran" and first.bars == 60 and first.orders >= 2
    orders = _orders(bot_id)
    assert len(orders) == first.orders and _equity_count(bot_id) == 60
    assert all(o.idempotency_key == f"tick:{bot_id}:{o.time}:{o.side}" for o in orders)
    assert [o.side for o in orders[:2]] == ["buy", "sell"]
    # fills happen at the next bar's open
    for o in orders:
        index = int(np.searchsorted(wave_market.bars.time, o.time))
        assert o.reference_price == D(repr(float(wave_market.bars.open[index]))).quantize(D("1e-8"))
    again = service.tick_bot(bot_id=bot_id, now=now)  # the same bar again: a duplicate tick
    assert again.status == "idle" and len(_orders(bot_id)) == len(orders)
    bot = db.session.get(BotInstance, bot_id)
    assert bot.last_bar_ms == T0 + 59 * MIN and bot.next_tick_ms == T0 + 62 * MIN


def test_pause_stops_orders_and_resume_continues_from_now(replay_bot, wave_market, user):
    bot_id = replay_bot()
    service.tick_bot(bot_id=bot_id, now=wave_market.at_bar(40))
    before = len(_orders(bot_id))
    service.set_bot_status(actor_id=user.id, bot_id=bot_id, status="paused", now=wave_market.now)
    assert service.tick_bot(bot_id=bot_id, now=wave_market.at_bar(120)).status == "skipped"
    assert len(_orders(bot_id)) == before
    service.set_bot_status(actor_id=user.id, bot_id=bot_id, status="running", now=wave_market.now)
    assert service.tick_bot(bot_id=bot_id, now=wave_market.at_bar(200)).status == "ran"
    times = [o.time for o in _orders(bot_id)]
    assert len(times) > before
    # nothing was filled for the bars that closed while the bot was paused
    assert not any(T0 + 41 * MIN <= t <= T0 + 120 * MIN for t in times)


def test_provider_failure_marks_error_without_booking_and_resume_recovers(replay_bot, wave_market, user):
    bot_id = replay_bot()
    service.tick_bot(bot_id=bot_id, now=wave_market.at_bar(30))
    orders, points = len(_orders(bot_id)), _equity_count(bot_id)
    wave_market.fail_loads(RuntimeError("exchange timeout"))
    outcome = service.tick_bot(bot_id=bot_id, now=wave_market.at_bar(60))
    assert outcome.status == "failed" and outcome.reason == "provider_error"
    view = service.get_bot(actor_id=user.id, bot_id=bot_id)
    assert view.status == "error" and view.error_reason == "provider_error"
    assert "exchange timeout" in view.error_message
    assert len(_orders(bot_id)) == orders and _equity_count(bot_id) == points
    assert service.tick_bot(bot_id=bot_id, now=wave_market.now).status == "skipped"
    wave_market.fail_loads(None)
    resumed = service.set_bot_status(actor_id=user.id, bot_id=bot_id, status="active", now=wave_market.now)
    assert resumed.status == "active" and resumed.error_reason is None
    assert service.tick_bot(bot_id=bot_id, now=wave_market.at_bar(100)).status == "ran"


def test_market_read_failing_in_the_database_still_marks_the_bot_in_error(
    replay_bot, wave_market, user, monkeypatch
):
    # A candle query that fails in Postgres aborts the tick's transaction; the bot must still end
    # up in error (not a crashed task that the scheduler retries forever), with nothing booked.
    from sqlalchemy import text

    from backend.modules.bots import links

    bot_id = replay_bot()
    service.tick_bot(bot_id=bot_id, now=wave_market.at_bar(30))
    orders, points = len(_orders(bot_id)), _equity_count(bot_id)

    def failing_query(**_kw) -> Bars:
        db.session.execute(text("SELECT 1 / 0"))  # raises DataError; the transaction is aborted
        raise AssertionError("unreachable")

    monkeypatch.setattr(links, "load_bars", failing_query)
    outcome = service.tick_bot(bot_id=bot_id, now=wave_market.at_bar(60))
    assert outcome.status == "failed" and outcome.reason == "provider_error"
    view = service.get_bot(actor_id=user.id, bot_id=bot_id)
    assert view.status == "error" and "division by zero" in view.error_message
    assert len(_orders(bot_id)) == orders and _equity_count(bot_id) == points


def test_nan_price_fails_the_whole_tick(replay_bot, wave_market, user):
    bot_id = replay_bot()
    bars = wave_market.bars
    close = bars.close.copy()
    close[50] = np.nan
    wave_market.serve_unstorable(Bars(bars.time, bars.open, bars.high, bars.low, close, bars.volume))
    outcome = service.tick_bot(bot_id=bot_id, now=wave_market.at_bar(80))
    assert outcome.status == "failed" and outcome.reason == "bad_price"
    # bars 0..49 were fine, but nothing of the failed tick was booked
    assert _orders(bot_id) == [] and _equity_count(bot_id) == 0
    bot = db.session.get(BotInstance, bot_id)
    assert bot.cash == D(10000) and bot.last_bar_ms == T0 - 1 and bot.status == "error"


def test_invalid_latest_close_fails_before_anything_is_written(replay_bot, wave_market, user):
    # Every walked bar is fine; only the latest close (the bot's new mark) is broken. The tick
    # checks it before its first write, so the whole tick books nothing and the cursor stays.
    bot_id = replay_bot()
    service.tick_bot(bot_id=bot_id, now=wave_market.at_bar(30))
    before = db.session.get(BotInstance, bot_id)
    cursor = (before.last_bar_ms, before.last_tick_ms, before.next_tick_ms, before.cash, before.position)
    orders, points = len(_orders(bot_id)), _equity_count(bot_id)
    bars = wave_market.bars
    close = bars.close.copy()
    close[80] = np.inf
    wave_market.serve_unstorable(Bars(bars.time, bars.open, bars.high, bars.low, close, bars.volume))
    outcome = service.tick_bot(bot_id=bot_id, now=wave_market.at_bar(80))
    assert outcome.status == "failed" and outcome.reason == "bad_price"
    assert len(_orders(bot_id)) == orders and _equity_count(bot_id) == points
    db.session.expire_all()
    bot = db.session.get(BotInstance, bot_id)
    assert (bot.last_bar_ms, bot.last_tick_ms, bot.next_tick_ms, bot.cash, bot.position) == cursor
    assert bot.status == "error" and "latest close" in bot.error_message


def test_strategy_that_cannot_run_is_an_error_not_a_crash(replay_bot, wave_market, monkeypatch, user):
    from backend.modules.bots import links

    bot_id = replay_bot()

    def boom(**_kw):
        raise ZeroDivisionError("bad maths")

    monkeypatch.setattr(links, "strategy_signals", boom)
    outcome = service.tick_bot(bot_id=bot_id, now=wave_market.at_bar(40))
    assert outcome.reason == "strategy_error"
    assert service.get_bot(actor_id=user.id, bot_id=bot_id).status == "error"


def test_ledger_invariant_after_many_ticks_with_costs(replay_bot, wave_market, user, client):
    bot_id = replay_bot(fee_bps=D(10), slippage_bps=D(5))
    for index in range(10, 400, 3):
        service.tick_bot(bot_id=bot_id, now=wave_market.at_bar(index))
    orders = _orders(bot_id)
    # the last tick has bar 397 complete: signal bars 0..396 are processed
    assert len(orders) >= 15 and _equity_count(bot_id) == 397
    resp = client.get(f"/api/bots/{bot_id}/ledger", headers=user.headers)
    assert resp.status_code == 200
    ledger = resp.get_json()["data"]
    check = ledger["check"]
    assert check["ok"] is True and check["replayMatches"] is True and check["difference"] == 0
    assert check["equity"] == pytest.approx(check["cash"] + check["positionValue"])
    assert len(ledger["entries"]) == len(orders)
    bot = db.session.get(BotInstance, bot_id)
    assert bot.fees_paid == sum((o.fee for o in orders), D(0)) > 0
    assert bot.cash == D(10000) + sum(
        ((o.notional if o.side == "sell" else -o.notional) - o.fee for o in orders), D(0)
    )
    view = service.get_bot(actor_id=user.id, bot_id=bot_id)
    mark = bot.mark_price
    assert view.profit == bot.cash + (bot.position * mark).quantize(D("1e-8")) - D(10000)


def test_performance_lists_equity_and_orders(replay_bot, wave_market, user, client):
    bot_id = replay_bot()
    service.tick_bot(bot_id=bot_id, now=wave_market.at_bar(60))
    data = client.get(f"/api/bots/{bot_id}/performance", headers=user.headers).get_json()["data"]
    assert len(data["equity"]) == 60 and data["equity"][0] == {"time": T0, "value": 10000}
    order = data["orders"][0]
    assert set(order) >= {
        "id",
        "botId",
        "symbol",
        "side",
        "price",
        "quantity",
        "fee",
        "status",
        "pnl",
        "timestamp",
        "idempotencyKey",
    }
    assert order["botId"] == bot_id and order["status"] == "filled" and order["side"] == "buy"


def test_schedule_claims_each_due_bot_once(replay_bot, wave_market, app, monkeypatch):
    sent = []
    celery = app.extensions["celery"]
    monkeypatch.setattr(celery, "send_task", lambda name, kwargs: sent.append((name, kwargs)))
    bot_id = replay_bot()
    assert service.enqueue_due_ticks(now=wave_market.now) == 1
    assert sent == [("bots.tick", {"bot_id": bot_id})]
    assert service.enqueue_due_ticks(now=wave_market.now) == 0  # already enqueued for this bar
    service.tick_bot(bot_id=bot_id, now=wave_market.at_bar(60))
    assert service.enqueue_due_ticks(now=wave_market.now) == 0  # next bar not complete yet
    assert service.enqueue_due_ticks(now=wave_market.at_bar(61)) == 1


def test_performance_returns_the_latest_points_when_capped(replay_bot, wave_market, user, app):
    bot_id = replay_bot()
    service.tick_bot(bot_id=bot_id, now=wave_market.at_bar(60))
    app.config["BOT_CURVE_MAX"] = 10
    try:
        perf = service.get_performance(actor_id=user.id, bot_id=bot_id)
    finally:
        app.config["BOT_CURVE_MAX"] = 5000
    assert [p.time for p in perf.equity] == [T0 + i * MIN for i in range(50, 60)]
    assert len(perf.orders) <= 10


def test_a_new_bot_only_fills_after_its_creation(ctx, user, bot_strategy, wave_market):
    created = wave_market.at_bar(100) + 25_000  # mid-way through bar 101
    bot = service.create_bot(
        actor_id=user.id, name="live", strategy_id=bot_strategy(user.id), capital=D(1000), now=created
    )
    row = db.session.get(BotInstance, bot.id)
    assert row.last_bar_ms == T0 + 100 * MIN  # bars complete at creation are skipped
    assert row.origin_ms == T0 + 101 * MIN - 200 * MIN  # BOT_WARMUP_BARS of history
    for index in range(101, 400, 5):
        service.tick_bot(bot_id=bot.id, now=wave_market.at_bar(index))
    times = [o.time for o in _orders(bot.id)]
    assert times and min(times) > created
