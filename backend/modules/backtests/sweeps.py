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
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from celery import shared_task
from flask import current_app
from sqlalchemy import Float, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from backend.core import jobs
from backend.core.db import get_owned_or_404, independent_session, now_ms, transactional
from backend.core.errors import AppError
from backend.core.jobs import Job
from backend.core.pagination import Page, paginate
from backend.domain.backtest import ENGINE_VERSION, engine, guardrails
from backend.domain.backtest.metrics import bar_returns, compute_metrics
from backend.domain.backtest.types import BacktestConfig
from backend.domain.bars import Bars
from backend.extensions import db
from backend.modules.backtests import charts, results, service
from backend.modules.backtests import sweep_space as space_rules
from backend.modules.backtests.errors import (
    InvalidSweep,
    SweepNotCancellable,
    SweepNotFound,
    SweepTooLarge,
)
from backend.modules.backtests.sweep_models import Sweep, SweepChunk, SweepRun
from backend.modules.market import service as market_service
from backend.modules.strategies import service as strategies_service

logger = logging.getLogger(__name__)

JOB_KIND = "backtests.sweep"
CHUNK_TASK = "backtests.sweep_chunk"  # routed to the `sweeps` queue (backend/celery_app.py)
BEST_RUNS = 10
BEAT_EVERY_S = 0.25

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


def _field_errors(exc: AppError) -> dict[str, list[str]]:
    fields = exc.details.get("fields") or {}
    return {str(k): list(v) for k, v in fields.items()} or {"params": [exc.message]}


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
            errors = _field_errors(exc)
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


@jobs.job_kind(JOB_KIND)
def fan_out(ctx: jobs.JobContext) -> None:
    """Write the chunk rows (once), send every due chunk to the `sweeps` queue, hand the job off."""
    sweep_id = _prepare_chunks(ctx.job_id)
    due = _due_chunks(sweep_id)
    task = current_app.extensions["celery"].tasks[CHUNK_TASK]
    ctx.hand_off()  # set first: in eager mode the last chunk below completes the job
    for chunk in due:
        task.apply_async(kwargs={"sweep_id": sweep_id, "chunk": chunk}, retry=False)


@transactional
def _prepare_chunks(job_id: str) -> str:
    """Insert the sweep's chunk rows (a rerun inserts none); return the sweep id.

    A sweep's retries are counted per chunk, so the job's own attempt count goes back to 1: a
    requeue because chunks waited in a busy queue is not a failure.
    """
    row = db.session.scalars(select(Sweep).where(Sweep.job_id == job_id)).one()
    rows = [
        {
            "sweep_id": row.id,
            "idx": i,
            "first": i * row.chunk_runs,
            "stop": min((i + 1) * row.chunk_runs, row.total_runs),
        }
        for i in range(row.chunks_total)
    ]
    db.session.execute(pg_insert(SweepChunk).values(rows).on_conflict_do_nothing())
    db.session.execute(update(Job).where(Job.id == job_id).values(attempts=1))
    return row.id


@transactional
def _due_chunks(sweep_id: str) -> list[int]:
    """Mark as sent and return the chunks to send: never sent, stale claim, or sent long ago and unclaimed."""
    now = now_ms()
    stale = int(current_app.config["JOB_STALE_AFTER_S"]) * 1000
    c = SweepChunk
    due = c.done_at.is_(None) & (
        c.sent_at.is_(None)
        | (c.claimed_at.is_not(None) & (c.claimed_at < now - stale))
        | (c.claimed_at.is_(None) & (c.sent_at < now - 5 * stale))
    )
    return list(
        db.session.scalars(
            update(c).where(c.sweep_id == sweep_id, due).values(sent_at=now).returning(c.idx)
        ).all()
    )


# --- a chunk -------------------------------------------------------------------------------------


class _Stopped(Exception):
    """The sweep's job is no longer active (cancelled, failed or completed): stop the chunk."""


@dataclass(frozen=True)
class _Claim:
    first: int
    stop: int
    attempts: int
    job_id: str


@shared_task(name=CHUNK_TASK, acks_late=True, ignore_result=True)
def run_chunk(sweep_id: str, chunk: int) -> str:
    """Run one chunk of a sweep (the Celery task; see execute_chunk)."""
    return execute_chunk(sweep_id, chunk)


def execute_chunk(sweep_id: str, chunk: int) -> str:
    """Claim and run chunk ``chunk`` of a sweep, store its runs once; return what happened.

    ``skipped`` (done, claimed by a live worker, or the sweep is not active), ``stored``,
    ``completed`` (this chunk finished the sweep), ``duplicate`` (another delivery stored it first),
    ``stopped`` (cancelled while running) or ``failed``. Never raises, so the task acks.
    """
    claim = _claim_chunk(sweep_id, chunk)
    if claim is None:
        return "skipped"
    if claim.attempts > int(current_app.config["JOB_MAX_ATTEMPTS"]):
        _fail(claim.job_id, "worker_lost", "A chunk of the sweep stopped its worker repeatedly.")
        return "failed"
    try:
        row = _sweep_row(sweep_id)
        bars = _load_bars(row)
        runs = _compute(row, claim, bars, _Beat(sweep_id, chunk, claim.job_id))
        return _store_chunk(row, chunk, runs, bars)
    except _Stopped:
        db.session.rollback()
        return "stopped"
    except jobs.JobFailed as exc:
        db.session.rollback()
        _fail(claim.job_id, exc.reason, exc.message)
        return "failed"
    except Exception as exc:  # noqa: BLE001 - any failure of a chunk fails the sweep, with a reason
        db.session.rollback()
        logger.exception("chunk %s of sweep %s failed", chunk, sweep_id)
        reason, message = "internal_error", "The sweep failed unexpectedly."
        if isinstance(exc, AppError):
            reason, message = exc.reason, exc.message
        _fail(claim.job_id, reason, message)
        return "failed"


def _claim_chunk(sweep_id: str, chunk: int) -> _Claim | None:
    """Take the chunk if it is not done, nobody holds a live claim and the sweep's job is active."""
    now = now_ms()
    stale = int(current_app.config["JOB_STALE_AFTER_S"]) * 1000
    c = SweepChunk
    active = (
        select(Job.id)
        .join(Sweep, Sweep.job_id == Job.id)
        .where(Sweep.id == sweep_id, Job.status.in_(jobs.ACTIVE))
        .scalar_subquery()
    )
    with independent_session() as s:
        got = s.execute(
            update(c)
            .where(
                c.sweep_id == sweep_id,
                c.idx == chunk,
                c.done_at.is_(None),
                c.claimed_at.is_(None) | (c.claimed_at < now - stale),
                active.is_not(None),
            )
            .values(claimed_at=now, attempts=c.attempts + 1)
            .returning(c.first, c.stop, c.attempts, active)
        ).first()
    return _Claim(*got) if got is not None else None


def _fail(job_id: str, reason: str, message: str) -> None:
    """Fail the sweep's job (if still active); its other chunks stop at their next beat."""
    with independent_session() as s:
        s.execute(
            update(Job)
            .where(Job.id == job_id, Job.status.in_(jobs.ACTIVE))
            .values(
                status=jobs.FAILED,
                finished_at=now_ms(),
                heartbeat_at=now_ms(),
                error_reason=reason,
                error=message,
            )
        )


def _sweep_row(sweep_id: str) -> Sweep:
    row = db.session.get_one(Sweep, sweep_id)
    db.session.expunge(row)  # keep its values; the work below takes long
    db.session.commit()
    return row


def _load_bars(row: Sweep) -> Bars:
    """Return the sweep's bars (once per chunk); fail the sweep when there are none."""
    try:
        bars = market_service.load_bars(
            symbol=row.symbol,
            interval=row.interval,
            start_ms=row.start_ms,
            end_ms=row.end_ms,
            provider=row.provider,
        )
    except (LookupError, AppError) as exc:
        raise jobs.JobFailed(
            f"No market data for {row.symbol} {row.interval}: {exc}", reason="no_data"
        ) from exc
    if len(bars) < 2:
        raise jobs.JobFailed(
            f"No market data for {row.symbol} {row.interval} in the range.", reason="no_data"
        )
    return bars


class _Beat:
    """Every BEAT_EVERY_S: refresh the chunk's claim and the job's heartbeat; raise _Stopped once
    the job is no longer active (one statement, committed on its own)."""

    _SQL = text(
        "WITH chunk AS (UPDATE sweep_chunks SET claimed_at = :now WHERE sweep_id = :sweep AND idx = :idx) "
        "UPDATE jobs SET heartbeat_at = :now WHERE id = :job AND status IN ('PENDING', 'RUNNING') "
        "RETURNING status"
    )

    def __init__(self, sweep_id: str, chunk: int, job_id: str) -> None:
        self._params = {"sweep": sweep_id, "idx": chunk, "job": job_id}
        self._last = time.monotonic()  # the claim just beat

    def __call__(self) -> None:
        if time.monotonic() - self._last < BEAT_EVERY_S:
            return
        self._last = time.monotonic()
        with independent_session() as s:
            status = s.execute(self._SQL, {**self._params, "now": now_ms()}).scalar()
        if status is None:
            raise _Stopped()


def config_of(row: Sweep) -> BacktestConfig:
    """Return the engine configuration recorded on a sweep."""
    return BacktestConfig(
        initial_capital=float(row.initial_capital),
        fee_bps=float(row.fee_bps),
        slippage_bps=float(row.slippage_bps),
        allow_short=bool(row.allow_short),
    )


def points_of(row: Sweep) -> list[space_rules.Point]:
    """Return every point of a sweep, in run-index order (re-expanded; deterministic)."""
    axes = space_rules.parse_space(row.space, method=row.method)
    return space_rules.expand(axes, method=row.method, samples=row.samples, seed=row.seed)


def run_params(row: Sweep, point: Mapping[str, Any]) -> dict[str, Any]:
    """Return the validated parameters of one point (the base with the point on top); 422 if invalid."""
    return strategies_service.validate_definition(row.kind, {**row.params, **point}, actor_id=row.owner_id)


def _compute(row: Sweep, claim: _Claim, bars: Bars, beat: _Beat) -> list[dict[str, Any]]:
    """Run the chunk's points on ``bars``; return its `sweep_runs` rows."""
    config, ppy = config_of(row), results.periods_per_year(row.interval)
    out: list[dict[str, Any]] = []
    for index, point in enumerate(points_of(row)[claim.first : claim.stop], start=claim.first):
        beat()
        entry: dict[str, Any] = {"sweep_id": row.id, "idx": index, "params": point, "metrics": None}
        try:
            params = run_params(row, point)
        except AppError as exc:
            if exc.http_status != 422:
                raise
            entry["error"] = "; ".join(f"{k}: {' '.join(v)}" for k, v in _field_errors(exc).items())
            out.append({**entry, "objective": None})
            continue
        signals = strategies_service.compute_signals(kind=row.kind, params=params, bars=bars)
        metrics = compute_metrics(engine.run(bars, signals, config), bars, ppy)
        value = metrics.get(row.objective)
        out.append({**entry, "metrics": metrics, "objective": value, "error": None})
    return out


@transactional
def _store_chunk(row: Sweep, chunk: int, runs: list[dict[str, Any]], bars: Bars) -> str:
    """Store a chunk's runs exactly once and count it; the last chunk completes the sweep."""
    status = db.session.scalar(select(Job.status).where(Job.id == row.job_id).with_for_update())
    if status not in jobs.ACTIVE:  # a cancel (or a failure) won: store nothing
        return "stopped"
    for run in runs:
        run.setdefault("error", None)
    if runs:
        db.session.execute(pg_insert(SweepRun).values(runs).on_conflict_do_nothing())
    c = SweepChunk
    newly_done = db.session.scalar(
        update(c)
        .where(c.sweep_id == row.id, c.idx == chunk, c.done_at.is_(None))
        .values(done_at=now_ms())
        .returning(c.idx)
    )
    if newly_done is None:
        return "duplicate"
    done, total, runs_done = db.session.execute(
        update(Sweep)
        .where(Sweep.id == row.id)
        .values(chunks_done=Sweep.chunks_done + 1, runs_done=Sweep.runs_done + len(runs))
        .returning(Sweep.chunks_done, Sweep.chunks_total, Sweep.runs_done)
    ).one()
    now = now_ms()
    if done < total:
        progress = min(99, 100 * runs_done // max(1, row.total_runs))
        db.session.execute(
            update(Job).where(Job.id == row.job_id).values(progress=progress, heartbeat_at=now)
        )
        return "stored"
    db.session.execute(
        update(Sweep).where(Sweep.id == row.id).values(guardrails=guardrails_of(row, bars), finished_at=now)
    )
    db.session.execute(
        update(Job)
        .where(Job.id == row.job_id)
        .values(status=jobs.SUCCESS, progress=100, finished_at=now, heartbeat_at=now)
    )
    return "completed"


# --- guardrails ----------------------------------------------------------------------------------


def _best_rows(row: Sweep, limit: int) -> list[SweepRun]:
    order = SweepRun.objective.desc() if row.maximize else SweepRun.objective.asc()
    return list(
        db.session.scalars(
            select(SweepRun)
            .where(SweepRun.sweep_id == row.id, SweepRun.objective.is_not(None))
            .order_by(order, SweepRun.idx)
            .limit(limit)
        )
    )


def guardrails_of(row: Sweep, bars: Bars) -> dict[str, Any]:
    """Return the overfitting guardrails of a finished sweep (the hook for the shared guardrails).

    The deflated Sharpe ratio of the best run (by the objective) given every trial's Sharpe ratio,
    and its probabilistic Sharpe ratio against 0; the best run is re-run once on ``bars`` for the
    skewness and kurtosis of its per-bar returns. Ratios are per bar inside the formulas and
    annualised in the output. Null where undefined (fewer than two trials, flat returns).
    """
    sharpe = SweepRun.metrics["sharpeRatio"].astext.cast(Float)
    annual = [
        float(v)
        for v in db.session.scalars(
            select(sharpe).where(
                SweepRun.sweep_id == row.id, SweepRun.metrics.is_not(None), sharpe.is_not(None)
            )
        )
    ]
    scale = math.sqrt(results.periods_per_year(row.interval))
    out: dict[str, Any] = {
        "trials": len(annual),
        "bestRunIndex": None,
        "sharpeRatio": None,
        "probabilisticSharpe": None,
        "deflatedSharpe": None,
        "expectedMaxSharpe": None,
        "trialSharpeStd": float(np.std(annual, ddof=1)) if len(annual) > 1 else None,
        "skewness": None,
        "kurtosis": None,
        "observations": None,
    }
    best = _best_rows(row, 1)
    if not best:
        return out
    run = best[0]
    result = engine.run(
        bars,
        strategies_service.compute_signals(kind=row.kind, params=run_params(row, run.params), bars=bars),
        config_of(row),
    )
    returns = bar_returns(result.equity, float(row.initial_capital))
    moments = guardrails.return_moments(returns)
    if moments is None:  # flat equity: no Sharpe ratio to deflate
        out["bestRunIndex"] = run.idx
        return out
    deflated = guardrails.deflated_sharpe_of_trials(returns, annual, results.periods_per_year(row.interval))
    many = deflated is not None and deflated.trials > 1  # one trial: nothing was selected, nothing to deflate
    out.update(
        bestRunIndex=run.idx,
        sharpeRatio=moments.sharpe * scale,
        probabilisticSharpe=guardrails.probabilistic_sharpe(moments),
        deflatedSharpe=deflated.value if many and deflated is not None else None,
        expectedMaxSharpe=deflated.expected_max_sharpe * scale if many and deflated is not None else None,
        skewness=moments.skewness,
        kurtosis=moments.kurtosis,
        observations=moments.observations,
    )
    return out


# --- reads, cancel, promote ----------------------------------------------------------------------


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
    return SweepView(row, [_run_view(r) for r in _best_rows(row, BEST_RUNS)])


def list_runs(*, actor_id: str, sweep_id: str, page: int, page_size: int) -> Page[RunView]:
    """Return one page of a sweep's stored runs, by run index."""
    row = _owned(actor_id, sweep_id)
    stmt = select(SweepRun).where(SweepRun.sweep_id == row.id).order_by(SweepRun.idx)
    result = paginate(stmt, page=page, page_size=page_size)
    return Page(items=[_run_view(r) for r in result.items], total=result.total)


def get_heatmap(*, actor_id: str, sweep_id: str, x: str, y: str, metric: str | None = None) -> dict[str, Any]:
    """Return a metric over two swept parameters (best per cell when more than two vary)."""
    row = _owned(actor_id, sweep_id)
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
    data = get_heatmap(actor_id=actor_id, sweep_id=sweep_id, x=x, y=y, metric=metric)
    row = _owned(actor_id, sweep_id)
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
