"""Guardrails on hand-worked examples: PSR, DSR (the paper's own example), bootstrap, in/out gap."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest

from backend.domain.backtest import engine, kernels
from backend.domain.backtest import guardrails as g
from backend.domain.backtest.metrics import bar_returns
from backend.domain.backtest.types import BacktestConfig, Signals
from backend.domain.bars import Bars

PHI = NormalDist().cdf


def test_moments_and_psr_of_a_symmetric_sample():
    # r = 1 %, 3 %, -1 %, 1 %: mean 1 %, deviations 0, +2 %, -2 %, 0
    # m2 = (4e-4 + 4e-4) / 4 = 2e-4, m3 = 0, m4 = 2 * 1.6e-7 / 4 = 8e-8 -> skew 0, kurtosis 8e-8 / 4e-8 = 2
    # std (ddof=1) = sqrt(8e-4 / 3), SR = 0.01 / std = sqrt(3 / 8)
    m = g.return_moments(np.array([0.01, 0.03, -0.01, 0.01]))
    assert m is not None
    assert m.observations == 4
    assert m.sharpe == pytest.approx(math.sqrt(3 / 8))
    assert m.skewness == pytest.approx(0.0, abs=1e-12)
    assert m.kurtosis == pytest.approx(2.0)
    # variance term 1 - 0 + (2 - 1) / 4 * 3 / 8 = 35 / 32; z = sqrt(3/8) sqrt(3) / sqrt(35/32) = sqrt(36/35)
    assert g.probabilistic_sharpe(m) == pytest.approx(PHI(math.sqrt(36 / 35)))
    assert g.probabilistic_sharpe(m) == pytest.approx(0.8448, abs=1e-4)
    # against a benchmark of 0.1 per bar the numerator shrinks to sqrt(3/8) - 0.1
    z = (math.sqrt(3 / 8) - 0.1) * math.sqrt(3) / math.sqrt(35 / 32)
    assert g.probabilistic_sharpe(m, 0.1) == pytest.approx(PHI(z))


def test_psr_of_a_skewed_sample():
    # r = 0, 0, 3 %: mean 1 %, deviations -1 %, -1 %, +2 %
    # m2 = 6e-4 / 3 = 2e-4, m3 = (-1 - 1 + 8)e-6 / 3 = 2e-6, m4 = (1 + 1 + 16)e-8 / 3 = 6e-8
    # skew = 2e-6 / (2e-4)^1.5 = 1 / sqrt(2), kurtosis = 6e-8 / 4e-8 = 1.5,
    # SR = 0.01 / sqrt(3e-4) = 1 / sqrt(3)
    m = g.return_moments(np.array([0.0, 0.0, 0.03]))
    assert m is not None
    assert (m.sharpe, m.skewness, m.kurtosis) == pytest.approx((1 / math.sqrt(3), 1 / math.sqrt(2), 1.5))
    # positive skew shrinks the variance term: 1 - (1/sqrt 2)(1/sqrt 3) + 0.5 / 4 / 3 = 0.633418
    variance = 1 - 1 / math.sqrt(6) + 0.5 / 12
    assert variance == pytest.approx(0.633418, abs=1e-6)
    assert g.probabilistic_sharpe(m) == pytest.approx(PHI(math.sqrt(2 / 3) / math.sqrt(variance)))
    assert g.probabilistic_sharpe(m) == pytest.approx(0.8475, abs=1e-4)


def test_moments_are_undefined_without_variance_or_enough_returns():
    assert g.return_moments(np.array([0.01, 0.01, 0.01])) is None
    assert g.return_moments(np.array([0.01, 0.02])) is None
    assert g.return_moments(np.array([0.01, np.nan, 0.02])) is None


def _moments_whole_arrays(r: np.ndarray) -> g.ReturnMoments | None:
    """The moments from n-long ``centred``, ``sq`` and power arrays: the reference. The cubes'
    and fourth powers' sums are numpy's pairwise sums of 65,536 values at a time, added left to
    right (the order both paths use, without those arrays)."""
    n = len(r)
    mean = float(r.sum()) / n
    centred = r - mean
    sq = centred * centred
    m2 = float(sq.sum()) / n
    if m2 <= 0.0:
        return None
    cubes, fourths = sq * centred, sq * sq
    chunks = range(0, n, 65_536)
    m3 = sum(float(cubes[lo : lo + 65_536].sum()) for lo in chunks) / n
    m4 = sum(float(fourths[lo : lo + 65_536].sum()) for lo in chunks) / n
    std = math.sqrt(m2 * n / (n - 1))
    return g.ReturnMoments(n, mean / std, m3 / m2**1.5, m4 / (m2 * m2))


@pytest.mark.parametrize("n", [3, 100, 8192, 65_535, 65_536, 65_537, 3 * 65_536 + 5, 250_003])
@pytest.mark.parametrize("offset", [0, 1])  # a view that starts off numpy's alignment
def test_moments_are_bit_for_bit_those_of_whole_arrays(n, offset):
    rng = np.random.default_rng(n + offset)
    returns = (rng.standard_t(3, n + offset) * 0.01)[offset:]
    kept = returns.copy()
    reference = _moments_whole_arrays(returns)
    assert g.return_moments(returns) == reference
    assert returns.tobytes() == kept.tobytes()  # by default the caller's array is untouched
    assert g.return_moments(returns, overwrite=True) == reference  # worked in place, same values
    # and the chunked sums are the whole sums to rounding
    centred = kept - kept.mean()
    sq = centred * centred
    s3, s4 = g._third_and_fourth(centred)
    assert s3 == pytest.approx(float(np.sum(sq * centred)), rel=1e-12, abs=1e-300)
    assert s4 == pytest.approx(float(np.sum(sq * sq)), rel=1e-12)


def test_dsr_reproduces_the_papers_example():
    # Bailey & Lopez de Prado (2014), section 5: annual SR 2.5 over 5 years of daily returns
    # (T = 1250, 250 a year), skew -3, kurtosis 10, N = 100 trials whose annual SRs have variance 0.5.
    ppy = 250
    m = g.ReturnMoments(observations=1250, sharpe=2.5 / math.sqrt(ppy), skewness=-3.0, kurtosis=10.0)
    d = g.deflated_sharpe(m, trials=100, sharpe_variance=0.5 / ppy)
    # E[max SR] = sqrt(V) ((1 - gamma) Z^-1(1 - 1/100) + gamma Z^-1(1 - 1/(100 e)))
    inv = NormalDist().inv_cdf
    gamma = 0.5772156649015329
    expected = math.sqrt(0.5 / ppy) * ((1 - gamma) * inv(0.99) + gamma * inv(1 - 1 / (100 * math.e)))
    assert d.expected_max_sharpe == pytest.approx(expected)
    assert d.expected_max_sharpe == pytest.approx(0.1132, abs=1e-4)  # the paper's SR0 (non-annualised)
    sr = 2.5 / math.sqrt(ppy)
    z = (sr - expected) * math.sqrt(1249) / math.sqrt(1 + 3 * sr + 9 / 4 * sr * sr)
    assert d.value == pytest.approx(PHI(z))
    assert d.value == pytest.approx(0.9004, abs=1e-4)  # the paper's DSR
    assert (d.trials, d.sharpe_variance) == (100, pytest.approx(0.002))


def test_one_trial_deflates_nothing():
    m = g.return_moments(np.array([0.01, 0.03, -0.01, 0.01]))
    assert m is not None
    assert g.expected_max_sharpe(1, 4.0) == 0.0
    assert g.deflated_sharpe(m, trials=1, sharpe_variance=4.0).value == g.probabilistic_sharpe(m)
    with pytest.raises(ValueError):
        g.expected_max_sharpe(0, 1.0)


def test_trials_variance_from_annualised_sharpes():
    # annual SRs 1, 2, 3: variance (ddof=1) 1; per bar with 4 bars a year: 1 / 4
    assert g.trials_variance([1.0, 2.0, 3.0], 4.0) == (3, 0.25)
    # an undefined Sharpe still counts as a trial, but adds nothing to the variance
    assert g.trials_variance([1.0, 2.0, 3.0, None], 4.0) == (4, 0.25)
    assert g.trials_variance([1.0], 4.0) == (1, 0.0)


def test_deflated_sharpe_of_trials_is_the_sweeps_entry_point():
    returns = np.array([0.01, 0.03, -0.01, 0.01])
    m = g.return_moments(returns)
    assert m is not None
    d = g.deflated_sharpe_of_trials(returns, [1.0, 2.0, 3.0], 4.0)
    assert d == g.deflated_sharpe(m, trials=3, sharpe_variance=0.25)
    assert d is not None and d.value is not None and d.value < g.probabilistic_sharpe(m)  # type: ignore[operator]
    assert g.deflated_sharpe_of_trials(np.array([0.01, 0.01, 0.01]), [1.0], 4.0) is None


def test_trade_growth_is_pnl_over_the_equity_at_entry():
    # equity before each trade: 1000, 1100, 990 -> growth 10 %, -10 %, 5 %; 1000 * 1.1 * 0.9 * 1.05 = 1039.5
    growth = g.trade_growth(np.array([100.0, -110.0, 49.5]), 1000.0)
    assert growth == pytest.approx([0.1, -0.1, 0.05])
    assert 1000.0 * np.prod(1 + growth) == pytest.approx(1000 + 100 - 110 + 49.5)


def test_bootstrap_of_two_trades_by_hand():
    # Two trades, +10 % and -10 %: every sample is one of four equally likely sequences
    #   (+,+): total +21 %, drawdown 0      (+,-): total -1 %, drawdown 0.99 / 1.1 - 1 = -10 %
    #   (-,+): total -1 %, drawdown -10 %   (-,-): total -19 %, drawdown -19 %
    # so with 1000 samples the 5th/50th/95th percentiles are -19 / -1 / +21 and -19 / -10 / 0.
    b = g.bootstrap_trades(np.array([0.1, -0.1]), seed=7)
    assert b is not None
    assert (b.samples, b.seed, b.trades) == (1000, 7, 2)
    assert (b.total_return.p5, b.total_return.p50, b.total_return.p95) == pytest.approx((-19.0, -1.0, 21.0))
    assert (b.max_drawdown.p5, b.max_drawdown.p50, b.max_drawdown.p95) == pytest.approx((-19.0, -10.0, 0.0))


def test_bootstrap_is_seeded_and_bounded():
    growth = np.random.default_rng(3).normal(0.002, 0.02, 300)
    a, b = g.bootstrap_trades(growth), g.bootstrap_trades(growth)
    assert a == b  # deterministic
    other = g.bootstrap_trades(growth, seed=1)
    assert other is not None and other != a
    assert a is not None and a.total_return.p5 < a.total_return.p50 < a.total_return.p95
    assert a.max_drawdown.p95 <= 0.0
    # samples x trades stays within BOOTSTRAP_MAX_CELLS, never below BOOTSTRAP_MIN_SAMPLES
    assert g.bootstrap_samples(300) == 1000
    assert g.bootstrap_samples(2000) == g.BOOTSTRAP_MAX_CELLS // 2000
    assert g.bootstrap_samples(10**7) == g.BOOTSTRAP_MIN_SAMPLES
    assert g.bootstrap_trades(np.array([0.1])) is None


@pytest.mark.parametrize("trades", [3_000, 20_000])
@pytest.mark.parametrize("jit", [False, True])
def test_bootstrap_in_blocks_equals_one_draw_of_every_sample(trades, jit):
    # Rows are drawn a block at a time (BOOTSTRAP_BLOCK_CELLS); the bands must be those of the
    # one (samples, trades) draw the docstring describes, so stored results keep their values.
    growth = np.random.default_rng(11).normal(0.001, 0.02, trades)
    k = g.bootstrap_samples(trades)
    assert k > g.BOOTSTRAP_BLOCK_CELLS // trades  # more than one block
    draws = np.random.default_rng(g.BOOTSTRAP_SEED).integers(0, trades, size=(k, trades))
    path = np.cumsum(np.log1p(growth)[draws], axis=1)
    peak = np.maximum.accumulate(np.maximum(path, 0.0), axis=1)
    total = np.percentile(np.expm1(path[:, -1]) * 100.0, [5.0, 50.0, 95.0])
    worst = np.percentile(np.expm1(np.min(path - peak, axis=1)) * 100.0, [5.0, 50.0, 95.0])
    previous = kernels.use_jit(jit)
    try:
        b = g.bootstrap_trades(growth)
    finally:
        kernels.use_jit(previous)
    assert b is not None and b.samples == k
    assert [b.total_return.p5, b.total_return.p50, b.total_return.p95] == pytest.approx(total, rel=1e-12)
    assert [b.max_drawdown.p5, b.max_drawdown.p50, b.max_drawdown.p95] == pytest.approx(worst, rel=1e-12)


@pytest.mark.parametrize("trades", [2, 5, 1_956, 20_000])
def test_bootstrap_kernels_and_numpy_give_the_same_bands(trades):
    # The kernels draw from the generator's raw output (kernels.bootstrap_draws); numpy calls
    # Generator.integers: the draws, so the bands, are the same to the last bit.
    growth = np.random.default_rng(trades).normal(0.001, 0.02, trades)
    previous = kernels.use_jit(False)
    try:
        plain = g.bootstrap_trades(growth)
        kernels.use_jit(True)
        compiled = g.bootstrap_trades(growth)
    finally:
        kernels.use_jit(previous)
    assert plain is not None and plain == compiled


@pytest.mark.parametrize("words", [1, 7, 4_096, g._RAW_WORDS])
def test_bootstrap_raw_words_in_pieces_continue_one_stream(words, monkeypatch):
    # The compiled path takes the generator's raw words at most _RAW_WORDS at a time (below a
    # worker's malloc mmap threshold); however they are cut, the draws are one stream: the same bands.
    growth = np.random.default_rng(12).normal(0.001, 0.02, 20_000)
    previous = kernels.use_jit(False)
    try:
        plain = g.bootstrap_trades(growth)
        kernels.use_jit(True)
        monkeypatch.setattr(g, "_RAW_WORDS", words)
        compiled = g.bootstrap_trades(growth)
    finally:
        kernels.use_jit(previous)
    assert plain is not None and plain == compiled


def test_the_compiled_bootstrap_declines_a_stream_it_cannot_continue():
    # Only a PCG64 at the start of a word is a plain LCG state the lanes can take over; otherwise
    # the numpy path draws (bootstrap_trades always makes a fresh default_rng: a PCG64).
    level, worst = np.full(3, 7.0), np.full(3, 7.0)
    growth = np.log1p(np.array([0.1, -0.05, 0.02]))
    other = np.random.Generator(np.random.MT19937(1))
    assert g._bootstrap_compiled(other, growth, 3, level, worst) is False
    half_used = np.random.default_rng(1)
    half_used.integers(0, 10, dtype=np.uint32)  # keeps the word's other half for the next draw
    assert half_used.bit_generator.state["has_uint32"]
    assert g._bootstrap_compiled(half_used, growth, 3, level, worst) is False
    assert level.tolist() == worst.tolist() == [7.0, 7.0, 7.0]  # untouched


def test_bootstrap_raw_words_fit_below_glibcs_smallest_mmap_threshold():
    assert g._RAW_WORDS * 8 < 128 * 1024  # glibc's initial threshold, which it only ever raises


def test_return_moments_scratch_and_non_finite_values():
    r = np.random.default_rng(4).normal(0.0002, 0.01, 10_001)
    kept = r.copy()
    m = g.return_moments(r)
    assert r.tobytes() == kept.tobytes()  # the input is left alone by default
    assert g.return_moments(r, overwrite=True) == m  # scratch gives the same figures
    assert g.return_moments(np.array([0.1, np.nan, 0.2, 0.0])) is None
    assert g.return_moments(np.array([0.1, -np.inf, np.inf, 0.0])) is None
    # Finite values whose sum overflows are still finite values: moments (of an infinite mean).
    big = g.return_moments(np.array([1e308, 1e308, 1e308, 0.0]))
    assert big is not None and big.observations == 4


def test_curve_moments_equal_the_moments_of_the_returns_array():
    # The compiled path never builds the n-long returns; the figures must be the same bit for bit.
    rng = np.random.default_rng(6)
    # around the pairwise leaves (128) and the chunks (65,536) of the third and fourth moments
    sizes = (3, 8, 129, 8191, 8192, 8193, 40_001, 65_535, 65_536, 65_537, 139_269)
    curves = [1000.0 * np.cumprod(1.0 + rng.normal(0.0002, 0.01, n)) for n in sizes]
    flat = np.full(50, 1000.0)  # no variance: None
    with_nan = curves[-1].copy()
    with_nan[7] = np.nan
    with_zero = curves[-1].copy()
    with_zero[100] = 0.0  # the next return divides by 0: inf
    for equity in [*curves, flat, with_nan, with_zero, np.array([1000.0, 1e-300, 1e300, 1e300, 0.0])]:
        kept = equity.copy()
        # repr: every digit of every figure (and NaN equal to NaN)
        assert repr(g.curve_moments(equity, 1000.0)) == repr(g.return_moments(bar_returns(equity, 1000.0)))
        assert equity.tobytes() == kept.tobytes()
    for equity in curves:  # and those of the whole arrays
        assert g.curve_moments(equity, 1000.0) == _moments_whole_arrays(bar_returns(equity, 1000.0))


def test_in_out_gap():
    # in-sample 2.0, out-of-sample 0.5: gap 1.5, a quarter carried over
    s = g.in_out_gap(2.0, 0.5)
    assert (s.gap, s.efficiency) == (1.5, 0.25)
    assert g.in_out_gap(-1.0, 0.5).efficiency is None  # no efficiency of a losing in-sample choice
    assert g.in_out_gap(-1.0, 0.5).gap == -1.5
    assert g.in_out_gap(None, 0.5) == g.SampleGap(None, 0.5, None, None)
    assert g.gap_from_dict(g.Guardrails(None, None, 1.0, in_out=s).to_dict()["inOutSample"]) == s


def test_result_guardrails_of_an_engine_run():
    rng = np.random.default_rng(5)
    close = 100 * np.exp(np.cumsum(rng.normal(0.0005, 0.01, 400)))
    opens = np.concatenate(([100.0], close[:-1]))
    bars = Bars.from_arrays(np.arange(400) * 60_000, opens, close * 1.01, close * 0.99, close, np.ones(400))
    flags = np.arange(400) % 20 == 0
    result = engine.run(bars, Signals(entries=flags, exits=np.roll(flags, 10)), BacktestConfig(fee_bps=5))
    out = g.result_guardrails(result, 365.0).to_dict()
    m = g.return_moments(bar_returns(result.equity, 10_000.0))
    assert m is not None
    psr = out["probabilisticSharpe"]
    assert psr["value"] == g.probabilistic_sharpe(m)
    assert (psr["observations"], psr["sharpePerBar"], psr["benchmarkSharpe"]) == (400, m.sharpe, 0.0)
    boot = out["bootstrap"]
    assert boot["trades"] == len(result.trades) == 20
    assert boot["totalReturn"]["p5"] <= boot["totalReturn"]["p95"]
    assert out["deflatedSharpe"] is None and out["inOutSample"] is None
