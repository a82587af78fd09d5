"""Overfitting guardrails: is a backtest's Sharpe ratio real, and how fragile is its result?

Pure functions over return and trade arrays (formulas and references in docs/engine.md):

- ``probabilistic_sharpe``: the probability that the true Sharpe ratio exceeds a benchmark, given
  the observed one, the number of returns, their skewness and kurtosis (Bailey & López de Prado,
  "The Sharpe Ratio Efficient Frontier", 2012).
- ``deflated_sharpe``: the same probability against the Sharpe ratio the best of N trials would
  reach by luck alone (Bailey & López de Prado, "The Deflated Sharpe Ratio", 2014).
- ``bootstrap_trades``: trade returns resampled with replacement (seeded), giving a 5-95 % band
  for the total return and the max drawdown of the closed-trade equity path.
- ``in_out_gap``: in-sample against out-of-sample Sharpe (walk-forward degradation).

Units: Sharpe ratios inside the PSR/DSR formulas are **per bar** (mean / std of per-bar returns,
ddof=1, risk-free 0); the annualised ratio of ``metrics.sharpe_ratio`` divided by
sqrt(periods_per_year) is that number. Kurtosis is the plain (non-excess) fourth standardised
moment (3 for a normal distribution); skewness and kurtosis use population moments. Percentages
are numbers in percent. Undefined values are None, never NaN.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from backend.domain.backtest import kernels
from backend.domain.backtest.metrics import bar_returns, finite_or_none
from backend.domain.backtest.types import BacktestResult

EULER_GAMMA = 0.5772156649015329
BOOTSTRAP_SEED = 20240607  # fixed: a stored result's band is reproducible
BOOTSTRAP_SAMPLES = 1000
BOOTSTRAP_MIN_SAMPLES = 200
BOOTSTRAP_MAX_CELLS = 500_000  # samples x trades drawn at most: bounds time and memory of a job
BOOTSTRAP_BLOCK_CELLS = 1 << 18  # draws held at once (1 MB of int32): see bootstrap_trades
_NORMAL = NormalDist()


@dataclass(frozen=True)
class ReturnMoments:
    """What the PSR needs of a return series: count, per-bar Sharpe, skewness, kurtosis."""

    observations: int
    sharpe: float  # per bar: mean / std (ddof=1)
    skewness: float
    kurtosis: float  # non-excess: 3 for a normal distribution


def return_moments(returns: np.ndarray, *, overwrite: bool = False) -> ReturnMoments | None:
    """Return the moments of per-bar ``returns`` (fractions); None with < 3 values or no variance.

    ``overwrite=True`` lets it work in a float64 ``returns`` itself (a caller's own array that it
    does not read again): no n-long buffer at all instead of one. The second moment is
    ``(centred * centred).sum()``; the third and fourth are ``_third_and_fourth``'s sums of the
    centred values' powers, made a chunk at a time without an n-long array.
    """
    r = np.asarray(returns, dtype=np.float64)
    n = len(r)
    if n < 3:
        return None
    with np.errstate(over="ignore", invalid="ignore"):  # inf - inf: told by the check below
        total = float(r.sum())
    # A finite sum means every value is finite (inf and NaN never leave a sum); only a sum that
    # is not finite needs the check value by value (it may also be finite values that overflow).
    if not math.isfinite(total) and not np.all(np.isfinite(r)):
        return None
    mean = total / n
    centred = np.subtract(r, mean, out=r if overwrite and r is returns else None)
    s3, s4 = _third_and_fourth(centred)
    sq = np.multiply(centred, centred, out=centred)  # centred is not needed any more
    return _moments(n, mean, float(sq.sum()) / n, s3, s4)


def _moments(n: int, mean: float, m2: float, s3: float, s4: float) -> ReturnMoments | None:
    """Return the moments from the mean, the second central moment and the sums of cubes and fourths."""
    if m2 <= 0.0:
        return None
    m3 = s3 / n
    m4 = s4 / n
    std = math.sqrt(m2 * n / (n - 1))
    return ReturnMoments(n, mean / std, m3 / m2**1.5, m4 / (m2 * m2))


def curve_moments(equity: np.ndarray, initial: float, sums: np.ndarray | None = None) -> ReturnMoments | None:
    """Return ``return_moments(bar_returns(equity, initial))``, bit for bit, without the n-long returns.

    With the compiled kernels every sum makes each return where it adds it, in numpy's pairwise
    order: the two n-long sums (of the returns, of their centred squares: ``kernels.return_sums``)
    and the third and fourth moments' (``kernels.moment_sums``, one nogil call): no n-long array
    at all (8 MB at 1M bars). The numpy path, and a curve whose returns do not sum to a finite
    number, build the returns as before. ``sums``: the two n-long sums when the caller has them
    (``metrics.return_sums``: the metrics need them too).
    """
    e = np.ascontiguousarray(equity, dtype=np.float64)
    n = len(e)
    if n < 3 or not kernels.active():
        return return_moments(bar_returns(e, initial), overwrite=True)
    initial = float(initial)
    if sums is None:
        sums = kernels.return_sums(e, initial)
    total = float(sums[0])
    if not math.isfinite(total):  # inf or NaN somewhere (or an overflow): the checks of the array path
        return return_moments(bar_returns(e, initial), overwrite=True)
    mean = total / n
    s3, s4 = (float(v) for v in kernels.moment_sums(e, initial, mean, _MOMENT_CHUNK))
    m2 = float(sums[1]) / n
    return _moments(n, mean, m2, s3, s4)


# The third and fourth moments' sums add the centred returns' cubes and fourth powers a chunk of
# _MOMENT_CHUNK at a time (512 KB per buffer), each chunk with numpy's pairwise sum, the chunks'
# sums left to right: the numpy path needs no n-long array for them, and the compiled path makes
# the same sums in one nogil kernel call (``kernels.moment_sums``, bit for bit the same), with no
# array at all; a long backtest job runs it on a thread beside its metrics.
_MOMENT_CHUNK = 1 << 16


def _third_and_fourth(centred: np.ndarray) -> tuple[float, float]:
    """Return the sums of ``(c * c) * c`` and ``(c * c) * (c * c)`` over ``centred``, a
    ``_MOMENT_CHUNK`` at a time (each chunk's pairwise sum, added left to right)."""
    s3 = s4 = 0.0
    size = min(len(centred), _MOMENT_CHUNK)
    squares, powers = np.empty(size), np.empty(size)
    for lo in range(0, len(centred), _MOMENT_CHUNK):
        c = centred[lo : lo + _MOMENT_CHUNK]
        sq = np.multiply(c, c, out=squares[: len(c)])
        s3 += float(np.multiply(sq, c, out=powers[: len(c)]).sum())
        s4 += float(np.multiply(sq, sq, out=powers[: len(c)]).sum())
    return s3, s4


def probabilistic_sharpe(m: ReturnMoments, benchmark: float = 0.0) -> float | None:
    """Return PSR(SR*) = Phi((SR - SR*) sqrt(n - 1) / sqrt(1 - g3 SR + (g4 - 1) / 4 SR^2)).

    ``benchmark`` (SR*) is per bar like ``m.sharpe``. None when the variance term is not positive
    (extreme skewness against a large Sharpe ratio: the estimate's error is undefined).
    """
    sr = m.sharpe
    variance = 1.0 - m.skewness * sr + (m.kurtosis - 1.0) / 4.0 * sr * sr
    if not variance > 0.0:
        return None
    z = (sr - benchmark) * math.sqrt(m.observations - 1) / math.sqrt(variance)
    return _NORMAL.cdf(z)


def expected_max_sharpe(trials: int, variance: float) -> float:
    """Return E[max SR] of ``trials`` unskilled trials whose Sharpe ratios have ``variance``.

    sqrt(V) ((1 - gamma) Phi^-1(1 - 1/N) + gamma Phi^-1(1 - 1/(N e))), gamma = Euler-Mascheroni;
    0 for a single trial (nothing was selected). Units are those of the variance's Sharpe ratios.
    """
    if trials < 1:
        raise ValueError("trials must be >= 1")
    if trials == 1 or variance <= 0.0:
        return 0.0
    return math.sqrt(variance) * (
        (1.0 - EULER_GAMMA) * _NORMAL.inv_cdf(1.0 - 1.0 / trials)
        + EULER_GAMMA * _NORMAL.inv_cdf(1.0 - 1.0 / (trials * math.e))
    )


@dataclass(frozen=True)
class DeflatedSharpe:
    """The DSR of the selected trial and what it was deflated by (per-bar Sharpe units)."""

    value: float | None
    trials: int
    sharpe_variance: float  # variance of the trials' per-bar Sharpe ratios (ddof=1)
    expected_max_sharpe: float  # the benchmark SR* the selected trial had to beat


def deflated_sharpe(m: ReturnMoments, *, trials: int, sharpe_variance: float) -> DeflatedSharpe:
    """Return DSR = PSR(E[max SR of ``trials``]) for the selected trial's return moments ``m``."""
    benchmark = expected_max_sharpe(trials, sharpe_variance)
    return DeflatedSharpe(probabilistic_sharpe(m, benchmark), trials, sharpe_variance, benchmark)


def trials_variance(sharpes: Sequence[float | None], periods_per_year: float = 1.0) -> tuple[int, float]:
    """Return (trials, variance of their per-bar Sharpe ratios) from the trials' Sharpe ratios.

    ``sharpes`` are annualised with ``periods_per_year`` (pass 1.0 when they are per bar already),
    as a sweep's runs report ``sharpeRatio``; an undefined one (None, a run without variance)
    still counts as a trial but adds nothing to the variance.
    """
    values = np.array([s for s in sharpes if s is not None and math.isfinite(s)], dtype=np.float64)
    variance = float(np.var(values, ddof=1)) / periods_per_year if len(values) > 1 else 0.0
    return len(sharpes), variance


def deflated_sharpe_of_trials(
    returns: np.ndarray, sharpes: Sequence[float | None], periods_per_year: float
) -> DeflatedSharpe | None:
    """Return the DSR of the selected run's per-bar ``returns`` among trials with annualised ``sharpes``.

    The entry point for sweeps: ``returns`` are the best run's per-bar returns
    (``metrics.bar_returns``), ``sharpes`` every run's ``sharpeRatio``. None without moments.
    """
    m = return_moments(returns)
    if m is None or not sharpes:
        return None
    trials, variance = trials_variance(sharpes, periods_per_year)
    return deflated_sharpe(m, trials=trials, sharpe_variance=variance)


# --- bootstrap of trade returns ------------------------------------------------------------------


@dataclass(frozen=True)
class Band:
    """The 5th, 50th and 95th percentiles of a resampled quantity (linear interpolation)."""

    p5: float
    p50: float
    p95: float


@dataclass(frozen=True)
class TradeBootstrap:
    """Bands of total return and max drawdown (percent) over resampled trade sequences."""

    samples: int
    seed: int
    trades: int
    total_return: Band
    max_drawdown: Band


def trade_growth(pnl: np.ndarray, initial: float) -> np.ndarray:
    """Return each trade's pnl as a fraction of the account equity when it opened.

    Trades never overlap (a reversal closes first) and the account is flat between them, so the
    equity at trade i's entry is ``initial + sum(pnl[:i])``: compounding these growths
    reproduces the final equity exactly.
    """
    p = np.asarray(pnl, dtype=np.float64)
    before = float(initial) + np.concatenate(([0.0], np.cumsum(p)[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        growth: np.ndarray = np.where(before > 0, p / before, 0.0)
    return growth


def bootstrap_samples(trades: int, cap: int = BOOTSTRAP_SAMPLES) -> int:
    """Return how many sequences to draw for ``trades`` trades (bounded by BOOTSTRAP_MAX_CELLS)."""
    return max(BOOTSTRAP_MIN_SAMPLES, min(cap, BOOTSTRAP_MAX_CELLS // max(trades, 1)))


def bootstrap_trades(
    growth: np.ndarray, *, seed: int = BOOTSTRAP_SEED, samples: int | None = None
) -> TradeBootstrap | None:
    """Resample per-trade ``growth`` (``trade_growth``) with replacement; None with < 2 trades.

    Each sample draws ``len(growth)`` trades with ``numpy.random.default_rng(seed).integers(0,
    n, size=(samples, n))`` and compounds them from 1: its total return is the product minus 1,
    its max drawdown the worst fall of that closed-trade path below its running peak (the start
    included). Deterministic for a given seed; ``samples`` defaults to ``bootstrap_samples(n)``.
    """
    g = np.asarray(growth, dtype=np.float64)
    n = len(g)
    if n < 2 or not np.all(np.isfinite(g)):
        return None
    k = samples if samples is not None else bootstrap_samples(n)
    log_growth = np.log1p(np.maximum(g, -1.0 + 1e-12))
    rng = np.random.default_rng(seed)
    level, worst = np.empty(k), np.empty(k)
    # Rows are drawn a block at a time (the same stream as one (k, n) draw: the generator fills
    # row after row), so the draws and the path temporaries stay near BOOTSTRAP_BLOCK_CELLS cells
    # and in cache instead of k x n of fresh memory (31 MB at 19,584 trades). Indices below 2**31
    # are drawn as int32: numpy draws the same values for every integer type that holds the bound.
    small = n < 2**31
    rows = max(1, BOOTSTRAP_BLOCK_CELLS // n)
    if not (kernels.active() and small and _bootstrap_compiled(rng, log_growth, rows, level, worst)):
        for start in range(0, k, rows):
            stop = min(k, start + rows)
            draws = rng.integers(0, n, size=(stop - start, n), dtype=np.int32 if small else np.int64)
            path = log_growth[draws]
            np.cumsum(path, axis=1, out=path)  # log equity after each trade
            peak = np.maximum.accumulate(np.maximum(path, 0.0), axis=1)  # the start (log 1 = 0) is a peak
            level[start:stop] = path[:, -1]
            worst[start:stop] = np.min(path - peak, axis=1)
    total = np.expm1(level) * 100.0
    drawdown = np.expm1(worst) * 100.0
    return TradeBootstrap(k, seed, n, _band(total), _band(drawdown))


# The raw words are made this many at a time: 125 KB, below glibc malloc's smallest mmap threshold
# (128 KB, glibc's initial one and the fixed WORKER_MALLOC_MMAP_THRESHOLD's usual value), so the
# buffer comes from the heap instead of a fresh mapping whose pages fault in one by one. A
# multiple of kernels.PCG64_LANES.
_RAW_WORDS = 16_000
_U64 = (1 << 64) - 1
_U128 = (1 << 128) - 1


def _pcg64_lanes(bits: np.random.BitGenerator) -> tuple[np.ndarray, np.ndarray] | None:
    """Return ``kernels.pcg64_words``' lanes and step for ``bits``' stream from its next word on,
    or None when it is not a PCG64 at the start of a word (its state is not a plain LCG's)."""
    state = bits.state
    if state.get("bit_generator") != "PCG64" or state.get("has_uint32"):
        return None
    x, inc = int(state["state"]["state"]), int(state["state"]["inc"])
    multiplier = 0x2360ED051FC65DA44385DF649FCCF645  # numpy's PCG64 (PCG_DEFAULT_MULTIPLIER_128)
    lanes, mul, add = [], 1, 0
    for _ in range(kernels.PCG64_LANES):
        x = (x * multiplier + inc) & _U128  # the state whose output is the next word
        lanes += [x >> 64, x & _U64]
        mul, add = (mul * multiplier) & _U128, (add * multiplier + inc) & _U128
    step = [mul >> 64, mul & _U64, add >> 64, add & _U64]
    return np.array(lanes, dtype=np.uint64), np.array(step, dtype=np.uint64)


def _bootstrap_compiled(
    rng: np.random.Generator, log_growth: np.ndarray, rows: int, level: np.ndarray, worst: np.ndarray
) -> bool:
    """Fill ``level``/``worst`` as the numpy path does, with the kernels (``len(log_growth)`` < 2**31);
    return False (nothing done) when ``rng`` is not a fresh PCG64.

    The draws are ``rng.integers(0, n)``'s, made by ``kernels.bootstrap_draws`` from the bit
    generator's 64-bit words (the 32-bit stream numpy's bounded draws consume, without its
    per-value call overhead), the words made by ``kernels.pcg64_words`` (numpy's PCG64 stream,
    several states side by side), then summed along each row by ``kernels.bootstrap_paths``: all
    in one call (``kernels.bootstrap_run``). A fresh generator (``default_rng``) has no buffered
    32-bit half.
    """
    found = _pcg64_lanes(rng.bit_generator)
    if found is None:
        return False
    lanes, step = found
    n, k = len(log_growth), len(level)
    draws = np.empty((min(rows, k), n), dtype=np.uint32)  # unsigned: no negative-index checks
    want = min(_RAW_WORDS, draws.size // 2 + 16)
    raw = np.empty(-(-want // kernels.PCG64_LANES) * kernels.PCG64_LANES, dtype=np.uint64)
    kernels.bootstrap_run(lanes, step, log_growth, draws, raw, level, worst)
    return True


def _band(values: np.ndarray) -> Band:
    p5, p50, p95 = np.percentile(values, [5.0, 50.0, 95.0])
    return Band(float(p5), float(p50), float(p95))


# --- in-sample against out-of-sample ---------------------------------------------------------------


@dataclass(frozen=True)
class SampleGap:
    """In-sample against out-of-sample Sharpe (annualised): the gap and the efficiency OOS / IS."""

    in_sample_sharpe: float | None
    out_of_sample_sharpe: float | None
    gap: float | None  # in - out: how much of the in-sample Sharpe did not carry over
    efficiency: float | None  # out / in, when the in-sample Sharpe is positive (Pardo's WFE)


def in_out_gap(in_sample: float | None, out_of_sample: float | None) -> SampleGap:
    """Return the gap and efficiency of an in-sample and an out-of-sample Sharpe ratio."""
    if in_sample is None or out_of_sample is None:
        return SampleGap(in_sample, out_of_sample, None, None)
    gap = finite_or_none(in_sample - out_of_sample)
    efficiency = finite_or_none(out_of_sample / in_sample) if in_sample > 0 else None
    return SampleGap(in_sample, out_of_sample, gap, efficiency)


# --- every result ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Guardrails:
    """The guardrails of one result (see the module docstring); None parts were not computable."""

    moments: ReturnMoments | None
    probabilistic_sharpe: float | None
    periods_per_year: float
    deflated: DeflatedSharpe | None = None
    bootstrap: TradeBootstrap | None = None
    in_out: SampleGap | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-safe camelCase form stored with a result (full precision)."""
        return {
            "probabilisticSharpe": _psr_dict(self),
            "deflatedSharpe": _dsr_dict(self.deflated, self.periods_per_year),
            "bootstrap": _bootstrap_dict(self.bootstrap),
            "inOutSample": _gap_dict(self.in_out),
        }


def compute_guardrails(
    returns: np.ndarray,
    pnl: np.ndarray,
    initial: float,
    periods_per_year: float,
    *,
    deflated: DeflatedSharpe | None = None,
    in_out: SampleGap | None = None,
    seed: int = BOOTSTRAP_SEED,
    overwrite: bool = False,
) -> Guardrails:
    """Return the guardrails of per-bar ``returns`` and trade ``pnl`` (money) from ``initial``.

    ``overwrite=True``: ``returns`` is the caller's own array and may be overwritten (``return_moments``).
    """
    return _guardrails(
        return_moments(returns, overwrite=overwrite), pnl, initial, periods_per_year, deflated, in_out, seed
    )


def _guardrails(
    m: ReturnMoments | None,
    pnl: np.ndarray,
    initial: float,
    periods_per_year: float,
    deflated: DeflatedSharpe | None,
    in_out: SampleGap | None,
    seed: int,
) -> Guardrails:
    return Guardrails(
        moments=m,
        probabilistic_sharpe=probabilistic_sharpe(m) if m is not None else None,
        periods_per_year=periods_per_year,
        deflated=deflated,
        bootstrap=bootstrap_trades(trade_growth(pnl, initial), seed=seed),
        in_out=in_out,
    )


def result_guardrails(
    result: BacktestResult,
    periods_per_year: float,
    *,
    deflated: DeflatedSharpe | None = None,
    in_out: SampleGap | None = None,
    sums: np.ndarray | Callable[[], np.ndarray | None] | None = None,
) -> Guardrails:
    """Return the guardrails of an engine result (returns from the initial capital, its trades).

    ``sums``: ``metrics.return_sums(result)`` when the caller computes it (see ``curve_moments``),
    or a function returning it (None: not to be had), called after the bootstrap, so that another
    thread can compute it meanwhile.
    """
    initial = float(result.config.initial_capital)
    bootstrap = bootstrap_trades(trade_growth(result.trades["pnl"], initial), seed=BOOTSTRAP_SEED)
    known = sums() if callable(sums) else sums
    m = curve_moments(result.equity, initial, known)  # what compute_guardrails(bar_returns(...)) computes
    return Guardrails(
        moments=m,
        probabilistic_sharpe=probabilistic_sharpe(m) if m is not None else None,
        periods_per_year=periods_per_year,
        deflated=deflated,
        bootstrap=bootstrap,
        in_out=in_out,
    )


def _psr_dict(g: Guardrails) -> dict[str, Any] | None:
    m = g.moments
    if m is None:
        return None
    return {
        "value": finite_or_none(g.probabilistic_sharpe),
        "benchmarkSharpe": 0.0,
        "sharpePerBar": finite_or_none(m.sharpe),
        "observations": m.observations,
        "skewness": finite_or_none(m.skewness),
        "kurtosis": finite_or_none(m.kurtosis),
    }


def _dsr_dict(d: DeflatedSharpe | None, periods_per_year: float) -> dict[str, Any] | None:
    if d is None:
        return None
    return {
        "value": finite_or_none(d.value),
        "trials": d.trials,
        "sharpeVariancePerBar": finite_or_none(d.sharpe_variance),
        "expectedMaxSharpePerBar": finite_or_none(d.expected_max_sharpe),
        "expectedMaxSharpe": finite_or_none(d.expected_max_sharpe * math.sqrt(periods_per_year)),
    }


def band_dict(b: Band) -> dict[str, float | None]:
    """Return ``{p5, p50, p95}``."""
    return {"p5": finite_or_none(b.p5), "p50": finite_or_none(b.p50), "p95": finite_or_none(b.p95)}


def _bootstrap_dict(b: TradeBootstrap | None) -> dict[str, Any] | None:
    if b is None:
        return None
    return {
        "samples": b.samples,
        "seed": b.seed,
        "trades": b.trades,
        "totalReturn": band_dict(b.total_return),
        "maxDrawdown": band_dict(b.max_drawdown),
    }


def _gap_dict(s: SampleGap | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {
        "inSampleSharpe": finite_or_none(s.in_sample_sharpe),
        "outOfSampleSharpe": finite_or_none(s.out_of_sample_sharpe),
        "sharpeGap": finite_or_none(s.gap),
        "efficiency": finite_or_none(s.efficiency),
    }


def gap_from_dict(raw: Any) -> SampleGap | None:
    """Return the SampleGap of a stored ``inOutSample`` object (None when absent)."""
    if not isinstance(raw, dict):
        return None
    return SampleGap(
        raw.get("inSampleSharpe"), raw.get("outOfSampleSharpe"), raw.get("sharpeGap"), raw.get("efficiency")
    )
