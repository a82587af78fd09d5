"""Performance metrics: pure functions over equity, return and trade arrays.

Conventions: percentages are numbers in percent (12.5 means 12.5 %); drawdowns are negative
percents; ``periods_per_year`` is the number of bars in a year for this market and interval
(e.g. 365 * 24 for hourly crypto, 252 for daily stocks) and drives every annualisation; the risk-
free rate is 0. Per-bar returns start from the initial capital, so the first bar's move counts.
A metric that is undefined (no trades, zero volatility, no losing trade for the profit factor, ...)
is None, never NaN or infinity, so ``compute_metrics`` output is JSON-safe.
"""

from __future__ import annotations

import math
from typing import SupportsFloat, cast

import numpy as np

from backend.domain.backtest import kernels
from backend.domain.backtest.types import BacktestResult
from backend.domain.bars import Bars

MS_PER_DAY = 86_400_000
Number = float | None


def finite_or_none(value: SupportsFloat | None) -> Number:
    """Return ``value`` as a float, or None when it is None, NaN or infinite."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def with_start(equity: np.ndarray, initial: float) -> np.ndarray:
    """Return the equity curve with the initial capital prepended (length n + 1)."""
    return np.concatenate(([float(initial)], np.asarray(equity, dtype=np.float64)))


def bar_returns(equity: np.ndarray, initial: float) -> np.ndarray:
    """Return simple per-bar returns (fractions, length n), the first one from the initial capital."""
    e = np.asarray(equity, dtype=np.float64)
    returns = np.empty(len(e))
    with np.errstate(divide="ignore", invalid="ignore"):  # the same divisions as on the start-prepended curve
        np.divide(e[:1], float(initial), out=returns[:1])
        np.divide(e[1:], e[:-1], out=returns[1:])
    returns -= 1.0
    return returns


def total_return(equity: np.ndarray, initial: float) -> float:
    """Return the total return in percent."""
    final = float(equity[-1]) if len(equity) else float(initial)
    return (final / initial - 1.0) * 100.0


def cagr(equity: np.ndarray, initial: float, periods_per_year: float) -> Number:
    """Return the compound annual growth rate in percent (years = bars / periods_per_year)."""
    years = len(equity) / periods_per_year
    if years <= 0:
        return None
    growth = float(equity[-1]) / initial
    if growth <= 0:
        return -100.0
    try:
        return finite_or_none((growth ** (1.0 / years) - 1.0) * 100.0)
    except OverflowError:  # a big gain over a tiny fraction of a year: the rate is not finite
        return None


def volatility(returns: np.ndarray, periods_per_year: float) -> Number:
    """Return the annualised standard deviation of per-bar returns (ddof=1), in percent."""
    if len(returns) < 2:
        return None
    return finite_or_none(np.std(returns, ddof=1) * math.sqrt(periods_per_year) * 100.0)


def sharpe_ratio(returns: np.ndarray, periods_per_year: float) -> Number:
    """Return mean / std (ddof=1) of per-bar returns times sqrt(periods_per_year); rf = 0."""
    if len(returns) < 2:
        return None
    std = float(np.std(returns, ddof=1))
    if std == 0 or not math.isfinite(std):
        return None
    return finite_or_none(float(np.mean(returns)) / std * math.sqrt(periods_per_year))


def sortino_ratio(returns: np.ndarray, periods_per_year: float) -> Number:
    """Return mean return over downside deviation sqrt(mean(min(r, 0)^2)), annualised; rf = 0."""
    if len(returns) < 2:
        return None
    downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2)))
    if downside == 0:
        return None
    return finite_or_none(float(np.mean(returns)) / downside * math.sqrt(periods_per_year))


def drawdown(equity: np.ndarray, initial: float) -> np.ndarray:
    """Return the drawdown from the running peak per point of the start-prepended curve (<= 0)."""
    curve = with_start(equity, initial)
    return curve / np.maximum.accumulate(curve) - 1.0


def max_drawdown(dd: np.ndarray) -> float:
    """Return the maximum drawdown in percent (0 or negative) from a ``drawdown`` array."""
    return float(np.min(dd)) * 100.0


def true_runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (starts, stops) of the runs of True in ``mask`` (stops exclusive)."""
    edges = np.diff(np.concatenate(([0], np.asarray(mask, dtype=np.int8), [0])))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def max_drawdown_duration(dd: np.ndarray, time: np.ndarray) -> tuple[int, int]:
    """Return (bars, ms) of the longest stretch below a previous peak, peak to recovery or end.

    ``dd`` is a ``drawdown`` array (length n + 1, point 0 is the start), ``time`` the n bar open
    times; the start point takes the first bar's time.
    """
    peaks = np.flatnonzero(dd >= 0)  # always contains 0 (the start is its own peak)
    under = np.diff(np.append(peaks, len(dd))) - 1  # points below the peak that follows each peak
    longest = int(np.argmax(under))
    if under[longest] <= 0:
        return 0, 0
    peak = int(peaks[longest])
    end = min(peak + int(under[longest]) + 1, len(dd) - 1)  # recovery point, or the last point

    def point_time(i: int) -> int:
        return int(time[max(i - 1, 0)])  # point i of the curve is bar i - 1

    return int(under[longest]), point_time(end) - point_time(peak)


def ulcer_index(dd: np.ndarray) -> float:
    """Return sqrt(mean(drawdown_percent^2)) from a ``drawdown`` array."""
    return float(np.sqrt(np.mean(np.square(dd)))) * 100.0


def calmar_ratio(cagr_pct: Number, max_drawdown_pct: float) -> Number:
    """Return CAGR / |max drawdown| (None when there was no drawdown)."""
    if cagr_pct is None or max_drawdown_pct == 0:
        return None
    return finite_or_none(cagr_pct / abs(max_drawdown_pct))


def win_rate(pnl: np.ndarray) -> Number:
    """Return the share of trades with pnl > 0, in percent."""
    return float(np.mean(pnl > 0)) * 100.0 if len(pnl) else None


def profit_factor(pnl: np.ndarray) -> Number:
    """Return gross profit / gross loss (None without a losing trade)."""
    loss = -float(pnl[pnl < 0].sum())
    return finite_or_none(float(pnl[pnl > 0].sum()) / loss) if loss > 0 else None


def sqn(pnl: np.ndarray) -> Number:
    """Return the system quality number sqrt(N) * mean(pnl) / std(pnl, ddof=1)."""
    if len(pnl) < 2:
        return None
    std = float(np.std(pnl, ddof=1))
    return finite_or_none(math.sqrt(len(pnl)) * float(np.mean(pnl)) / std) if std > 0 else None


def kelly_criterion(pnl: np.ndarray) -> Number:
    """Return W - (1 - W) / R with W the win rate and R = mean win / mean loss (fractions)."""
    wins, losses = pnl[pnl > 0], pnl[pnl < 0]
    if not len(wins) or not len(losses):
        return None
    w = len(wins) / len(pnl)
    return finite_or_none(w - (1 - w) / (float(wins.mean()) / -float(losses.mean())))


def max_consecutive(mask: np.ndarray) -> int:
    """Return the longest run of True in ``mask``."""
    starts, stops = true_runs(mask)
    return int((stops - starts).max()) if len(starts) else 0


def exposure(position: np.ndarray) -> float:
    """Return the share of bars with an open position, in percent."""
    return float(np.count_nonzero(position)) / len(position) * 100.0 if len(position) else 0.0


def buy_hold_return(close: np.ndarray) -> Number:
    """Return the first-close-to-last-close return in percent."""
    if not len(close) or close[0] == 0:
        return None
    return finite_or_none((close[-1] / close[0] - 1.0) * 100.0)


def _mean_or_none(values: np.ndarray) -> Number:
    """Return the mean of ``values`` or None when empty."""
    return finite_or_none(np.mean(values)) if len(values) else None


def trade_metrics(trades: np.ndarray) -> dict[str, Number]:
    """Return the trade-list metrics (counts, rates, per-trade percent, streaks, fees)."""
    pnl, pct = trades["pnl"], trades["return_pct"]
    return {
        "totalTrades": int(len(trades)),
        "winningTrades": int(np.count_nonzero(pnl > 0)),
        "losingTrades": int(np.count_nonzero(pnl < 0)),
        "winRate": win_rate(pnl),
        "profitFactor": profit_factor(pnl),
        "avgHoldingDays": _mean_or_none(trades["holding_ms"] / MS_PER_DAY),
        "expectancy": _mean_or_none(pnl),
        "expectancyPct": _mean_or_none(pct),
        "sqn": sqn(pnl),
        "kellyCriterion": kelly_criterion(pnl),
        "bestTrade": finite_or_none(pct.max()) if len(pct) else None,
        "worstTrade": finite_or_none(pct.min()) if len(pct) else None,
        "avgTrade": _mean_or_none(pct),
        "avgWinningTrade": _mean_or_none(pct[pnl > 0]),
        "avgLosingTrade": _mean_or_none(pct[pnl < 0]),
        "grossProfit": float(pnl[pnl > 0].sum()),
        "grossLoss": float(pnl[pnl < 0].sum()),
        "maxConsecutiveWins": max_consecutive(pnl > 0),
        "maxConsecutiveLosses": max_consecutive(pnl < 0),
        "totalFees": float(trades["fees"].sum()),
    }


def return_sums(result: BacktestResult) -> np.ndarray | None:
    """Return the sums of the curve's returns and of their centred squares, as the compiled path
    computes them (``kernels.return_sums``), for ``compute_metrics`` and the guardrails to share
    (``guardrails.result_guardrails``); None on the numpy path or without bars."""
    if not (kernels.active() and len(result.equity)):
        return None
    sums: np.ndarray = kernels.return_sums(
        np.ascontiguousarray(result.equity, dtype=np.float64), float(result.config.initial_capital)
    )
    return sums


def compute_metrics(
    result: BacktestResult, bars: Bars, periods_per_year: float, *, sums: np.ndarray | None = None
) -> dict[str, Number]:
    """Return every metric as a JSON-safe dict with camelCase keys (see the module docstring).

    ``sums``: ``return_sums(result)`` when the caller computed it already (the same values).
    """
    if periods_per_year <= 0:
        raise ValueError("periods_per_year must be > 0")
    initial, equity = float(result.config.initial_capital), result.equity
    if not len(equity):
        equity = np.zeros(0)
    if kernels.active() and len(equity):
        curve_figures = _curve_metrics_jit(
            equity, initial, result.held_bars, bars.time, periods_per_year, _NO_SUMS if sums is None else sums
        )
    else:
        curve_figures = _curve_metrics(equity, initial, result.position, bars.time, periods_per_year)
    growth = cagr(equity, initial, periods_per_year) if len(equity) else None
    mdd = cast(float, curve_figures["maxDrawdown"])
    c = curve_figures
    out: dict[str, Number] = {
        "totalReturn": total_return(equity, initial),
        "annualizedReturn": growth,
        "maxDrawdown": mdd,
        "cagr": growth,
        "sharpeRatio": c["sharpeRatio"],
        "sortinoRatio": c["sortinoRatio"],
        "volatility": c["volatility"],
        "calmarRatio": calmar_ratio(growth, mdd),
        "maxDrawdownDuration": c["maxDrawdownDuration"],
        "maxDrawdownDurationBars": c["maxDrawdownDurationBars"],
        "ulcerIndex": c["ulcerIndex"],
        "exposure": c["exposure"],
        "buyHoldReturn": buy_hold_return(bars.close),
        "initialCapital": initial,
        "finalEquity": result.final_equity,
        "peakEquity": c["peakEquity"],
        "netProfit": result.final_equity - initial,
        "bars": int(len(equity)),
    }
    out.update(trade_metrics(result.trades))
    return {key: finite_or_none(v) if isinstance(v, float) else v for key, v in out.items()}


def _curve_metrics(
    equity: np.ndarray, initial: float, position: np.ndarray, time: np.ndarray, periods_per_year: float
) -> dict[str, Number]:
    """Return the equity-curve metrics (returns ratios, drawdowns, exposure, peak) with numpy."""
    # Same operations as bar_returns / drawdown / ulcer_index, written into reused buffers: at 1M
    # bars every fresh n-long temporary costs about a millisecond of page faults.
    curve = with_start(equity, initial)
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = np.divide(curve[1:], curve[:-1])
    returns -= 1.0
    dd = np.maximum.accumulate(curve)
    peak = float(dd[-1])  # the curve's max (NaN propagates through both, as in curve.max())
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(curve, dd, out=dd)
    dd -= 1.0
    dd_bars, dd_ms = max_drawdown_duration(dd, time)
    mdd = max_drawdown(dd)
    ulcer = float(np.sqrt(np.mean(np.square(dd, out=curve)))) * 100.0  # curve is not needed any more
    return {
        "maxDrawdown": mdd,
        **_return_ratios(returns, periods_per_year),
        "maxDrawdownDuration": dd_ms / MS_PER_DAY,
        "maxDrawdownDurationBars": dd_bars,
        "ulcerIndex": ulcer,
        "exposure": exposure(position),
        "peakEquity": peak,
    }


_NO_SUMS = np.empty(0)  # kernels.curve_stats computes the sums itself


def _curve_metrics_jit(
    equity: np.ndarray,
    initial: float,
    held: int,
    time: np.ndarray,
    periods_per_year: float,
    sums: np.ndarray = _NO_SUMS,
) -> dict[str, Number]:
    """Return what ``_curve_metrics`` returns, from one compiled pass over the curve (n >= 1).

    ``held`` is the number of bars with a position (``BacktestResult.held_bars``); ``sums`` the
    return sums when known (``return_sums``), else empty.
    """
    n = len(equity)
    stats = kernels.curve_stats(np.ascontiguousarray(equity, dtype=np.float64), initial, sums)
    total, centred_sq, downside_sq, dd_min, dd_sq, highest, start, length = stats.tolist()
    dd_bars, dd_ms = 0, 0
    if length > 0:
        peak, end = int(start), min(int(start) + int(length) + 1, n)
        dd_bars = int(length)
        dd_ms = int(time[max(end - 1, 0)]) - int(time[max(peak - 1, 0)])
    ratios: dict[str, Number] = {"sharpeRatio": None, "sortinoRatio": None, "volatility": None}
    if n >= 2:
        mean, scale = total / n, math.sqrt(periods_per_year)
        std, downside = math.sqrt(centred_sq / (n - 1)), math.sqrt(downside_sq / n)
        ratios = {
            "sharpeRatio": finite_or_none(mean / std * scale) if std > 0 else None,
            "sortinoRatio": finite_or_none(mean / downside * scale) if downside > 0 else None,
            "volatility": finite_or_none(std * scale * 100.0),
        }
    return {
        "maxDrawdown": dd_min * 100.0,
        **ratios,
        "maxDrawdownDuration": dd_ms / MS_PER_DAY,
        "maxDrawdownDurationBars": dd_bars,
        "ulcerIndex": math.sqrt(dd_sq / (n + 1)) * 100.0,
        "exposure": held / n * 100.0,
        "peakEquity": highest,
    }


def _return_ratios(returns: np.ndarray, periods_per_year: float) -> dict[str, Number]:
    """Return sharpe, sortino and volatility, computing the moments of ``returns`` once."""
    if len(returns) < 2:
        return {"sharpeRatio": None, "sortinoRatio": None, "volatility": None}
    # einsum sums of squares: a few single-threaded passes (np.dot would start BLAS threads).
    mean = float(returns.sum()) / len(returns)
    work = np.minimum(returns, 0.0)  # one n-long buffer: the losses, then the centred returns
    downside = math.sqrt(float(np.einsum("i,i->", work, work)) / len(returns))
    centred = np.subtract(returns, mean, out=work)
    std = math.sqrt(float(np.einsum("i,i->", centred, centred)) / (len(returns) - 1))
    scale = math.sqrt(periods_per_year)
    return {
        "sharpeRatio": finite_or_none(mean / std * scale) if std > 0 else None,
        "sortinoRatio": finite_or_none(mean / downside * scale) if downside > 0 else None,
        "volatility": finite_or_none(std * scale * 100.0),
    }
