"""Walk-forward analysis of a backtest: the request's rules at submit, the work in the job, the JSON.

A run may ask for ``walk_forward: {folds, train_fraction, params?, objective?}``. At submit the
candidates are fixed (``plan``): the given grid ``params`` (``{"fast": [5, 10, 20]}``; parameters
not in it keep the run's values), or by default each numeric parameter of the kind at 75 %, 100 %
and 125 % of the run's value (``domain.backtest.walkforward.default_grid``). Combinations that
break the kind's cross-field rule (fast < slow) are dropped. The plan travels in the job's payload;
the job runs ``domain.backtest.walkforward.walk_forward`` after the plain backtest and stores
``to_json`` of it with the result. Errors are 422s naming ``walk_forward.<field>``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from backend.core.jobs import JobFailed
from backend.domain.backtest import strategies as domain_strategies
from backend.domain.backtest import walkforward as wf
from backend.domain.backtest.guardrails import SampleGap
from backend.domain.backtest.metrics import finite_or_none
from backend.domain.backtest.types import BacktestConfig, Signals
from backend.domain.bars import Bars
from backend.modules.backtests.errors import InvalidBacktest
from backend.modules.strategies import service as strategies_service

MAX_CANDIDATES = 64  # parameter combinations per walk-forward (each runs once per fold)
FIELD = "walk_forward"


def _invalid(message: str, field: str) -> InvalidBacktest:
    return InvalidBacktest(message, fields={f"{FIELD}.{field}" if field else FIELD: [message]})


def _specs(kind: str) -> dict[str, domain_strategies.ParamSpec]:
    """Return the numeric parameter specs of a built-in kind; 422 for a kind without any."""
    try:
        specs = domain_strategies.get_strategy(kind).params
    except domain_strategies.UnknownStrategyError:
        specs = {}
    numeric = {name: s for name, s in specs.items() if s.type in ("int", "float")}
    if not numeric:
        raise _invalid(f"The strategy kind {kind!r} has no parameters to choose.", "")
    return numeric


def _given_grid(
    grid: Mapping[str, list[Any]], specs: Mapping[str, domain_strategies.ParamSpec]
) -> dict[str, list[Any]]:
    """Return the grid's values checked against the kind's parameter specs (422 naming the field)."""
    out: dict[str, list[Any]] = {}
    for name, values in grid.items():
        if name not in specs:
            raise _invalid(f"Unknown parameter {name!r}.", f"params.{name}")
        checked = []
        for value in values:
            clean, errors = specs[name].check(value)
            if errors:
                raise _invalid(f"{value!r}: {' '.join(errors)}", f"params.{name}")
            if clean not in checked:
                checked.append(clean)
        out[name] = checked
    return out


def _candidates(kind: str, params: Mapping[str, Any], grid: Mapping[str, list[Any]]) -> list[dict[str, Any]]:
    """Return the grid's combinations that the kind accepts (cross-field rules), bounded."""
    size = 1
    for values in grid.values():
        size *= len(values)
    if size > MAX_CANDIDATES:
        raise _invalid(f"The grid has {size} combinations; at most {MAX_CANDIDATES} are allowed.", "params")
    kept = []
    for combo in wf.param_grid(params, grid):
        try:
            kept.append(domain_strategies.validate_params(kind, combo))
        except domain_strategies.ParamError:
            continue
    if not kept:
        raise _invalid("No combination of the grid satisfies the strategy's rules.", "params")
    return kept


def plan(*, kind: str, params: Mapping[str, Any], request: Mapping[str, Any], bars: int) -> dict[str, Any]:
    """Return the job payload of a walk-forward request, or raise InvalidBacktest (422).

    ``bars`` is the number of bars the range is expected to hold (checked against the windows).
    """
    specs = _specs(kind)
    folds, fraction = int(request["folds"]), float(request["train_fraction"])
    need = wf.min_bars(folds, fraction)
    if bars < need:
        raise _invalid(
            f"{folds} folds with train_fraction {fraction} need {need} bars; the range holds {bars}.",
            "folds",
        )
    given = request.get("params")
    grid = _given_grid(given, specs) if given else wf.default_grid(params, specs)
    return {
        "folds": folds,
        "trainFraction": fraction,
        "objective": request.get("objective") or "sharpeRatio",
        "grid": grid,
        "candidates": _candidates(kind, params, grid),
    }


def run(
    *,
    kind: str,
    bars: Bars,
    config: BacktestConfig,
    periods_per_year: float,
    request: Mapping[str, Any],
    progress: Callable[[float], None],
) -> wf.WalkForwardResult:
    """Run the planned walk-forward on the job's bars (``progress`` gets a fraction in [0, 1])."""

    def signals(b: Bars, p: Mapping[str, Any]) -> Signals:
        return strategies_service.compute_signals(kind=kind, params=p, bars=b)

    try:
        return wf.walk_forward(
            bars,
            request["candidates"],
            signals,
            config,
            folds=int(request["folds"]),
            train_fraction=float(request["trainFraction"]),
            periods_per_year=periods_per_year,
            objective=str(request["objective"]),
            progress=progress,
        )
    except ValueError as exc:  # fewer bars arrived than the range promised
        raise JobFailed(f"Walk-forward analysis impossible: {exc}.", reason="walk_forward_too_short") from exc


def gap_json(gap: SampleGap) -> dict[str, Any]:
    """Return the degradation object ``{inSampleSharpe, outOfSampleSharpe, sharpeGap, efficiency}``."""
    return {
        "inSampleSharpe": finite_or_none(gap.in_sample_sharpe),
        "outOfSampleSharpe": finite_or_none(gap.out_of_sample_sharpe),
        "sharpeGap": finite_or_none(gap.gap),
        "efficiency": finite_or_none(gap.efficiency),
    }


def _fold_json(f: wf.FoldResult, bars: Bars) -> dict[str, Any]:
    w, time = f.window, bars.time
    d = f.deflated
    return {
        "index": w.index,
        "trainFrom": int(time[w.train_start]),
        "trainTo": int(time[w.train_stop - 1]),
        "testFrom": int(time[w.test_start]),
        "testTo": int(time[w.test_stop - 1]),
        "trainBars": w.train_stop - w.train_start,
        "testBars": w.test_stop - w.test_start,
        "params": f.params,
        "trainScore": finite_or_none(f.train_score),
        "testScore": finite_or_none(f.test_score),
        "trainSharpe": finite_or_none(f.train_sharpe),
        "testSharpe": finite_or_none(f.test_sharpe),
        "testReturn": finite_or_none(f.test_return),
        "deflatedSharpe": finite_or_none(d.value) if d is not None else None,
    }


def to_json(
    result: wf.WalkForwardResult,
    request: Mapping[str, Any],
    bars: Bars,
    equity_rows: Callable[[Any, Any], list[list[Any]]],
) -> dict[str, Any]:
    """Return the stored walk-forward object (camelCase, full precision; the curve via ``equity_rows``)."""
    degradation = gap_json(result.degradation)
    return {
        "folds": int(request["folds"]),
        "trainFraction": float(request["trainFraction"]),
        "objective": result.objective,
        "grid": request["grid"],
        "candidates": result.candidates,
        "windows": [_fold_json(f, bars) for f in result.folds],
        "outOfSample": {
            "from": int(bars.time[result.start]),
            "totalReturn": finite_or_none(result.out_of_sample_return),
            "sharpeRatio": degradation["outOfSampleSharpe"],
            "trades": len(result.trades),
            "equity": equity_rows(bars.time[result.start :], result.equity),
        },
        "degradation": degradation,
    }
