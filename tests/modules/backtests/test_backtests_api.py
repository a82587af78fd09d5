"""Backtests API: submit, job status, results, showcase, cancel, and every error envelope.

Celery runs eagerly here (the job executes inside the submit request); the real-worker
lifecycle is in test_integration.py.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from backend.domain.bars import Bars
from backend.modules.market import service as market_service
from tests.fixtures.backtests import RANGE_END_MS, RANGE_START_MS
from tests.helpers.api import error, fields

HOUR = 3_600_000


def _job(client, owner, resp) -> dict:
    assert resp.status_code == 202, resp.get_json()
    job_id = resp.get_json()["data"]["job_id"]
    return client.get(f"/api/backtests/job/{job_id}", headers=owner.headers).get_json()["data"]


@pytest.fixture
def golden_bars(app):
    """Eight hand-made hourly GOLDEN candles, imported into the market; only opens (fills) and
    closes (signals) matter."""
    close = np.array([5, 4, 3, 4, 6, 5, 3, 2], dtype=float)
    opens = np.array([5, 5, 4, 3, 4, 5, 5, 6], dtype=float)
    bars = Bars.from_arrays(
        RANGE_START_MS + np.arange(8) * HOUR,
        opens,
        np.maximum(opens, close) + 1,
        np.minimum(opens, close) - 1,
        close,
        np.full(8, 10.0),
    )
    market_service.import_candles(symbol="GOLDEN", interval="1h", bars=bars)
    return bars


def test_golden_run_stores_the_hand_computed_trade(client, user, make_strategy, run_backtest, golden_bars):
    sid = make_strategy(user, symbol="GOLDEN", params={"fast": 2, "slow": 3})["id"]
    job = _job(client, user, run_backtest(user, strategy_id=sid, fee_bps=10, initial_capital=10000))
    assert (job["status"], job["progress"]) == ("SUCCESS", 100)
    result = job["result"]
    # SMA2 crosses above SMA3 on bar 4's close -> buy at bar 5's open (5.0); crosses below on
    # bar 6's close -> sell at bar 7's open (6.0). Fee 10 bps per side, all in:
    # qty = 10000 / (5 * 1.001) = 1998.001998..., pnl = qty * (6 - 5) - qty * 5 * 0.001 - qty * 6 * 0.001
    #     = qty * 0.989 = 1976.023976..., total return 19.76023976 %.
    qty = 10000 / 5.005
    buy, sell = result["trades"]
    assert (buy["side"], buy["price"], buy["timestamp"], buy["pnl"]) == (
        "buy",
        5.0,
        golden_bars.time[5],
        None,
    )
    assert (sell["side"], sell["price"], sell["timestamp"]) == ("sell", 6.0, golden_bars.time[7])
    assert buy["quantity"] == pytest.approx(qty, abs=1e-8) and sell["pnl"] == pytest.approx(
        qty * 0.989, abs=1e-6
    )
    summary = result["summary"]
    assert summary["totalReturn"] == pytest.approx(19.76023976023976, abs=1e-9)
    assert (summary["totalTrades"], summary["winRate"]) == (1, 100.0)
    assert summary["profitFactor"] is None  # no losing trade: undefined, null rather than infinity
    signals = {bar["time"]: bar.get("signal") for bar in result["kline"]}
    assert signals[golden_bars.time[5]] == "buy" and signals[golden_bars.time[7]] == "sell"
    assert sum(1 for s in signals.values() if s) == 2 and len(result["kline"]) == 8


def test_run_on_mock_data_feeds_detail_list_latest_and_strategy_kpis(
    client, user, make_strategy, run_backtest
):
    sid = make_strategy(user, params={"fast": 5, "slow": 20}, published=True)["id"]
    job = _job(client, user, run_backtest(user, strategy_id=sid, fee_bps=5, slippage_bps=2))
    backtest_id = job["backtest_id"]
    summary = job["result"]["summary"]
    assert set(summary) == {
        "totalReturn",
        "annualizedReturn",
        "sharpeRatio",
        "maxDrawdown",
        "winRate",
        "profitFactor",
        "totalTrades",
        "avgHoldingDays",
    }
    assert summary["maxDrawdown"] <= 0 and summary["totalTrades"] * 2 == len(job["result"]["trades"])
    detail = client.get(f"/api/backtests/{backtest_id}", headers=user.headers).get_json()["data"]
    assert detail["status"] == "completed" and detail["engineVersion"] == "1.0.0"
    assert (detail["start"], detail["end"], detail["barsCount"]) == (RANGE_START_MS, RANGE_END_MS, 504)
    assert detail["equity"][-1]["value"] == pytest.approx(detail["metrics"]["finalEquity"], abs=1e-6)
    listed = client.get("/api/backtests?page=1&page_size=5", headers=user.headers)
    assert [b["id"] for b in listed.get_json()["data"]] == [backtest_id]
    assert json.loads(listed.headers["X-Pagination"])["total"] == 1
    for headers in (user.headers, {}):  # mine, and the anonymous showcase (published strategy)
        latest = client.get("/api/backtests/latest", headers=headers).get_json()["data"]
        assert latest["backtestId"] == backtest_id and latest["summary"] == _shown(summary)
    strategy = client.get(f"/api/strategies/{sid}", headers=user.headers).get_json()["data"]
    assert (strategy["status"], strategy["returns"], strategy["trades"]) == (
        "completed",
        _shown(summary)["totalReturn"],
        summary["totalTrades"],
    )
    assert strategy["latestBacktestId"] == backtest_id


def test_inline_strategy_needs_no_saved_strategy(client, user, run_backtest):
    job = _job(
        client,
        user,
        run_backtest(user, strategy={"kind": "rsi", "params": {"period": 7}}, symbol="XAUUSD", interval="4h"),
    )
    detail = client.get(f"/api/backtests/{job['backtest_id']}", headers=user.headers).get_json()["data"]
    assert (detail["kind"], detail["params"], detail["strategyId"]) == (
        "rsi",
        {"period": 7, "lower": 30.0, "upper": 70.0},
        None,
    )


def test_latest_filters_by_symbol_and_404s_when_there_is_nothing(client, user, run_backtest):
    error(client.get("/api/backtests/latest"), 404, code="backtests.not_found")
    _job(client, user, run_backtest(user, strategy={"kind": "sma_cross"}, symbol="ETHUSDT"))
    assert client.get("/api/backtests/latest?symbol=ETHUSDT", headers=user.headers).status_code == 200
    error(client.get("/api/backtests/latest?symbol=AAPL", headers=user.headers), 404, "not_found")


@pytest.mark.parametrize(
    "body, status, code, field",
    [
        ({"strategy_id": "00000000-0000-0000-0000-000000000000"}, 404, "strategies.not_found", None),
        (
            {"strategy": {"kind": "sma_cross", "params": {"fast": 9, "slow": 4}}, "symbol": "BTCUSDT"},
            422,
            "strategies.invalid",
            "params.fast",
        ),
        ({"strategy": {"kind": "nope"}, "symbol": "BTCUSDT"}, 422, "strategies.invalid", "kind"),
        ({"strategy": {"kind": "rsi"}}, 422, "app.validation_error", "symbol"),
        ({}, 422, "app.validation_error", "strategy_id"),
        (
            {"strategy": {"kind": "rsi"}, "symbol": "BTCUSDT", "start": RANGE_END_MS, "end": RANGE_START_MS},
            422,
            "backtests.invalid",
            "end",
        ),
        (
            {"strategy": {"kind": "rsi"}, "symbol": "BTCUSDT", "interval": "1m", "start": 0},
            422,
            "backtests.too_many_bars",
            "start",
        ),
        (
            {"strategy": {"kind": "rsi"}, "symbol": "BTCUSDT", "fee_bps": -1},
            422,
            "app.validation_error",
            "fee_bps",
        ),
        (
            {"strategy": {"kind": "rsi"}, "symbol": "BTCUSDT", "start": 2**70, "end": 2**70 + 1},
            422,
            "app.validation_error",
            "start",
        ),
        (
            {"strategy": {"kind": "rsi", "params": {"lower": {"x": 1}}}, "symbol": "BTCUSDT"},
            422,
            "strategies.invalid",
            "params.lower",
        ),
    ],
)
def test_run_errors(client, user, run_backtest, body, status, code, field):
    details = error(run_backtest(user, **body), status)["details"]
    assert details.get("error", "app.validation_error") == code
    if field:
        assert field in details["fields"], details


def test_too_many_bars_names_the_limit(client, user, run_backtest):
    resp = run_backtest(user, strategy={"kind": "rsi"}, symbol="BTCUSDT", interval="1m", start=0)
    details = error(resp, 422, "validation_error", "backtests.too_many_bars")["details"]
    assert details["limit"] == "BACKTEST_MAX_BARS"
    assert details["requested"] > details["max"]


def test_run_needs_a_token(client):
    error(client.post("/api/backtests/run", json={}), 401, "token_missing")


def test_private_strategies_and_results_of_others_are_404(
    client, user, other_user, make_strategy, run_backtest
):
    private = make_strategy(user)["id"]
    error(run_backtest(other_user, strategy_id=private), 404, code="strategies.not_found")
    job = _job(client, user, run_backtest(user, strategy_id=private))
    for url in (f"/api/backtests/job/{job['job_id']}", f"/api/backtests/{job['backtest_id']}"):
        error(client.get(url, headers=other_user.headers), 404, "not_found")
    cancel = client.post(f"/api/backtests/{job['backtest_id']}/cancel", headers=other_user.headers)
    error(cancel, 404, "not_found")
    # A published strategy may be backtested by anyone; the run belongs to the caller.
    public = make_strategy(user, published=True)["id"]
    assert _job(client, other_user, run_backtest(other_user, strategy_id=public))["status"] == "SUCCESS"


def test_no_data_fails_the_job_with_a_reason(client, user, run_backtest):
    # The mock provider starts in 2015; a range in 2001 has no bars.
    job = _job(
        client,
        user,
        run_backtest(
            user,
            strategy={"kind": "rsi"},
            symbol="BTCUSDT",
            start=978_307_200_000,
            end=978_307_200_000 + 100 * HOUR,
        ),
    )
    assert job["status"] == "FAILED" and job["error"]["reason"] == "no_data" and "result" not in job
    detail = client.get(f"/api/backtests/{job['backtest_id']}", headers=user.headers).get_json()["data"]
    assert detail["status"] == "failed" and detail["error"]["reason"] == "no_data"


def test_cancel_finished_is_409(client, user, run_backtest):
    job = _job(client, user, run_backtest(user, strategy={"kind": "rsi"}, symbol="BTCUSDT"))
    error(
        client.post(f"/api/backtests/{job['backtest_id']}/cancel", headers=user.headers),
        409,
        code="backtests.not_cancellable",
    )


def test_broker_down_is_503_and_leaves_no_rows(client, user, run_backtest, broker_down):
    from backend.core.jobs import Job
    from backend.extensions import db
    from backend.modules.backtests.models import Backtest

    error(run_backtest(user, strategy={"kind": "rsi"}, symbol="BTCUSDT"), 503, "service_unavailable")
    assert db.session.query(Backtest).count() == 0
    assert db.session.query(Job).count() == 0


def test_every_private_endpoint_needs_a_token(client, user, run_backtest):
    ids = run_backtest(user, strategy={"kind": "rsi"}, symbol="BTCUSDT").get_json()["data"]
    for method, url in (
        ("get", "/api/backtests"),
        ("get", f"/api/backtests/job/{ids['job_id']}"),
        ("get", f"/api/backtests/{ids['backtest_id']}"),
        ("post", f"/api/backtests/{ids['backtest_id']}/cancel"),
    ):
        error(getattr(client, method)(url), 401, "token_missing")


def test_list_filters_and_rejects_bad_filters(client, user, run_backtest):
    run_backtest(user, strategy={"kind": "rsi"}, symbol="BTCUSDT")
    run_backtest(user, strategy={"kind": "rsi"}, symbol="XAUUSD")
    rows = client.get("/api/backtests?symbol=XAUUSD&status=completed", headers=user.headers).get_json()[
        "data"
    ]
    assert [r["symbol"] for r in rows] == ["XAUUSD"]
    error(client.get("/api/backtests?status=done", headers=user.headers), 422, "validation_error")


def test_nul_characters_are_404_or_422_never_500(client, user):
    # Postgres cannot store NUL; such ids are simply unknown and such names are invalid input.
    for url in (
        "/api/backtests/%00",
        "/api/backtests/job/%00",
        "/api/strategies/%00",
        "/api/strategies/%00/versions",
    ):
        assert client.get(url, headers=user.headers).status_code == 404, url
    resp = client.post(
        "/api/strategies", json={"name": "a\u0000b", "symbol": "BTCUSDT", "kind": "rsi"}, headers=user.headers
    )
    assert fields(resp)["name"] == ["Must not contain NUL characters."]


def _shown(summary: dict) -> dict:
    """The summary as the dashboard shows it: every KPI to 2 decimals (half away from zero)."""
    from decimal import ROUND_HALF_UP, Decimal

    def two(value):
        if value is None or isinstance(value, int):
            return value
        return float(Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))

    return {key: two(value) for key, value in summary.items()}
