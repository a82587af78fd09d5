"""GET /api/backtests/{a}/diff/{b}: inputs side by side, KPI deltas, trades found in only one; and
the run fingerprint every result carries."""

from __future__ import annotations

import pytest

from backend.domain.backtest import ENGINE_VERSION
from backend.extensions import db
from backend.modules.backtests import fingerprint, results, trade_store
from backend.modules.backtests.models import Backtest
from backend.modules.strategies import service as strategies_service
from tests.helpers.api import error, ok


def run(run_backtest, owner, fast=5, slow=20, **body):
    resp = run_backtest(
        owner,
        strategy={"kind": "sma_cross", "params": {"fast": fast, "slow": slow}},
        symbol="BTCUSDT",
        **body,
    )
    assert resp.status_code == 202, resp.get_json()
    return resp.get_json()["data"]["backtest_id"]


def diff(client, owner, a, b):
    return client.get(f"/api/backtests/{a}/diff/{b}", headers=owner.headers)


def trade_keys(backtest_id):
    return [(t.side, t.entry_time, t.exit_time) for t in trade_store.round_trips(backtest_id)]


def test_two_parameter_sets(client, user, run_backtest):
    a, b = run(run_backtest, user, 5, 20), run(run_backtest, user, 10, 30)
    data = ok(diff(client, user, a, b))
    assert (data["a"]["id"], data["b"]["id"]) == (a, b)
    assert data["same"] == {
        "strategyVersion": False,  # inline definitions: their content hashes differ with the params
        "params": False,
        "data": True,
        "engineVersion": True,
        "broker": True,
        "fingerprint": False,
    }
    assert data["params"] == [
        {"name": "fast", "a": 5, "b": 10, "delta": 5.0},
        {"name": "slow", "a": 20, "b": 30, "delta": 10.0},
    ]
    metrics_a = ok(client.get(f"/api/backtests/{a}", headers=user.headers))["metrics"]
    metrics_b = ok(client.get(f"/api/backtests/{b}", headers=user.headers))["metrics"]
    kpis = {k["name"]: k for k in data["kpis"]}
    assert set(kpis) == set(metrics_a) | set(metrics_b)
    total = kpis["totalReturn"]
    assert (total["a"], total["b"]) == (metrics_a["totalReturn"], metrics_b["totalReturn"])
    assert total["delta"] == pytest.approx(metrics_b["totalReturn"] - metrics_a["totalReturn"])
    assert kpis["totalTrades"]["delta"] == metrics_b["totalTrades"] - metrics_a["totalTrades"]

    keys_a, keys_b = trade_keys(a), trade_keys(b)
    lone_a = [k for k in keys_a if k not in set(keys_b)]
    lone_b = [k for k in keys_b if k not in set(keys_a)]
    assert lone_a and lone_b  # different crossings: the test has something to find
    assert data["onlyInATotal"] == len(lone_a) and data["onlyInBTotal"] == len(lone_b)
    shown = [(t["side"], t["entryTime"], t["exitTime"]) for t in data["onlyInA"]]
    assert shown == lone_a[:100]
    assert [(t["side"], t["entryTime"], t["exitTime"]) for t in data["onlyInB"]] == lone_b[:100]
    assert data["commonTrades"] == len(keys_a) - len(lone_a)
    assert set(data["onlyInA"][0]) == {
        "side",
        "entryTime",
        "exitTime",
        "entryPrice",
        "exitPrice",
        "quantity",
        "pnl",
    }


def test_only_the_fee_differs_same_trades_different_kpis(client, user, run_backtest):
    a, b = run(run_backtest, user), run(run_backtest, user, fee_bps=25)
    data = ok(diff(client, user, a, b))
    same = data["same"]
    assert same["params"] and same["data"] and same["strategyVersion"] and same["engineVersion"]
    assert (same["broker"], same["fingerprint"]) == (False, False)  # the fee is part of the fingerprint
    assert (data["a"]["broker"]["feeBps"], data["b"]["broker"]["feeBps"]) == (0, 25)
    assert data["params"] == []
    assert (data["onlyInATotal"], data["onlyInBTotal"], data["onlyInA"]) == (0, 0, [])
    assert data["commonTrades"] == len(trade_keys(a)) > 0
    kpis = {k["name"]: k for k in data["kpis"]}
    assert kpis["totalReturn"]["delta"] < 0  # the fee costs


def test_a_backtest_against_itself(client, user, run_backtest):
    a = run(run_backtest, user)
    data = ok(diff(client, user, a, a))
    assert all(data["same"].values())
    assert all(k["delta"] in (0, None) for k in data["kpis"])
    assert (data["onlyInATotal"], data["onlyInBTotal"]) == (0, 0)


def test_different_data_ranges(client, user, run_backtest):
    from tests.fixtures.backtests import RANGE_END_MS

    a = run(run_backtest, user)
    b = run(run_backtest, user, end=RANGE_END_MS - 48 * 3_600_000)
    data = ok(diff(client, user, a, b))
    assert data["same"]["data"] is False and data["same"]["params"] is True
    assert data["b"]["end"] == data["a"]["end"] - 48 * 3_600_000
    assert data["a"]["barsHash"] != data["b"]["barsHash"]


def test_someone_elses_backtest_is_404_on_either_side(client, user, other_user, run_backtest):
    mine, theirs = run(run_backtest, user), run(run_backtest, other_user)
    error(diff(client, user, mine, theirs), 404, "not_found", "backtests.not_found")
    error(diff(client, user, theirs, mine), 404, "not_found", "backtests.not_found")
    error(diff(client, user, mine, "00000000-0000-0000-0000-000000000000"), 404, "not_found")
    assert client.get(f"/api/backtests/{mine}/diff/{mine}").status_code == 401


# --- the run fingerprint -------------------------------------------------------------------------


def test_every_result_carries_its_fingerprint(app, client, user, run_backtest, make_strategy):
    sid = make_strategy(user, params={"fast": 5, "slow": 20})["id"]
    resp = run_backtest(user, strategy_id=sid)
    ids = resp.get_json()["data"]
    detail = ok(client.get(f"/api/backtests/{ids['backtest_id']}", headers=user.headers))
    poll = ok(client.get(f"/api/backtests/job/{ids['job_id']}", headers=user.headers))
    listed = ok(client.get("/api/backtests", headers=user.headers))
    stamp = detail["fingerprint"]
    assert poll["result"]["fingerprint"] == stamp == listed[0]["fingerprint"]
    row = db.session.get(Backtest, ids["backtest_id"])
    version = strategies_service.version_content_hash(version_id=row.strategy_version_id)
    assert stamp["strategyHash"] == version and len(version) == 64
    assert stamp["barsHash"] == fingerprint.bars_hash(results.load_bars(row))
    assert stamp["params"] == detail["params"] and stamp["engineVersion"] == ENGINE_VERSION
    assert stamp["broker"] == {"initialCapital": 10000, "feeBps": 0, "slippageBps": 0, "allowShort": False}
    assert len(stamp["hash"]) == 64


def test_a_job_reads_its_strategy_version_hash_with_its_row(app, client, user, run_backtest, make_strategy):
    from sqlalchemy import event

    sid = make_strategy(user, params={"fast": 5, "slow": 20})["id"]
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_a) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        ids = run_backtest(user, strategy_id=sid).get_json()["data"]
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    # the claim's read of the backtest row carries it: no SELECT of its own at the store
    assert not [s for s in statements if s.startswith("SELECT strategy_versions.content_hash")]
    row_reads = [s for s in statements if s.startswith("SELECT backtests.id") and "backtests.job_id =" in s]
    assert len(row_reads) == 1 and "strategy_versions.content_hash" in row_reads[0]
    row = db.session.get(Backtest, ids["backtest_id"])
    assert row.strategy_hash == strategies_service.version_content_hash(version_id=row.strategy_version_id)


def test_the_fingerprint_reads_the_version_hash_when_not_given(app, user, run_backtest, make_strategy):
    sid = make_strategy(user, params={"fast": 5, "slow": 20})["id"]
    resp = run_backtest(user, strategy_id=sid)
    row = db.session.get(Backtest, resp.get_json()["data"]["backtest_id"])
    version = strategies_service.version_content_hash(version_id=row.strategy_version_id)
    assert fingerprint.strategy_hash(row) == version == fingerprint.strategy_hash(row, version)
    assert fingerprint.strategy_hash(row, "a" * 64) == "a" * 64  # what the caller read with the row
    row.strategy_version_id = None  # an inline definition: its kind and parameters
    assert fingerprint.strategy_hash(row, None) == strategies_service.content_hash(row.kind, row.params)
    db.session.rollback()


def test_the_bars_hash_covers_every_column():
    from backend.domain.bars import Bars

    bars = Bars.from_arrays([1, 2], [1.0, 2.0], [1.5, 2.5], [0.5, 1.5], [1.2, 2.2], [10.0, 20.0])
    base = fingerprint.bars_hash(bars)
    for name in ("time", "open", "high", "low", "close", "volume"):
        arrays = {n: getattr(bars, n).copy() for n in ("time", "open", "high", "low", "close", "volume")}
        arrays[name][1] += 1
        assert fingerprint.bars_hash(Bars.from_arrays(**arrays)) != base, name
    assert (
        fingerprint.bars_hash(Bars.from_arrays([1, 2], [1, 2], [1.5, 2.5], [0.5, 1.5], [1.2, 2.2], [10, 20]))
        == base
    )


def test_a_result_without_hashes_has_no_fingerprint(client, user, run_backtest):
    a = run(run_backtest, user)
    row = db.session.get(Backtest, a)
    row.bars_hash = None  # as stored before fingerprints existed
    db.session.commit()
    assert ok(client.get(f"/api/backtests/{a}", headers=user.headers))["fingerprint"] is None
    assert ok(diff(client, user, a, a))["same"]["fingerprint"] is None
