"""The chart's wire text (``results.kline_wire``, ``results.equity_wire``) is byte for byte what the
former functions made (kept as the oracle in ``former_wire.py``), with the compiled kernels
(``kernels.kline_marks``, ``kernels.json_records``) and on the numpy path.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from backend.domain.backtest import kernels
from backend.domain.backtest.types import TRADE_DTYPE
from backend.domain.bars import Bars
from backend.modules.backtests import results
from tests.modules.backtests import former_wire

MIN = 60_000
T0 = 1_700_000_000_000


@pytest.fixture(params=["numpy", "kernels"], autouse=True)
def chart_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run each test on the numpy path and on the compiled kernels (when numba is installed)."""
    if request.param == "kernels" and not kernels.AVAILABLE:
        pytest.skip("numba is not installed")
    monkeypatch.setitem(kernels._state, "enabled", request.param == "kernels")
    yield request.param


def _bars(n: int, seed: int, *, odd_volume: bool = True) -> Bars:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    high = close * (1 + rng.random(n) * 0.01)
    low = close * (1 - rng.random(n) * 0.01)
    volume = rng.random(n) * 1000
    if odd_volume:  # negative, signed zeros, huge and tiny: the summation order shows
        pick = rng.integers(0, 6, n)
        volume = np.select(
            [pick == 0, pick == 1, pick == 2, pick == 3],
            [-volume, rng.choice([0.0, -0.0], n), volume * 1e15, volume * 1e-12],
            volume,
        )
    return Bars.from_arrays(T0 + np.arange(n, dtype=np.int64) * MIN, close, high, low, close, volume)


def _trades(n: int, k: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    trades = np.zeros(k, dtype=TRADE_DTYPE)
    entries = np.sort(rng.integers(0, n, k))
    trades["entry_index"] = entries
    trades["exit_index"] = np.minimum(entries + rng.integers(0, 4, k), n - 1)  # some exit on entry
    trades["side"] = rng.choice([-1, 1], k)
    return trades


def _same(bars: Bars, trades: np.ndarray, limit: int) -> str:
    wire = results.kline_wire(bars, trades, limit)
    assert wire == former_wire.kline_wire(bars, trades, limit)
    return wire


# Sizes against limits: fewer bars than the limit (groups of 1), exact multiples, remainders, a
# last group of 1 bar, and groups whose volume sums take each branch of numpy's pairwise sum
# (< 8, 8..128 and > 128 values after the first, one split and several).
@pytest.mark.parametrize(
    ("n", "limit"),
    [
        (2, 2000),
        (3, 2000),
        (1999, 2000),
        (2000, 2000),
        (2001, 2000),
        (4000, 2000),
        (4003, 2000),
        (6001, 3),
        (50, 7),
        (56, 7),
        (57, 7),
        (64, 8),
        (72, 8),
        (73, 8),
        (129 * 3, 3),
        (130 * 3 + 1, 3),
        (137 * 5, 5),
        (1000, 2),
        (5000, 1),
        (2**14 + 5, 2),
        (10_000, 2000),
        (100_003, 2000),
    ],
)
def test_kline_wire_is_the_former_text(n, limit):
    bars = _bars(n, seed=n + limit)
    for k, seed in ((0, 1), (1, 2), (max(1, n // 20), 3), (n, 4)):
        _same(bars, _trades(n, k, seed), limit)


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 8, 9, 100, 2000])
def test_every_group_size_and_remainder(limit):
    for n in range(2, 3 * limit + 20, max(1, limit // 3)):
        _same(_bars(n, seed=n, odd_volume=n % 2 == 0), _trades(n, n // 3, n), limit)


def _trade_rows(rows: list[tuple[int, int, int]]) -> np.ndarray:
    trades = np.zeros(len(rows), dtype=TRADE_DTYPE)
    for i, (entry, exit_, side) in enumerate(rows):
        trades[i]["entry_index"], trades[i]["exit_index"], trades[i]["side"] = entry, exit_, side
    return trades


def test_fills_at_group_borders_and_ties_mark_as_before():
    n, limit = 40, 4  # groups of 10 bars
    bars = _bars(n, seed=5)
    cases = [
        [(0, 9, 1)],  # first and last bar of a group
        [(9, 10, 1), (10, 19, -1)],  # exit and entry on one bar: the opening fill wins
        [(10, 10, -1)],  # entry and exit on the same bar
        [(3, 15, 1), (15, 25, -1), (25, 39, 1)],  # each exit is the next entry
        [(12, 13, 1), (13, 13, -1), (13, 14, 1)],  # two entries and an exit on bar 13
        [(5, 30, 1), (7, 8, -1)],  # trades not in exit order
        [(20, 39, -1), (0, 5, 1)],  # trades not in entry order
        [(39, 39, 1)],  # the last bar
    ]
    for rows in cases:
        wire = _same(bars, _trade_rows(rows), limit)
        assert ("signal" in wire) is bool(rows)


def test_no_trades_and_a_fill_mark_on_every_bar():
    for n, limit in ((25, 2000), (25, 4), (1000, 7)):
        bars = _bars(n, seed=n)
        assert '"signal"' not in _same(bars, np.zeros(0, dtype=TRADE_DTYPE), limit)
        every = _trade_rows([(i, i + 1, 1 if i % 3 else -1) for i in range(n - 1)])
        _same(bars, every, limit)


def test_signed_zero_highs_and_lows_keep_numpys_sign():
    n = 64
    rng = np.random.default_rng(9)
    for limit in (1, 2, 8, 64):
        for seed in range(6):
            zeros = np.random.default_rng(seed).choice([0.0, -0.0, 1.0, -1.0], n)
            bars = Bars.from_arrays(
                T0 + np.arange(n) * MIN, zeros, zeros, zeros[::-1].copy(), zeros, rng.random(n)
            )
            _same(bars, _trades(n, 5, seed), limit)


def _outcome(make):
    try:
        return make()
    except ValueError as exc:
        return f"ValueError: {exc}"


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("column", ["open", "high", "low", "close", "volume"])
def test_a_value_that_is_not_finite_fails_as_before(bad, column):
    bars = _bars(30, seed=1)
    getattr(bars, column)[[16, 17, 23]] = bad  # a group's first, inner and last bar (groups of 8)
    trades = _trades(30, 3, 1)
    new = _outcome(lambda: results.kline_wire(bars, trades, 4))
    assert new == _outcome(lambda: former_wire.kline_wire(bars, trades, 4))
    if np.isnan(bad) or column in ("open", "close", "volume"):  # a high of -inf or a low of +inf passes
        assert new == "ValueError: a chart value is not finite"


def test_real_run_chart_is_the_former_text():
    from backend.domain.backtest import engine, strategies
    from backend.domain.backtest.types import BacktestConfig

    bars = _bars(30_000, seed=11, odd_volume=False)
    signals = strategies.get_strategy("sma_cross").signals(
        bars, strategies.validate_params("sma_cross", {"fast": 5, "slow": 20})
    )
    result = engine.run(bars, signals, BacktestConfig(initial_capital=10_000.0, fee_bps=5.0))
    assert len(result.trades) > 100
    for limit in (2000, 999, 30_000, 40_000):
        _same(bars, result.trades, limit)
        assert results.equity_wire(bars.time, result.equity, limit) == former_wire.equity_wire(
            bars.time, result.equity, limit
        )


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 1999, 2000, 2001, 4001, 100_000])
def test_equity_wire_is_the_former_text(n):
    rng = np.random.default_rng(n)
    time = T0 + np.arange(n, dtype=np.int64) * MIN
    equity = 10_000 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    if n > 8:  # halves at the 8th decimal, huge, tiny, negative, zero: round_8's slow path too
        equity[:8] = [0.123456785, 1e20, 5e-324, -3.5, 0.0, -0.0, 2.5e-9, 123.000000005]
    for limit in (2, 3, 2000):
        assert results.equity_wire(time, equity, limit) == former_wire.equity_wire(time, equity, limit)
        assert results.equity_rows(time, equity, limit) == former_wire.equity_rows(time, equity, limit)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_an_equity_value_that_is_not_finite_fails_as_before(bad):
    time = T0 + np.arange(10, dtype=np.int64) * MIN
    equity = np.linspace(1.0, 2.0, 10)
    equity[4] = bad
    with pytest.raises(ValueError, match="equity value is not finite"):
        former_wire.equity_wire(time, equity, 20)
    with pytest.raises(ValueError, match="equity value is not finite"):
        results.equity_wire(time, equity, 20)


def test_distinct_is_np_unique():
    rng = np.random.default_rng(3)
    for n in (2, 3, 10, 1000):
        for values in (
            np.sort(rng.integers(0, n, n)),
            rng.integers(0, n, n),
            np.arange(n),
            np.zeros(n, np.int64),
        ):
            assert np.array_equal(results._distinct(values), np.unique(values))
