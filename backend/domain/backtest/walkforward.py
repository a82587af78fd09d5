"""Walk-forward analysis: choose parameters in-sample, score them out-of-sample, stitch the result.

Windows (rolling, ``fold_windows``): the bars are cut into ``folds`` consecutive test windows of
``T`` bars that tile the end of the series, each preceded by a training window of ``L`` bars,
with ``T = floor(n / (folds + f / (1 - f)))`` for ``train_fraction`` f and ``L = n - folds * T``
(the rounding goes to training). Fold k trains on ``[k T, k T + L)`` and tests on
``[k T + L, (k + 1) T + L)``; the last test window ends at bar n.

Per fold, every candidate of the grid runs on the training window and the one with the best
``objective`` (a ``compute_metrics`` key, higher is better; the first candidate wins a tie, an
undefined value ranks last) is run on the test window. Signals are computed once per candidate on
all bars: a signal at bar t uses data up to t only (docs/engine.md), so a window's signals are
those it would have had with the bars up to its end. Every window starts flat; the test windows
run one after the other with the capital the previous one ended with, so their equity curves
join into one out-of-sample curve. Fill timing, fees and slippage are the engine's.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from backend.domain.backtest import engine
from backend.domain.backtest.guardrails import (
    DeflatedSharpe,
    SampleGap,
    curve_moments,
    deflated_sharpe,
    in_out_gap,
    trials_variance,
)
from backend.domain.backtest.metrics import bar_returns, compute_metrics, finite_or_none, sharpe_ratio
from backend.domain.backtest.strategies import ParamSpec
from backend.domain.backtest.types import TRADE_DTYPE, BacktestConfig, Signals
from backend.domain.bars import Bars

# compute_metrics keys where higher is better (the objectives a walk-forward may maximise)
OBJECTIVES = ("sharpeRatio", "sortinoRatio", "calmarRatio", "totalReturn", "cagr", "profitFactor", "sqn")
MIN_TEST_BARS = 10
MIN_TRAIN_BARS = 10
DEFAULT_STEPS = (0.75, 1.0, 1.25)  # the default grid: each parameter at 75 %, 100 % and 125 %

SignalsFn = Callable[[Bars, Mapping[str, Any]], Signals]
ProgressFn = Callable[[float], None]


@dataclass(frozen=True)
class FoldWindow:
    """Bar indexes (``stop`` exclusive) of one fold's training and test windows."""

    index: int
    train_start: int
    train_stop: int
    test_start: int
    test_stop: int


def fold_windows(n: int, folds: int, train_fraction: float) -> list[FoldWindow]:
    """Return the ``folds`` rolling windows over ``n`` bars (see the module docstring).

    Raise ValueError when ``folds`` < 2, ``train_fraction`` is outside (0, 1), or a window would
    hold fewer than MIN_TEST_BARS / MIN_TRAIN_BARS bars.
    """
    if folds < 2:
        raise ValueError("folds must be >= 2")
    if not 0.0 < train_fraction < 1.0:
        raise ValueError("train_fraction must be in (0, 1)")
    test = int(n / (folds + train_fraction / (1.0 - train_fraction)))
    train = n - folds * test
    if test < MIN_TEST_BARS or train < MIN_TRAIN_BARS:
        raise ValueError(
            f"{n} bars are too few for {folds} folds: each test window needs {MIN_TEST_BARS} bars "
            f"and each training window {MIN_TRAIN_BARS}"
        )
    return [
        FoldWindow(k, k * test, k * test + train, k * test + train, (k + 1) * test + train)
        for k in range(folds)
    ]


def min_bars(folds: int, train_fraction: float) -> int:
    """Return the fewest bars ``fold_windows`` accepts for ``folds`` and ``train_fraction``."""
    per_test = MIN_TEST_BARS * (folds + train_fraction / (1.0 - train_fraction))
    return max(math.ceil(per_test), folds * MIN_TEST_BARS + MIN_TRAIN_BARS)


def param_grid(base: Mapping[str, Any], grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Return every combination of ``grid``'s values (other parameters from ``base``), in order.

    The order is ``itertools.product`` over the grid's keys as given: it decides ties.
    """
    names = list(grid)
    return [{**base, **dict(zip(names, values, strict=True))} for values in itertools.product(*grid.values())]


def default_grid(params: Mapping[str, Any], specs: Mapping[str, ParamSpec]) -> dict[str, list[Any]]:
    """Return each numeric parameter at DEFAULT_STEPS of its value, kept in its bounds, deduplicated.

    Whole-number parameters are rounded; a value of 0 stays 0. Cross-field rules (fast < slow)
    are the caller's to check on the combinations.
    """
    grid: dict[str, list[Any]] = {}
    for name, spec in specs.items():
        value = params.get(name, spec.default)
        if spec.type not in ("int", "float") or value is None:
            continue
        values: list[Any] = []
        for step in DEFAULT_STEPS:
            v = float(value) * step
            if spec.min is not None:
                v = max(v, spec.min)
            if spec.max is not None:
                v = min(v, spec.max)
            candidate = int(round(v)) if spec.type == "int" else v
            if candidate not in values:
                values.append(candidate)
        grid[name] = values
    return grid


@dataclass(frozen=True)
class FoldResult:
    """One fold: its windows, the parameters chosen in-sample and how they did on each side."""

    window: FoldWindow
    params: dict[str, Any]
    train_score: float | None  # the objective on the training window
    test_score: float | None  # the same objective on the test window
    train_sharpe: float | None  # annualised
    test_sharpe: float | None
    test_return: float | None  # percent, the test window alone
    deflated: DeflatedSharpe | None  # of the in-sample choice among the grid's candidates


@dataclass(frozen=True)
class WalkForwardResult:
    """Folds, the stitched out-of-sample run and its degradation against the in-sample one.

    ``equity`` covers bars ``[start, n)`` (``start`` = the first test bar); ``trades`` are the
    test windows' trades with bar indexes into the whole series.
    """

    objective: str
    candidates: int
    train_fraction: float
    folds: list[FoldResult]
    start: int
    equity: np.ndarray
    trades: np.ndarray
    out_of_sample_return: float  # percent, over the stitched curve
    degradation: SampleGap  # mean in-sample Sharpe of the choices against the stitched OOS Sharpe


def _window(signals: Signals, start: int, stop: int) -> Signals:
    """Return the signals of bars ``[start, stop)``."""

    def cut(a: np.ndarray | None) -> np.ndarray | None:
        return None if a is None else a[start:stop]

    return Signals(
        signals.entries[start:stop],
        signals.exits[start:stop],
        cut(signals.short_entries),
        cut(signals.short_exits),
    )


def _metrics(
    bars: Bars, signals: Signals, config: BacktestConfig, start: int, stop: int, ppy: float
) -> dict[str, Any]:
    window = bars.slice(start, stop)
    return compute_metrics(engine.run(window, _window(signals, start, stop), config), window, ppy)


def _score(value: Any) -> float:
    number = finite_or_none(value)
    return -math.inf if number is None else number


def walk_forward(
    bars: Bars,
    candidates: Sequence[Mapping[str, Any]],
    signals_fn: SignalsFn,
    config: BacktestConfig,
    *,
    folds: int,
    train_fraction: float,
    periods_per_year: float,
    objective: str = "sharpeRatio",
    progress: ProgressFn | None = None,
) -> WalkForwardResult:
    """Run a walk-forward analysis of ``candidates`` (parameter dicts for ``signals_fn``) on ``bars``.

    ``progress`` receives the completed fraction in [0, 1]. Raise ValueError for bad windows
    (``fold_windows``), an unknown objective or no candidates.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}")
    if not candidates:
        raise ValueError("candidates must not be empty")
    windows = fold_windows(len(bars), folds, train_fraction)
    report = progress or (lambda _f: None)
    scores = np.full((len(candidates), folds), -math.inf)
    sharpes: list[list[float | None]] = [[None] * len(candidates) for _ in windows]
    for c, params in enumerate(candidates):
        signals = signals_fn(bars, params)
        for w in windows:
            m = _metrics(bars, signals, config, w.train_start, w.train_stop, periods_per_year)
            scores[c, w.index] = _score(m.get(objective))
            sharpes[w.index][c] = m.get("sharpeRatio")
        report(0.9 * (c + 1) / len(candidates))
    chosen = [int(np.argmax(scores[:, w.index])) for w in windows]  # argmax: the first best wins
    folds_out, pieces, trades = _out_of_sample(
        bars, candidates, signals_fn, config, windows, chosen, sharpes, scores, periods_per_year, objective
    )
    report(1.0)
    return _stitched(
        config, train_fraction, folds_out, pieces, trades, len(candidates), objective, periods_per_year
    )


def _out_of_sample(
    bars: Bars,
    candidates: Sequence[Mapping[str, Any]],
    signals_fn: SignalsFn,
    config: BacktestConfig,
    windows: list[FoldWindow],
    chosen: list[int],
    sharpes: list[list[float | None]],
    scores: np.ndarray,
    ppy: float,
    objective: str,
) -> tuple[list[FoldResult], list[np.ndarray], list[np.ndarray]]:
    """Run each fold's choice on its test window with the capital carried over, and stitch."""
    cache: dict[int, Signals] = {}
    capital = float(config.initial_capital)
    pieces: list[np.ndarray] = []
    trades: list[np.ndarray] = []
    results: list[FoldResult] = []
    for w, c in zip(windows, chosen, strict=True):
        if c not in cache:
            cache[c] = signals_fn(bars, candidates[c])
        signals = cache[c]
        window = bars.slice(w.test_start, w.test_stop)
        if capital > 0:
            run = engine.run(
                window, _window(signals, w.test_start, w.test_stop), replace(config, initial_capital=capital)
            )
            test = compute_metrics(run, window, ppy)
            equity, fold_trades = run.equity, run.trades.copy()
            fold_trades["entry_index"] += w.test_start
            fold_trades["exit_index"] += w.test_start
        else:  # the account is gone: nothing more to trade
            test, equity, fold_trades = {}, np.zeros(len(window)), np.zeros(0, TRADE_DTYPE)
        pieces.append(equity)
        trades.append(fold_trades)
        capital = float(equity[-1]) if len(equity) else capital
        deflated = _train_deflated(bars, signals, config, w, sharpes[w.index], ppy)
        results.append(
            FoldResult(
                window=w,
                params=dict(candidates[c]),
                train_score=finite_or_none(scores[c, w.index]),
                test_score=finite_or_none(test.get(objective)),
                train_sharpe=sharpes[w.index][c],
                test_sharpe=test.get("sharpeRatio"),
                test_return=test.get("totalReturn"),
                deflated=deflated,
            )
        )
    return results, pieces, trades


def _train_deflated(
    bars: Bars,
    signals: Signals,
    config: BacktestConfig,
    w: FoldWindow,
    fold_sharpes: list[float | None],
    ppy: float,
) -> DeflatedSharpe | None:
    """Return the DSR of the chosen candidate on its training window among the fold's candidates."""
    window = bars.slice(w.train_start, w.train_stop)
    run = engine.run(window, _window(signals, w.train_start, w.train_stop), config)
    m = curve_moments(run.equity, float(config.initial_capital))
    if m is None:
        return None
    trials, variance = trials_variance(fold_sharpes, ppy)
    return deflated_sharpe(m, trials=trials, sharpe_variance=variance)


def _stitched(
    config: BacktestConfig,
    train_fraction: float,
    folds: list[FoldResult],
    pieces: list[np.ndarray],
    trades: list[np.ndarray],
    candidates: int,
    objective: str,
    ppy: float,
) -> WalkForwardResult:
    """Join the test windows into one out-of-sample result and measure its degradation."""
    initial = float(config.initial_capital)
    equity = np.concatenate(pieces)
    oos_sharpe = sharpe_ratio(bar_returns(equity, initial), ppy)
    train = [f.train_sharpe for f in folds if f.train_sharpe is not None]
    in_sample = float(np.mean(train)) if train else None
    return WalkForwardResult(
        objective=objective,
        candidates=candidates,
        train_fraction=train_fraction,
        folds=folds,
        start=folds[0].window.test_start,
        equity=equity,
        trades=np.concatenate(trades) if trades else np.zeros(0, TRADE_DTYPE),
        out_of_sample_return=(float(equity[-1]) / initial - 1.0) * 100.0,
        degradation=in_out_gap(in_sample, oos_sharpe),
    )
