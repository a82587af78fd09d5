"""A result's fills: capped inline (BACKTEST_POLL_TRADES_MAX + tradesTotal), every one paginated
from GET /api/backtests/{id}/trades, and the stored columns equal to the engine's records."""

from __future__ import annotations

import json
from decimal import Decimal

import numpy as np
import pytest

from backend.extensions import db
from backend.modules.backtests import results, trade_store
from backend.modules.backtests.models import Backtest
from backend.modules.backtests.schemas import BacktestEquityPointSchema, KlineBarSchema, TradeSchema
from tests.fixtures.core_celery import hold_jobs
from tests.helpers.api import error, fields
from tests.modules.backtests.former_rows import equity_json, fill_json, kline_json

CAP = 5  # an odd cap: the inline list ends inside a round trip


@pytest.fixture
def completed(app, client, user, run_backtest, monkeypatch):
    """A completed SMA 5/20 run on mock hourly bars (dozens of fills) and its full fill list."""
    monkeypatch.setitem(app.config, "BACKTEST_POLL_TRADES_MAX", 10**6)
    resp = run_backtest(
        user, strategy={"kind": "sma_cross", "params": {"fast": 5, "slow": 20}}, symbol="BTCUSDT"
    )
    backtest_id = resp.get_json()["data"]["backtest_id"]
    everything = client.get(f"/api/backtests/{backtest_id}", headers=user.headers).get_json()["data"]
    assert everything["tradesTotal"] == len(everything["trades"]) > 2 * CAP
    monkeypatch.setitem(app.config, "BACKTEST_POLL_TRADES_MAX", CAP)
    return resp.get_json()["data"], everything["trades"]


def test_results_carry_the_first_fills_and_the_total(client, user, completed):
    ids, fills = completed
    poll = client.get(f"/api/backtests/job/{ids['job_id']}", headers=user.headers).get_json()["data"]
    detail = client.get(f"/api/backtests/{ids['backtest_id']}", headers=user.headers).get_json()["data"]
    latest = client.get("/api/backtests/latest", headers=user.headers).get_json()["data"]
    for result in (poll["result"], detail, latest):
        assert result["trades"] == fills[:CAP]
        assert result["tradesTotal"] == len(fills)
        assert len(result["kline"]) == 504 and result["equity"]  # the chart is not capped


def test_a_result_under_the_cap_has_every_fill(app, client, user, completed, monkeypatch):
    ids, fills = completed
    monkeypatch.setitem(app.config, "BACKTEST_POLL_TRADES_MAX", len(fills) + 1)
    detail = client.get(f"/api/backtests/{ids['backtest_id']}", headers=user.headers).get_json()["data"]
    assert (detail["trades"], detail["tradesTotal"]) == (fills, len(fills))


@pytest.mark.parametrize("page_size", [1, 2, 3, 7])
def test_pages_hold_every_fill_once_in_order(client, user, completed, page_size):
    ids, fills = completed
    seen, page = [], 1
    while True:
        resp = client.get(
            f"/api/backtests/{ids['backtest_id']}/trades?page={page}&page_size={page_size}",
            headers=user.headers,
        )
        assert resp.status_code == 200
        assert json.loads(resp.headers["X-Pagination"])["total"] == len(fills)
        items = resp.get_json()["data"]
        if not items:
            break
        assert len(items) <= page_size
        seen += items
        page += 1
    assert seen == fills
    assert page - 1 == -(-len(fills) // page_size)


def test_the_default_page_is_100_fills(client, user, completed):
    ids, fills = completed
    resp = client.get(f"/api/backtests/{ids['backtest_id']}/trades", headers=user.headers)
    assert resp.get_json()["data"] == fills[:100]


def test_trades_of_others_and_unknown_ids_are_404(client, user, other_user, completed):
    ids, _ = completed
    error(
        client.get(f"/api/backtests/{ids['backtest_id']}/trades", headers=other_user.headers),
        404,
        "not_found",
    )
    for unknown in ("00000000-0000-0000-0000-000000000000", "not-an-id", "%00"):
        error(client.get(f"/api/backtests/{unknown}/trades", headers=user.headers), 404, "not_found")
    error(client.get(f"/api/backtests/{ids['backtest_id']}/trades"), 401, "token_missing")


@pytest.mark.parametrize("query", ["page=0", "page=-1", "page=x", "page_size=0", "page_size=1001"])
def test_a_bad_page_is_422(client, user, completed, query):
    ids, _ = completed
    assert fields(client.get(f"/api/backtests/{ids['backtest_id']}/trades?{query}", headers=user.headers))


@pytest.mark.parametrize("page", [2**28, 2121108829555, 2**62, 2**63 + 5])
def test_a_page_far_beyond_the_fills_is_empty(client, user, completed, page):
    # Schemathesis (2026-11-30): page=2121108829555 was a 500 (the round trip's byte offset overflowed
    # PostgreSQL's integer inside substring()).
    ids, fills = completed
    resp = client.get(f"/api/backtests/{ids['backtest_id']}/trades?page={page}", headers=user.headers)
    assert resp.status_code == 200 and resp.get_json()["data"] == []
    assert json.loads(resp.headers["X-Pagination"])["total"] == len(fills)


def test_a_run_without_a_result_has_no_fills(client, user, run_backtest, monkeypatch):
    hold_jobs(monkeypatch)  # the run stays queued
    ids = run_backtest(user, strategy={"kind": "rsi"}, symbol="BTCUSDT").get_json()["data"]
    resp = client.get(f"/api/backtests/{ids['backtest_id']}/trades", headers=user.headers)
    assert resp.get_json()["data"] == [] and json.loads(resp.headers["X-Pagination"])["total"] == 0


def test_copied_rows_equal_the_engine_records_and_keep_their_ids(client, user, completed):
    ids, fills = completed
    row = db.session.get(Backtest, ids["backtest_id"])
    done = results.compute(row, results.load_bars(row))
    stored = trade_store.round_trips(row.id)
    raw, total = trade_store.read(row.id)
    assert total == len(raw) and raw.tobytes() == done.result.trades.tobytes()  # bit for bit
    trades = done.result.trades
    assert [t.seq for t in stored] == list(range(len(trades)))
    assert [t.side for t in stored] == ["long" if s > 0 else "short" for s in trades["side"]]
    for name in ("entry_index", "exit_index", "entry_time", "exit_time", "holding_ms", "closed_at_end"):
        assert [getattr(t, name) for t in stored] == trades[name].tolist(), name
    for name in ("entry_price", "exit_price", "quantity", "pnl", "fees", "return_pct"):
        np.testing.assert_allclose([float(getattr(t, name)) for t in stored], trades[name], rtol=0, atol=1e-9)
    assert all(t.id == f"{row.id[:24]}{t.seq:012x}" for t in stored)
    # Storing the run again (a requeued job) writes the same ids: the fill ids on the wire are stable.
    results.store(row, done)
    db.session.flush()
    again = client.get(f"/api/backtests/{row.id}/trades?page_size=1000", headers=user.headers).get_json()[
        "data"
    ]
    assert again == fills


def test_the_former_rows_dump_equals_the_schemas():
    """The tests' oracle (`former_rows.py`) is what the schemas dump, value for value."""
    from backend.modules.backtests.read_models import EquityPoint, Fill
    from tests.modules.backtests.former_rows import KlineBar

    bars = [KlineBar(1, 2.5, 3, 1.0, 2, 10, None), KlineBar(2, 2.0, 3.5, 1.5, 3.25, 0.0, "sell")]
    assert [kline_json(b) for b in bars] == KlineBarSchema(many=True).dump(bars)
    points = [EquityPoint(1, 10000), EquityPoint(2, 10001.25)]
    assert [equity_json(p) for p in points] == BacktestEquityPointSchema(many=True).dump(points)
    fills = [
        Fill("a", "BTCUSDT", "buy", Decimal("1.2500000000"), Decimal("0.0100000000"), None, 1),
        Fill("b", "BTCUSDT", "sell", Decimal("2.5000000000"), Decimal("1E-10"), Decimal("-0.0500000000"), 2),
    ]
    dumped = [fill_json(f) for f in fills]
    assert dumped == TradeSchema(many=True).dump(fills)
    assert [[str(v) for v in d.values()] for d in dumped] == [
        [str(v) for v in d.values()] for d in TradeSchema(many=True).dump(fills)
    ]  # the same Decimal exponents: the same digits on the wire


def test_a_row_list_passes_stored_text_through_and_dumps_a_plain_list_by_its_schema():
    from backend.core.jsonprovider import RawJSON
    from backend.modules.backtests.schemas import BacktestDetailSchema
    from tests.modules.backtests.former_rows import KlineBar

    field = BacktestDetailSchema().fields["kline"]
    stored = RawJSON('[{"time":1,"open":2.5,"high":3,"low":1,"close":2,"volume":10}]')
    assert field.serialize("kline", {"kline": stored}) is stored  # the served path: the text as it is
    assert field.serialize("kline", {"kline": None}) is None
    bars = [KlineBar(1, 2.5, 3, 1.0, 2, 10, None), KlineBar(2, 2.0, 3.5, 1.5, 3.25, 0.0, "sell")]
    assert field.serialize("kline", {"kline": bars}) == [kline_json(b) for b in bars]  # as the former path
