"""The kernel path and the numpy path give identical signals, trades and per-bar arrays (bit for
bit) and the same metrics (to 1e-9 relative; the kernels sum in a different order in two places).

Runs on both the compiled kernels (numba installed) and their plain-Python form (not installed).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from backend.domain.backtest import engine, kernels, metrics
from backend.domain.backtest import strategies as st
from backend.domain.backtest.types import BacktestConfig, Signals
from backend.domain.bars import Bars
from tests.domain.backtest.test_engine_golden import BARS, sig
from tests.helpers.bars import random_bars

CONFIGS = [
    BacktestConfig(),
    BacktestConfig(fee_bps=7, slippage_bps=3),
    BacktestConfig(fee_bps=5, allow_short=True),
    BacktestConfig(sizing="fixed_fraction", fraction=0.3, slippage_bps=10, allow_short=True),
    BacktestConfig(lot_size=1, fee_bps=10, allow_short=True),
]


def _both(fn):
    """Return (numpy result, kernel result) of ``fn()``."""
    previous = kernels._state["enabled"]
    try:
        kernels._state["enabled"] = False
        reference = fn()
        kernels._state["enabled"] = True
        return reference, fn()
    finally:
        kernels._state["enabled"] = previous


def _assert_same_run(bars: Bars, signals_fn, config: BacktestConfig, periods_per_year: float = 525_600):
    def pipeline():
        signals = signals_fn()
        result = engine.run(bars, signals, config)
        return signals, result, metrics.compute_metrics(result, bars, periods_per_year)

    (sig_a, res_a, met_a), (sig_b, res_b, met_b) = _both(pipeline)
    for name in ("entries", "exits", "short_entries", "short_exits"):
        np.testing.assert_array_equal(getattr(sig_a, name), getattr(sig_b, name))
    for name in ("equity", "cash", "position", "target"):
        assert getattr(res_a, name).tobytes() == getattr(res_b, name).tobytes(), name
    assert res_a.trades.tobytes() == res_b.trades.tobytes()
    assert list(met_a) == list(met_b)
    for key, a in met_a.items():
        b = met_b[key]
        assert (a is None) == (b is None), key
        if a is not None:
            assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), (key, a, b)
    return res_a


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize(
    "signals",
    [
        sig(entries=[0], exits=[2]),
        sig(entries=[0, 1, 3], exits=[2, 4]),
        sig(entries=[1], short_entries=[3], exits=[3], short_exits=[5]),
        sig(entries=[0, 2], short_entries=[2, 3]),
        sig(entries=[4]),
        sig(),
    ],
)
def test_golden_candles_same_on_both_paths(config, signals):
    _assert_same_run(BARS, lambda: signals, config)


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize(
    "kind,params",
    [
        ("sma_cross", {"fast": 10, "slow": 30}),
        ("sma_cross", {"fast": 3, "slow": 4}),
        ("sma_cross", {"fast": 7, "slow": 300}),
        ("sma_cross", {"fast": 1, "slow": 2}),
        ("rsi", {"period": 14, "lower": 30.0, "upper": 70.0}),
    ],
)
@pytest.mark.parametrize("seed", [1, 2])
def test_random_series_same_on_both_paths(config, kind, params, seed):
    bars = random_bars(6000, seed=seed)
    result = _assert_same_run(bars, lambda: st.get_strategy(kind).signals(bars, params), config)
    assert kind == "rsi" or len(result.trades) > 5


@pytest.mark.parametrize("n", [0, 1, 2, 5, 29, 30, 31, 4095, 4096, 4127, 9000])
def test_short_and_block_edge_lengths(n):
    bars = random_bars(n, seed=n) if n else Bars.empty()
    _assert_same_run(
        bars, lambda: st.get_strategy("sma_cross").signals(bars, {"fast": 10, "slow": 30}), CONFIGS[2]
    )


def test_leading_nan_closes_shift_the_first_cross_alike():
    bars = random_bars(500, seed=4)
    close = bars.close.copy()
    close[:37] = np.nan
    gapped = Bars(bars.time, bars.open, bars.high, bars.low, close, bars.volume)
    (a, b) = _both(lambda: st.get_strategy("sma_cross").signals(gapped, {"fast": 5, "slow": 12}))
    np.testing.assert_array_equal(a.entries, b.entries)
    np.testing.assert_array_equal(a.exits, b.exits)
    assert not a.entries[: 37 + 12].any() and a.entries.any()


def test_equity_through_zero_gives_the_same_undefined_metrics():
    # A curve that hits 0 and goes negative: returns become inf/nan; both paths must map them alike.
    bars = random_bars(50, seed=3)
    equity = np.linspace(1000.0, -50.0, 50)
    equity[20] = np.nan
    result = engine.BacktestResult(
        equity=equity,
        cash=equity,
        position=np.ones(50),
        target=np.ones(50, np.int8),
        trades=np.zeros(0, dtype=engine.TRADE_DTYPE),
        config=BacktestConfig(initial_capital=1000.0),
    )
    a, b = _both(lambda: metrics.compute_metrics(result, bars, 365))
    assert a == b
    assert a["maxDrawdown"] is None and a["sharpeRatio"] is None


def test_pairwise_sum_of_returns_matches_numpy_sum_bit_for_bit():
    # The kernel makes each return (and centred square) as it adds it: no n-long array, same sums.
    rng = np.random.default_rng(0)
    for n in [1, 7, 8, 9, 127, 128, 129, 1000, 4097, 100_003]:
        equity = 1000.0 * np.cumprod(1.0 + rng.normal(size=n) * 0.01)
        returns = metrics.bar_returns(equity, 1000.0)
        mean = float(returns.sum()) / n
        centred = returns - mean
        assert kernels.pairwise_sum(equity, 1000.0, 0.0, False) == returns.sum()
        assert kernels.pairwise_sum(equity, 1000.0, mean, True) == (centred * centred).sum()


def test_pairwise_range_of_each_power_matches_numpy_sum_of_the_slice_bit_for_bit():
    # Any stretch of the curve, any power of the centred returns: numpy's sum of that slice.
    rng = np.random.default_rng(3)
    n = 20_011
    equity = 1000.0 * np.cumprod(1.0 + rng.standard_t(3, n) * 0.01)
    returns = metrics.bar_returns(equity, 1000.0)
    mean = float(returns.sum()) / n
    c = returns - mean
    q = c * c
    values = {1: returns, 2: q, 3: q * c, 4: q * q}
    for lo, count in [(0, n), (0, 1), (5, 7), (1, 128), (3, 129), (9_000, 8_192), (n - 300, 300)]:
        for power, array in values.items():
            got = kernels.pairwise_range(equity, 1000.0, mean, power, lo, count)
            assert got == array[lo : lo + count].sum(), (lo, count, power)


def test_moment_sums_are_the_chunked_sums_of_the_numpy_path_bit_for_bit():
    from backend.domain.backtest import guardrails

    rng = np.random.default_rng(4)
    for n in [3, 100, 65_535, 65_536, 65_537, 200_003]:
        equity = 1000.0 * np.cumprod(1.0 + rng.standard_t(3, n) * 0.01)
        returns = metrics.bar_returns(equity, 1000.0)
        mean = float(returns.sum()) / n
        got = kernels.moment_sums(equity, 1000.0, mean, guardrails._MOMENT_CHUNK)
        assert tuple(got.tolist()) == guardrails._third_and_fourth(returns - mean), n


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shared_return_sums_give_the_same_metrics_and_guardrails_bit_for_bit(seed):
    # results.compute computes the curve's return sums once for the metrics and the guardrails
    from backend.domain.backtest import guardrails

    if not kernels.AVAILABLE:
        pytest.skip("numba is not installed")
    previous = kernels.use_jit(True)  # the shared sums are the compiled path's (the default in a worker)
    try:
        _check_shared_sums(guardrails, seed)
    finally:
        kernels.use_jit(previous)


def _check_shared_sums(guardrails, seed):
    bars = random_bars(20_000 + 4_097 * seed, seed=seed)
    result = engine.run(bars, st.get_strategy("sma_cross").signals(bars, {"fast": 5, "slow": 20}), CONFIGS[1])
    sums = metrics.return_sums(result)
    assert sums is not None
    equity = result.equity
    assert sums.tolist() == [
        kernels.pairwise_sum(equity, 10_000.0, 0.0, False),
        kernels.pairwise_sum(equity, 10_000.0, float(sums[0]) / len(equity), True),
    ]
    alone = metrics.compute_metrics(result, bars, 525_600)
    assert repr(metrics.compute_metrics(result, bars, 525_600, sums=sums)) == repr(alone)
    own = guardrails.result_guardrails(result, 525_600)
    assert repr(guardrails.result_guardrails(result, 525_600, sums=sums)) == repr(own)
    # or handed over after the bootstrap (a job's thread), or not at all (None): computed again
    assert repr(guardrails.result_guardrails(result, 525_600, sums=lambda: sums)) == repr(own)
    assert repr(guardrails.result_guardrails(result, 525_600, sums=lambda: None)) == repr(own)
    assert own.moments is not None and own.bootstrap is not None
    kernels._state["enabled"] = False
    try:
        assert metrics.return_sums(result) is None  # the numpy path computes its own
    finally:
        kernels._state["enabled"] = True


def test_use_jit_switch_reports_and_restores(monkeypatch):
    monkeypatch.setitem(kernels._state, "enabled", kernels.AVAILABLE)
    previous = kernels.use_jit(False)
    assert previous == kernels.AVAILABLE and not kernels.active()
    kernels.use_jit(True)
    assert kernels.active() == kernels.AVAILABLE  # never on without numba
    kernels.warm_up()  # compiles (or loads) every kernel; a no-op without numba


def test_signals_with_short_arrays_missing_are_treated_as_false():
    n = 6
    only_long = Signals(np.array([1, 0, 0, 0, 0, 0], bool), np.array([0, 0, 1, 0, 0, 0], bool))
    a, b = _both(lambda: engine.target_position(only_long, allow_short=True))
    assert a.tobytes() == b.tobytes()
    assert list(a) == [1, 1, 0, 0, 0, 0][:n]


def _stream(raw: np.ndarray) -> np.ndarray:
    """Return the 32-bit stream numpy's bounded draws consume from 64-bit outputs (low half first)."""
    return np.stack([raw & 0xFFFFFFFF, raw >> 32], axis=1).ravel()


# 2**32 % bound is the rejection threshold: 3 * 2**29 + 1 rejects a quarter of the values, 2**31 - 1
# (the largest int32 bound) one in two billion, 19_584 a 1M-bar run's trades.
@pytest.mark.parametrize("bound", [2, 3, 7, 19_584, 3 * 2**29 + 1, 2**31 - 1])
def test_bootstrap_draws_are_numpys_bounded_integers(bound):
    raw = np.random.default_rng(5).bit_generator.random_raw(3000)
    want = np.random.default_rng(5).integers(0, bound, size=4000)  # the same generator state
    out = np.zeros(4000, dtype=np.uint32)
    filled, pos = kernels.bootstrap_draws(raw, 0, bound, out, 0)
    assert pos == 6000 or filled == 4000  # stops when the raw words or the output run out
    assert filled >= 4000 * 3 // 4 and np.array_equal(out[:filled], want[:filled])
    # Continued in pieces (an odd start, a raw buffer that runs out mid-way): the same values.
    pieces = np.zeros(4000, dtype=np.uint32)
    got, at = kernels.bootstrap_draws(raw[:11], 0, bound, pieces[:5], 0)  # 5 values, then stop
    got, at = kernels.bootstrap_draws(raw[:11], at, bound, pieces, got)  # to the end of word 10
    assert at == 22
    got, at = kernels.bootstrap_draws(raw[11:], 0, bound, pieces, got)
    assert got == filled and np.array_equal(pieces[:got], out[:filled])


def test_bootstrap_draws_skip_exactly_the_rejected_values():
    bound = 3 * 2**29 + 1
    raw = np.random.default_rng(9).bit_generator.random_raw(500)
    product = _stream(raw) * np.uint64(bound)
    kept = (product >> np.uint64(32))[(product & np.uint64(0xFFFFFFFF)) >= np.uint64(2**32 % bound)]
    assert 0 < len(kept) < 1000
    for first in (0, 1, 2, 3):
        out = np.zeros(1000, dtype=np.uint32)
        filled, pos = kernels.bootstrap_draws(raw, first, bound, out, 0)
        assert pos == 1000
        skipped = (product[:first] & np.uint64(0xFFFFFFFF)) >= np.uint64(2**32 % bound)
        assert np.array_equal(out[:filled], kept[int(skipped.sum()) :])


@pytest.mark.parametrize("seed", [0, 5, 20240607, 2**100 + 3])
def test_pcg64_words_are_numpys_pcg64_stream(seed):
    # kernels.pcg64_words steps PCG64_LANES states side by side; the words and their order are
    # random_raw's, and a second call continues the stream where the first stopped.
    from backend.domain.backtest import guardrails

    found = guardrails._pcg64_lanes(np.random.PCG64(seed))
    assert found is not None
    lanes, step = found
    want = np.random.PCG64(seed).random_raw(212)
    out = np.zeros(212, dtype=np.uint64)
    with np.errstate(over="ignore"):  # the plain-Python form wraps numpy scalars (as the compiled one)
        kernels.pcg64_words(lanes, step, out[:200])
        kernels.pcg64_words(lanes, step, out[200:])
    assert out.tobytes() == want.tobytes()


def test_bootstrap_run_refuses_buffers_that_do_not_fit():
    lanes, step = np.ones(2 * kernels.PCG64_LANES, dtype=np.uint64), np.ones(4, dtype=np.uint64)
    log_growth, total, worst = np.zeros(3), np.empty(2), np.empty(2)
    with pytest.raises(ValueError):  # rows of 4 draws for 3 trades: would never fill
        kernels.bootstrap_run(
            lanes, step, log_growth, np.zeros((2, 4), np.uint32), np.empty(4, np.uint64), total, worst
        )
    with pytest.raises(ValueError):  # raw words not a multiple of the lanes
        kernels.bootstrap_run(
            lanes, step, log_growth, np.zeros((2, 3), np.uint32), np.empty(3, np.uint64), total, worst
        )


@pytest.mark.parametrize("rows", [1, 3, 4, 5, 9])
def test_bootstrap_paths_rows_together_equal_one_row_at_a_time(rows):
    rng = np.random.default_rng(rows)
    log_growth = np.log1p(rng.normal(0.001, 0.03, 50))
    draws = rng.integers(0, 50, size=(rows, 77)).astype(np.uint32)
    total, worst = np.empty(rows), np.empty(rows)
    kernels.bootstrap_paths(log_growth, draws, total, worst)
    path = np.cumsum(log_growth[draws], axis=1)
    assert total.tobytes() == path[:, -1].tobytes()
    peak = np.maximum.accumulate(np.maximum(path, 0.0), axis=1)
    assert worst.tobytes() == np.min(path - peak, axis=1).tobytes()


def test_position_and_cash_are_built_when_read_and_held_bars_counts_the_same(engine_path):
    bars = random_bars(3_000, seed=11)
    signals = st.get_strategy("sma_cross").signals(bars, {"fast": 5, "slow": 20})
    for config in (BacktestConfig(fee_bps=5), BacktestConfig(allow_short=True, lot_size=1)):
        result = engine.run(bars, signals, config)
        lazy = engine_path == "kernels"
        assert callable(result._position) == lazy  # a job never reads it: never built
        held = result.held_bars  # counted from the segments, without the array
        assert callable(result._position) == lazy
        assert held == np.count_nonzero(result.position) > 0
        reference = _both(lambda c=config: engine.run(bars, signals, c))[0]
        assert result.position.tobytes() == reference.position.tobytes()
        assert result.cash.tobytes() == reference.cash.tobytes()
