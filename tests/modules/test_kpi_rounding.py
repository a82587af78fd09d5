"""Dashboard lists show KPIs rounded to 2 decimals; detailed results keep full precision."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from tests.helpers.api import ok

METRICS = {
    "totalReturn": 3.456428776230669,
    "annualizedReturn": 12.344999999,
    "sharpeRatio": 2.837140923907156,
    "maxDrawdown": -7.125000001,
    "winRate": 55.55555555555556,
    "profitFactor": 1.994999,
    "totalTrades": 7,
    "avgHoldingDays": 2.675,
}
ROUNDED = {
    "totalReturn": 3.46,
    "annualizedReturn": 12.34,
    "sharpeRatio": 2.84,
    "maxDrawdown": -7.13,
    "winRate": 55.56,
    "profitFactor": 1.99,
    "totalTrades": 7,
    "avgHoldingDays": 2.68,
}


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (3.456428776230669, 3.46),
        (2.837140923907156, 2.84),
        (2.675, 2.68),  # the float is 2.67499999..., its shortest form 2.675 rounds half up
        (-2.675, -2.68),  # half away from zero
        (0.004999, 0.0),
        (12.0, 12.0),
        (None, None),
    ],
)
def test_rounded_field(value, shown):
    from backend.core.schemas import CamelSchema, Rounded

    class Kpi(CamelSchema):
        value = Rounded(2, allow_none=True)

    assert Kpi().dump({"value": value}) == {"value": shown}


@pytest.fixture
def completed(app, client, user, make_strategy, run_backtest):
    """A published strategy with one completed backtest whose stored KPIs have long decimals."""
    from backend.extensions import db
    from backend.modules.backtests.models import Backtest
    from backend.modules.strategies.models import Strategy

    strategy = make_strategy(user, published=True)
    submitted = ok(run_backtest(user, strategy_id=strategy["id"]), 202)
    with app.app_context():
        db.session.execute(
            update(Backtest).where(Backtest.id == submitted["backtest_id"]).values(metrics=METRICS)
        )
        db.session.execute(
            update(Strategy).where(Strategy.id == strategy["id"]).values(latest_metrics=METRICS)
        )
        db.session.commit()
    return {"strategy_id": strategy["id"], **submitted}


def test_dashboard_lists_show_rounded_kpis(client, user, completed):
    for strategies in (
        ok(client.get("/api/strategies/recent", headers=user.headers)),
        ok(client.get("/api/strategies/recent")),  # the anonymous showcase
        ok(client.get("/api/strategies", headers=user.headers)),
    ):
        (shown,) = strategies
        assert (shown["returns"], shown["winRate"], shown["maxDrawdown"], shown["trades"]) == (
            3.46,
            55.56,
            -7.13,
            7,
        )
    assert ok(client.get("/api/backtests/latest", headers=user.headers))["summary"] == ROUNDED
    assert ok(client.get("/api/backtests/latest"))["summary"] == ROUNDED
    (listed,) = ok(client.get("/api/backtests", headers=user.headers))
    assert listed["summary"] == ROUNDED


def test_detailed_results_keep_full_precision(client, user, completed):
    detail = ok(client.get(f"/api/backtests/{completed['backtest_id']}", headers=user.headers))
    assert detail["summary"] == METRICS
    assert detail["metrics"] == METRICS
    result = ok(client.get(f"/api/backtests/job/{completed['job_id']}", headers=user.headers))["result"]
    assert result["summary"] == METRICS and result["metrics"] == METRICS
    assert ok(client.get("/api/backtests/latest", headers=user.headers))["metrics"] == METRICS
    strategy = ok(client.get(f"/api/strategies/{completed['strategy_id']}", headers=user.headers))
    assert strategy["metrics"] == METRICS and strategy["returns"] == 3.46


def test_the_openapi_document_says_which_kpis_are_rounded(client):
    schemas = client.get("/api/openapi.json").get_json()["components"]["schemas"]
    assert "Rounded to 2 decimals." in schemas["Strategy"]["properties"]["returns"]["description"]
    assert "Rounded to 2 decimals." in schemas["DisplaySummary"]["properties"]["sharpeRatio"]["description"]
    assert "description" not in schemas["BacktestSummary"]["properties"]["sharpeRatio"]
