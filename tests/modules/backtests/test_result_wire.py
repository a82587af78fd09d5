"""A result's kline and equity curve are stored as the API sends them (json text, ADR 0012) and
served as they were stored: the same JSON values the former path (jsonb rows -> KlineBar /
EquityPoint -> kline_json / equity_json, kept as the oracle in `former_rows.py`) produced;
migration 0032 converts stored results both ways.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import text

from backend.core.jsonprovider import RawJSON
from backend.domain.backtest.types import TRADE_DTYPE
from backend.domain.bars import Bars
from backend.extensions import db
from backend.modules.backtests import results
from backend.modules.backtests.models import Backtest
from backend.modules.backtests.read_models import EquityPoint, equity_of
from backend.modules.backtests.schemas import BacktestEquityPointSchema, KlineBarSchema
from tests.fixtures.backtests import RANGE_START_MS
from tests.helpers.api import error
from tests.helpers.migrations import load_migration
from tests.modules.backtests.former_rows import KlineBar, equity_json, kline_json, kline_of, kline_rows

MIN = 60_000


def _old_kline(rows: list[list]) -> list[dict]:
    """What the former read path sent for stored kline rows."""
    return [kline_json(KlineBar(*row)) for row in rows]


def _old_equity(rows: list[list]) -> list[dict]:
    return [equity_json(EquityPoint(t, v)) for t, v in rows]


def _same_numbers(a, b) -> bool:
    """Equal JSON values, floats bit for bit (``0.0 == -0.0`` aside) and ints as ints."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same_numbers(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_same_numbers, a, b))
    if isinstance(a, float):
        return isinstance(b, float) and (a == b or (math.isnan(a) and math.isnan(b)))
    return type(a) is type(b) and a == b


def _bars(n: int, seed: int, *, odd: bool = True) -> Bars:
    rng = np.random.default_rng(seed)
    t = RANGE_START_MS + np.arange(n, dtype=np.int64) * MIN
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    if odd:  # tiny, huge, subnormal, whole: each float's text must read back as the same float
        values = np.array([1e-7, 1e20, 0.1 + 0.2, 5e-324, 1.5e300, 12.0, 3.0, 1.5e-5])
        close[: len(values)] = values[:n]
    return Bars.from_arrays(t, close, close * 1.01, close * 0.99, close, rng.random(n) * 1000)


def _trades(n: int, k: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    trades = np.zeros(k, dtype=TRADE_DTYPE)
    entries = np.sort(rng.integers(0, n, k))
    trades["entry_index"] = entries
    trades["exit_index"] = np.minimum(entries + rng.integers(0, 50, k), n - 1)
    trades["side"] = rng.choice([-1, 1], k)
    return trades


def _keys(objects: list[dict]) -> list[list[str]]:
    return [list(o) for o in objects]


@pytest.mark.parametrize(
    ("n", "k", "limit"),
    [(8, 0, 100), (8, 3, 100), (5_000, 0, 2_000), (100_000, 1_000, 2_000), (100_000, 200, 7)],
)
def test_the_stored_text_is_what_the_former_path_sent(n, k, limit):
    bars, trades = _bars(n, n + k), _trades(n, k, k)
    wire = results.kline_wire(bars, trades, limit)
    rows = kline_rows(bars, trades, limit)
    expected = _old_kline(rows)
    assert _same_numbers(json.loads(wire), expected)  # every float bit for bit, ints as ints
    assert _keys(json.loads(wire)) == _keys(expected)  # in the schema's order
    assert expected == KlineBarSchema(many=True).dump([KlineBar(*r) for r in rows])
    assert (k > 0) == any("signal" in c for c in expected)  # omitted on bars without a fill
    assert kline_of(wire) == [KlineBar(*r) for r in rows]
    plain = _bars(n, n + k, odd=False)  # no number that Python writes with an exponent:
    expected = _old_kline(kline_rows(plain, trades, limit))  # byte for byte json.dumps'
    assert results.kline_wire(plain, trades, limit) == json.dumps(expected, separators=(",", ":"))

    equity = np.cumsum(np.random.default_rng(k).normal(0, 10, n)) + 10_000.0
    curve = results.equity_wire(bars.time, equity, limit)
    rows = results.equity_rows(bars.time, equity, limit)
    assert _same_numbers(json.loads(curve), _old_equity(rows))
    assert _old_equity(rows) == BacktestEquityPointSchema(many=True).dump([EquityPoint(*r) for r in rows])
    assert curve == json.dumps(_old_equity(rows), separators=(",", ":"))
    assert equity_of(curve) == [EquityPoint(*r) for r in rows]


def test_numbers_read_back_as_the_same_floats():
    import random
    import struct

    rnd = random.Random(3)
    values = [0.0, -0.0, 12.0, 1e16, 1e-7, 5e-324, 1.7976931348623157e308, 0.1 + 0.2, 2.0**63]
    while len(values) < 50_000:
        value = struct.unpack("d", struct.pack("Q", rnd.getrandbits(64)))[0]
        if math.isfinite(value):
            values.append(value)
    texts = results._numbers(np.array(values))
    assert [float(t) for t in texts] == values
    assert [math.copysign(1, float(t)) for t in texts] == [math.copysign(1, v) for v in values]
    # Python's repr where that has no exponent (orjson writes some of those in another form)
    assert all(t == repr(v) for t, v in zip(texts, values, strict=True) if "e" not in repr(v))
    assert results._numbers([1_700_000_000_000, 0, -5]) == ["1700000000000", "0", "-5"]
    assert results._numbers(np.array([], dtype=np.float64)) == []


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_non_finite_chart_value_fails_the_store(bad):
    bars = _bars(8, 1)
    bars.close[3] = bad
    with pytest.raises(ValueError, match="not finite"):
        results.kline_wire(bars, _trades(8, 0, 0), 100)
    with pytest.raises(ValueError, match="not finite"):
        results.equity_wire(bars.time, np.array([1.0, bad, 2.0]), 10)


def test_an_empty_curve_is_an_empty_list():
    assert results.equity_wire(np.empty(0, np.int64), np.empty(0), 10) == "[]"
    assert equity_of(None) == [] and kline_of(None) == []


def test_raw_json_is_spliced_into_the_response_as_it_is(app):
    raw = RawJSON('[{"time":1,"value":0.30000000000000004}]')
    with app.app_context():
        out = app.json.dumps({"a": raw, "b": [raw, {"c": RawJSON("[]")}], "é": "€"}, separators=(",", ":"))
        assert out == (
            '{"a":[{"time":1,"value":0.30000000000000004}],"b":[[{"time":1,"value":0.30000000000000004}],'
            '{"c":[]}],"é":"€"}'
        )
        assert app.json.dumps({"a": RawJSON("1")}, ensure_ascii=True) == '{"a": 1}'
    with pytest.raises(TypeError):
        json.dumps(raw)  # only the app's provider writes it


# --- served through the API ----------------------------------------------------------------------


def _expected(row: Backtest, app) -> tuple[list[dict], list[dict]]:
    """The kline and curve the former path served for this row (rows as it stored them)."""
    done = results.compute(row, results.load_bars(row))
    kline = kline_rows(done.bars, done.result.trades, int(app.config["BACKTEST_KLINE_MAX"]))
    curve = results.equity_rows(done.bars.time, done.result.equity, int(app.config["BACKTEST_CURVE_MAX"]))
    return _old_kline(kline), _old_equity(curve)


def _served(client, user, ids: dict) -> list[dict]:
    poll = client.get(f"/api/backtests/job/{ids['job_id']}", headers=user.headers)
    detail = client.get(f"/api/backtests/{ids['backtest_id']}", headers=user.headers)
    latest = client.get("/api/backtests/latest", headers=user.headers)
    assert poll.status_code == detail.status_code == latest.status_code == 200
    assert latest.get_json()["data"]["backtestId"] == ids["backtest_id"]
    return [poll.get_json()["data"]["result"], detail.get_json()["data"], latest.get_json()["data"]]


@pytest.mark.parametrize(
    ("params", "bars", "trades"),
    [
        ({"fast": 5, "slow": 20}, 5_000, True),  # aggregated candles (5,000 bars > 2,000), with fills
        ({"fast": 10, "slow": 400}, 300, False),  # no signal at all: no fills, no marks
    ],
)
def test_the_served_chart_is_the_former_one(app, client, user, run_backtest, params, bars, trades):
    resp = run_backtest(
        user,
        strategy={"kind": "sma_cross", "params": params},
        symbol="BTCUSDT",
        interval="1m",
        start=RANGE_START_MS,
        end=RANGE_START_MS + bars * MIN,
    )
    ids = resp.get_json()["data"]
    kline, curve = _expected(db.session.get(Backtest, ids["backtest_id"]), app)
    assert len(kline) == -(-bars // -(-bars // 2_000)) and len(curve) == min(bars, 2_000)
    assert trades == any("signal" in c for c in kline)
    for result in _served(client, user, ids):
        assert _same_numbers(result["kline"], kline)
        assert _same_numbers(result["equity"], curve)
        assert (result["tradesTotal"] > 0) == trades and (result["trades"] != []) == trades


def test_a_result_without_metrics_or_chart_is_served_empty(client, user, run_backtest):
    ids = run_backtest(user, strategy={"kind": "sma_cross"}, symbol="BTCUSDT").get_json()["data"]
    row = db.session.get(Backtest, ids["backtest_id"])
    row.metrics, row.kline, row.equity_curve = None, None, None  # as a result stored before them
    db.session.flush()
    for result in _served(client, user, ids):
        assert result["kline"] == [] and result["equity"] == []
        assert result["summary"] is None and result["metrics"] is None


def test_another_users_result_is_404_and_no_token_is_401(client, user, other_user, run_backtest):
    ids = run_backtest(user, strategy={"kind": "sma_cross"}, symbol="BTCUSDT").get_json()["data"]
    for path in (f"/api/backtests/job/{ids['job_id']}", f"/api/backtests/{ids['backtest_id']}"):
        assert error(client.get(path, headers=other_user.headers), 404)
        assert error(client.get(path), 401)


# --- migration 0032 ------------------------------------------------------------------------------


def _migration():
    return load_migration("0032_resultio_result_wire_json")


def test_the_migration_converts_stored_results_both_ways(app, client, user, run_backtest):
    ids = run_backtest(
        user,
        strategy={"kind": "sma_cross", "params": {"fast": 5, "slow": 20}},
        symbol="BTCUSDT",
        interval="1m",
        start=RANGE_START_MS,
        end=RANGE_START_MS + 3_000 * MIN,
    ).get_json()["data"]
    empty = run_backtest(user, strategy={"kind": "sma_cross"}, symbol="BTCUSDT").get_json()["data"]
    cleared = db.session.get(Backtest, empty["backtest_id"])
    cleared.kline, cleared.equity_curve = "[]", None
    db.session.flush()
    before = client.get(f"/api/backtests/job/{ids['job_id']}", headers=user.headers).get_json()["data"]
    row = db.session.get(Backtest, ids["backtest_id"])
    done = results.compute(row, results.load_bars(row))
    old_rows = kline_rows(done.bars, done.result.trades, int(app.config["BACKTEST_KLINE_MAX"]))
    curve_rows = results.equity_rows(
        done.bars.time, done.result.equity, int(app.config["BACKTEST_CURVE_MAX"])
    )
    migration = _migration()
    conn = db.session.connection()
    stored = text(
        "SELECT kline::text, equity_curve::text, pg_typeof(kline)::text FROM backtests WHERE id = :id"
    )
    with Operations.context(MigrationContext.configure(connection=conn)):
        migration.downgrade()  # wire -> rows (the former jsonb)
        k, e, kind = conn.execute(stored, {"id": ids["backtest_id"]}).one()
        assert kind == "jsonb"
        assert _same_numbers(json.loads(k), old_rows) and _same_numbers(json.loads(e), curve_rows)
        k, e, _ = conn.execute(stored, {"id": empty["backtest_id"]}).one()
        assert (k, e) == ("[]", None)
        migration.upgrade()  # rows -> wire
        k, e, kind = conn.execute(stored, {"id": ids["backtest_id"]}).one()
        assert kind == "json" and "signal" in k
        assert _same_numbers(json.loads(k), _old_kline(old_rows))
        assert _same_numbers(json.loads(e), _old_equity(curve_rows))
        k, e, _ = conn.execute(stored, {"id": empty["backtest_id"]}).one()
        assert (k, e) == ("[]", None)
    db.session.expire_all()
    after = client.get(f"/api/backtests/job/{ids['job_id']}", headers=user.headers).get_json()["data"]
    assert _same_numbers(after, before)


# --- the first fills ------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [None, 0, 1, 7, 8, 500])
def test_the_fills_text_is_what_the_former_path_sent(app, limit):
    from backend.modules.backtests import trade_store
    from backend.modules.backtests.read_models import fill_ids, fills_of, fills_wire
    from tests.modules.backtests.former_rows import fill_json

    rng = np.random.default_rng(7)
    k = 300
    trades = np.zeros(k, dtype=TRADE_DTYPE)
    odd = [100.0, 0.0, -0.0, 1e-11, 5e-11, 0.00000000005, 1.5e-10, 1e15, 2.0**53 + 2, -3.0, 0.1 + 0.2]
    for name in ("entry_price", "exit_price", "quantity", "pnl"):
        trades[name] = rng.normal(0, 1000, k) * rng.choice([1e-6, 1.0, 1e3], k)
        trades[name][: len(odd)] = rng.permutation(odd)
    trades["side"] = rng.choice([-1, 1], k)
    trades["entry_time"] = RANGE_START_MS + np.arange(k) * MIN
    trades["exit_time"] = trades["entry_time"] + MIN
    backtest_id = "0b6f1c1e-7d8a-4b7e-9c55-3e2f1a0d9b88"
    fills = fills_of(trade_store.stored_trades(backtest_id, trades), "BTC-€")
    assert fill_ids(backtest_id, 0, k) == [f.id for f in fills]
    expected = [fill_json(f) for f in fills][:limit]
    with app.app_context():  # byte for byte what the provider wrote for the Fill dicts (Decimal money)
        assert fills_wire(backtest_id, trades, "BTC-€", limit) == app.json.dumps(
            expected, separators=(",", ":")
        )


def _same_floats(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(
        (x == y and math.copysign(1.0, x) == math.copysign(1.0, y)) or (x != x and y != y)
        for x, y in zip(a, b, strict=True)
    )


def test_round_8_is_round_to_8_places_bit_for_bit():
    # The curve's values are round(v, 8); round_8 makes most of them with whole-array operations
    # and sends those near a half, the huge and the non-finite ones through round() itself.
    rng = np.random.default_rng(8)
    halves = rng.integers(-(10**12), 10**12, 20_000) / 1e9 + 5e-9  # on or next to a half
    cases = [
        rng.normal(1e5, 1e4, 20_000),  # an equity curve
        rng.uniform(-1.0, 1.0, 20_000),
        halves,
        np.round(rng.uniform(0.0, 1e4, 20_000), 9),
        rng.uniform(-1e9, 1e9, 20_000),  # beyond 2**52 once scaled: round() itself
        np.array([0.0, -0.0, 1e-9, -1e-9, 5e-9, 1.5e-8, 2.5e-8, 4.5e7, 123456.123456785, 1e300]),
        np.array([np.inf, -np.inf, np.nan, 1.0]),
        np.array([]),
    ]
    for values in cases:
        assert _same_floats(results.round_8(values), [round(v, 8) for v in values.tolist()])
