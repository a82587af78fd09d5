"""Parameter sweeps: one job that fans out into chunks on the ``sweeps`` queue, any worker, any machine.

Lifecycle (the `jobs` row is the sweep's only status record; docs/backtests.md "Sweeps")::

    submit_sweep      validate (space, limit, objective, strategy), sweeps row + PENDING job
    backtests.sweep   (the job, queue backtests) write the chunk rows once, send every chunk that
                      is due as a ``backtests.sweep_chunk`` task (queue sweeps), hand the job off:
                      it stays RUNNING and the chunks finish it
    sweep_chunk       claim the chunk (one worker at a time), load the bars ONCE, run its slice of
                      the space; every BEAT_EVERY_S refresh the chunk's claim and the job's
                      heartbeat and stop if the job is no longer active (a cancel); then ONE
                      transaction, under the job row's lock: insert the runs (ON CONFLICT DO
                      NOTHING on (sweep, run index)), mark the chunk done (NULL -> set, else it was
                      a duplicate and counts nothing), add it to the sweep's counters and the
                      job's progress; the chunk that makes chunks_done == chunks_total computes the
                      guardrails and sets the job SUCCESS in that same transaction
    lost chunk        no chunk beats for JOB_STALE_AFTER_S -> the reaper requeues the sweep job ->
                      its work runs again and resends chunks whose claim went stale (or that were
                      sent long ago and never claimed); a chunk claimed more than JOB_MAX_ATTEMPTS
                      times fails the sweep (``worker_lost``)
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import Float, select

from backend.core import jobs
from backend.core.db import get_owned_or_404, transactional
from backend.core.errors import AppError
from backend.core.pagination import Page, paginate
from backend.domain.backtest import ENGINE_VERSION
from backend.extensions import db
from backend.modules.backtests import charts, service
from backend.modules.backtests import sweep_space as space_rules
from backend.modules.backtests.errors import (
    InvalidSweep,
    SweepNotCancellable,
    SweepNotFound,
    SweepTooLarge,
)
from backend.modules.backtests.sweep_models import Sweep, SweepRun
from backend.modules.backtests.sweep_work import JOB_KIND, best_rows, field_errors, run_params
from backend.modules.strategies import service as strategies_service

logger = logging.getLogger(__name__)

BEST_RUNS = 10

# Every key of compute_metrics (a test holds them equal). Objectives in MINIMIZED default to
# "lower is better"; the rest (drawdowns are negative percents) to "higher is better".
KPIS = (
    "totalReturn",
    "annualizedReturn",
    "maxDrawdown",
    "cagr",
    "sharpeRatio",
    "sortinoRatio",
    "volatility",
    "calmarRatio",
    "maxDrawdownDuration",
    "maxDrawdownDurationBars",
    "ulcerIndex",
    "exposure",
    "buyHoldReturn",
    "initialCapital",
    "finalEquity",
    "peakEquity",
    "netProfit",
    "bars",
    "totalTrades",
    "winningTrades",
    "losingTrades",
    "winRate",
    "profitFactor",
    "avgHoldingDays",
    "expectancy",
    "expectancyPct",
    "sqn",
    "kellyCriterion",
    "bestTrade",
    "worstTrade",
    "avgTrade",
    "avgWinningTrade",
    "avgLosingTrade",
    "grossProfit",
    "grossLoss",
    "maxConsecutiveWins",
    "maxConsecutiveLosses",
    "totalFees",
)
MINIMIZED = frozenset(
    {
        "volatility",
        "maxDrawdownDuration",
        "maxDrawdownDurationBars",
        "ulcerIndex",
        "losingTrades",
        "maxConsecutiveLosses",
        "totalFees",
    }
)


@dataclass(frozen=True)
class SweepSubmitted:
    """The ids a sweep submit returns (HTTP 202)."""

    job_id: str
    sweep_id: str


# --- submit --------------------------------------------------------------------------------------


def _limit() -> int:
    return int(current_app.config["SWEEP_MAX_RUNS"])


def _too_large(field: str, runs: int | None) -> SweepTooLarge:
    limit = _limit()
    shown = "an unbounded number of" if runs is None else str(runs)
    return SweepTooLarge(
        f"The sweep makes {shown} runs; the limit SWEEP_MAX_RUNS is {limit}.",
        fields={field: [f"At most {limit} runs (SWEEP_MAX_RUNS)."]},
        details={"limit": "SWEEP_MAX_RUNS", "max": limit, "requested": runs},
    )


def plan_runs(
    raw_space: Any, *, method: str, samples: int | None, seed: int
) -> tuple[list[space_rules.Axis], int]:
    """Return the axes and the run count of a sweep request; 422 naming the field when it cannot run."""
    try:
        axes = space_rules.parse_space(raw_space, method=method)
    except space_rules.SpaceError as exc:
        raise InvalidSweep(fields=exc.fields) from None
    if method == "random" and not samples:
        raise InvalidSweep(fields={"samples": ["A random sweep needs samples (at least 1)."]})
    if method == "grid":
        size = space_rules.grid_size(axes)
        if size is None or size > _limit():
            raise _too_large("space", size)
    elif int(samples or 0) > _limit():
        raise _too_large("samples", samples)
    return axes, space_rules.run_count(axes, method=method, samples=samples)


def _direction(objective: str, direction: str | None) -> bool:
    """Return whether the objective is maximised; 422 on a KPI the metrics do not have."""
    if objective not in KPIS:
        raise InvalidSweep(
            f"Unknown objective {objective!r}.",
            fields={"objective": ["Must be a KPI name, e.g. sharpeRatio."]},
        )
    if direction is None:
        return objective not in MINIMIZED
    return direction == "max"


def _check_points(
    kind: str, base: Mapping[str, Any], points: Sequence[Mapping[str, Any]], actor_id: str
) -> None:
    """Refuse a space whose names are not parameters of ``kind`` or in which no point is valid.

    Points that break a cross-field rule (an SMA's fast >= slow) are allowed: each is recorded as a
    run with its error. Stops at the first valid point, so this is one validation in the usual case.
    """
    first_errors: dict[str, list[str]] | None = None
    for point in points:
        try:
            strategies_service.validate_definition(kind, {**base, **point}, actor_id=actor_id)
            return
        except AppError as exc:
            if exc.http_status != 422:
                raise
            errors = field_errors(exc)
        unknown = {
            f"space.{name}": [f"Not a parameter of strategy kind {kind!r}."]
            for name in point
            if "Unknown parameter." in errors.get(f"params.{name}", [])
        }
        if unknown:
            raise InvalidSweep(fields=unknown)
        first_errors = first_errors or errors
    raise InvalidSweep(
        "No point of the space is a valid parameter set.",
        fields={"space": [f"{k}: {' '.join(v)}" for k, v in (first_errors or {}).items()]},
    )


@transactional
def submit_sweep(
    *,
    actor_id: str,
    space: Any,
    strategy_id: str | None = None,
    strategy: Mapping[str, Any] | None = None,
    symbol: str | None = None,
    interval: str | None = None,
    start: int | None = None,
    end: int | None = None,
    method: str = "grid",
    samples: int | None = None,
    seed: int = 0,
    objective: str = "sharpeRatio",
    direction: str | None = None,
    **options: Any,
) -> SweepSubmitted:
    """Validate a sweep, create its row and job (enqueued after commit); 422 naming each bad field."""
    maximize = _direction(objective, direction)
    axes, total = plan_runs(space, method=method, samples=samples, seed=seed)
    d = service.resolve_definition(actor_id, strategy_id, strategy)
    symbol = strategies_service.known_symbol(symbol or d.symbol or "")
    interval = interval or d.interval or "1h"
    start, end = service.check_range(interval, start, end)
    points = space_rules.expand(axes, method=method, samples=samples, seed=seed)
    _check_points(d.kind, d.params, points, actor_id)
    chunk_runs = int(current_app.config["SWEEP_CHUNK_RUNS"])
    job = jobs.submit(JOB_KIND, owner_id=actor_id, subject_id=d.subject_id)
    row = Sweep(
        owner_id=actor_id,
        job_id=job.id,
        job=job,
        strategy_id=d.strategy_id,
        strategy_version_id=d.version_id,
        name=options.get("name") or f"{d.name} sweep"[:200],
        kind=d.kind,
        params=d.params,
        symbol=symbol,
        interval=interval,
        start_ms=start,
        end_ms=end,
        provider=options.get("provider") or "auto",
        initial_capital=Decimal(options.get("initial_capital") or 10000),
        fee_bps=Decimal(options.get("fee_bps") or 0),
        slippage_bps=Decimal(options.get("slippage_bps") or 0),
        allow_short=bool(options.get("allow_short", False)),
        engine_version=ENGINE_VERSION,
        space=dict(space),
        method=method,
        samples=samples,
        seed=int(seed),
        objective=objective,
        maximize=maximize,
        total_runs=total,
        chunk_runs=chunk_runs,
        chunks_total=-(-total // chunk_runs),
    )
    db.session.add(row)
    db.session.flush()
    return SweepSubmitted(job_id=job.id, sweep_id=row.id)


# --- the job: fan out ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RunView:
    """One run of a sweep as the API shows it."""

    index: int
    params: dict[str, Any]
    metrics: dict[str, Any] | None
    objective: float | None
    error: str | None


def _run_view(run: SweepRun) -> RunView:
    return RunView(run.idx, dict(run.params), run.metrics, run.objective, run.error)


@dataclass(frozen=True)
class SweepView:
    """A sweep with its job's status and progress, its best runs and its guardrails."""

    row: Sweep
    best: list[RunView]

    def __getattr__(self, name: str) -> Any:  # the row's columns, for the schema
        return getattr(self.row, name)

    @property
    def status(self) -> str:
        return self.row.job.status

    @property
    def progress(self) -> int:
        return self.row.job.progress

    @property
    def start(self) -> int:
        return self.row.start_ms

    @property
    def end(self) -> int:
        return self.row.end_ms

    @property
    def direction(self) -> str:
        return "max" if self.row.maximize else "min"

    @property
    def error(self) -> dict[str, Any] | None:
        job = self.row.job
        return {"reason": job.error_reason, "message": job.error} if job.error_reason else None


def _owned(actor_id: str, sweep_id: str, *, lock: bool = False) -> Sweep:
    return get_owned_or_404(Sweep, sweep_id, actor_id=actor_id, error=SweepNotFound, lock=lock)


def get_sweep(*, actor_id: str, sweep_id: str) -> SweepView:
    """Return one of the caller's sweeps: status, progress, the best BEST_RUNS runs, guardrails."""
    row = _owned(actor_id, sweep_id)
    return SweepView(row, [_run_view(r) for r in best_rows(row, BEST_RUNS)])


def list_runs(*, actor_id: str, sweep_id: str, page: int, page_size: int) -> Page[RunView]:
    """Return one page of a sweep's stored runs, by run index."""
    row = _owned(actor_id, sweep_id)
    stmt = select(SweepRun).where(SweepRun.sweep_id == row.id).order_by(SweepRun.idx)
    result = paginate(stmt, page=page, page_size=page_size)
    return Page(items=[_run_view(r) for r in result.items], total=result.total)


def get_heatmap(*, actor_id: str, sweep_id: str, x: str, y: str, metric: str | None = None) -> dict[str, Any]:
    """Return a metric over two swept parameters (best per cell when more than two vary)."""
    return _heatmap(_owned(actor_id, sweep_id), x, y, metric)


def _heatmap(row: Sweep, x: str, y: str, metric: str | None) -> dict[str, Any]:
    metric = metric or row.objective
    fields: dict[str, list[str]] = {}
    for name, value in (("x", x), ("y", y)):
        if value not in row.space:
            fields[name] = [f"Must be a swept parameter: {', '.join(row.space)}."]
    if x == y:
        fields["y"] = ["Must differ from x."]
    if metric not in KPIS:
        fields["metric"] = ["Must be a KPI name, e.g. sharpeRatio."]
    if fields:
        raise InvalidSweep(fields=fields)
    value = SweepRun.metrics[metric].astext.cast(Float)
    rows = db.session.execute(
        select(SweepRun.idx, SweepRun.params, value).where(SweepRun.sweep_id == row.id).order_by(SweepRun.idx)
    ).all()
    maximize = metric not in MINIMIZED if metric != row.objective else row.maximize
    grid = space_rules.heatmap([(i, p, v) for i, p, v in rows], x, y, maximize=maximize)
    return {
        "x": x,
        "y": y,
        "metric": metric,
        "x_values": grid.x_values,
        "y_values": grid.y_values,
        "values": grid.values,
        "runs": grid.runs,
        "aggregated": grid.aggregated,
    }


def get_heatmap_picture(
    *,
    actor_id: str,
    sweep_id: str,
    x: str,
    y: str,
    fmt: str,
    width: int,
    height: int,
    metric: str | None = None,
) -> charts.Chart:
    """Draw the heatmap of one of the caller's sweeps as PNG or SVG (the same matrix as ``get_heatmap``).

    The ETag names the runs it was drawn from, so a client re-fetching a running sweep gets a new
    picture as runs arrive and a 304-free, cheap answer never goes stale.
    """
    row = _owned(actor_id, sweep_id)
    data = _heatmap(row, x, y, metric)
    image = charts.heatmap(
        data["values"],
        data["x_values"],
        data["y_values"],
        fmt=fmt,
        x_label=x,
        y_label=y,
        metric=data["metric"],
        width=width,
        height=height,
    )
    key = f"{row.id}:{row.runs_done}:{row.job.status}:{x}:{y}:{data['metric']}:{fmt}:{width}x{height}"
    content_type = "image/png" if fmt == "png" else "image/svg+xml"
    return charts.Chart(image, content_type, hashlib.sha256(key.encode()).hexdigest()[:32])


@transactional
def cancel_sweep(*, actor_id: str, sweep_id: str) -> SweepView:
    """Cancel one of the caller's queued or running sweeps (409 once done); chunks stop at their next beat."""
    row = _owned(actor_id, sweep_id)
    if not jobs.cancel_job(job_id=row.job_id):
        raise SweepNotCancellable()
    db.session.refresh(row.job)
    return SweepView(row, [])


@transactional
def promote_run(*, actor_id: str, sweep_id: str, index: str | int) -> service.Submitted:
    """Submit a normal backtest of one run (the sweep's pinned version with that run's parameters)."""
    row = _owned(actor_id, sweep_id)
    text_index = str(index)
    number = int(text_index) if text_index.isdigit() and len(text_index) < 10 else -1
    run = db.session.get(SweepRun, (row.id, number)) if number >= 0 else None
    if run is None:
        raise SweepNotFound("Sweep run not found.")
    if run.metrics is None:
        raise InvalidSweep(
            "This run has no result to promote.", fields={"index": [run.error or "No result."]}
        )
    params = run_params(row, run.params)
    if row.strategy_id is not None and row.strategy_version_id is not None:
        pinned = strategies_service.get_version_for_run(
            actor_id=actor_id, strategy_id=row.strategy_id, version_id=row.strategy_version_id
        )
        d = service.Definition(
            pinned.strategy_id,
            pinned.version_id,
            row.kind,
            params,
            pinned.name,
            row.symbol,
            row.interval,
            pinned.strategy_id if pinned.owner_id == actor_id else None,
        )
    else:
        d = service.Definition(None, None, row.kind, params, row.kind, row.symbol, row.interval)
    return service.submit_definition(  # checks BACKTEST_MAX_ACTIVE and the range again
        actor_id=actor_id,
        d=d,
        symbol=row.symbol,
        interval=row.interval,
        start=row.start_ms,
        end=row.end_ms,
        provider=row.provider,
        initial_capital=row.initial_capital,
        fee_bps=row.fee_bps,
        slippage_bps=row.slippage_bps,
        allow_short=row.allow_short,
        name=f"{row.name} #{index}"[:200],
    )
