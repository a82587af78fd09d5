"""The work of a sweep: the fan-out job and its chunk tasks (see ``sweeps.py`` for the lifecycle).

``fan_out`` is the job (kind ``backtests.sweep``); ``run_chunk`` is one chunk's task on the
``sweeps`` queue. Every write a chunk makes is idempotent per (sweep, run index), so a redelivered
or requeued chunk never counts twice.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from celery import shared_task
from flask import current_app
from sqlalchemy import Float, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from backend.core import changes, events, jobs
from backend.core.db import independent_session, now_ms, on_commit, transactional
from backend.core.errors import AppError
from backend.core.jobs import Job
from backend.domain.backtest import engine, guardrails
from backend.domain.backtest.metrics import bar_returns, compute_metrics
from backend.domain.backtest.types import BacktestConfig
from backend.domain.bars import Bars
from backend.extensions import db
from backend.modules.backtests import results
from backend.modules.backtests import sweep_space as space_rules
from backend.modules.backtests.sweep_models import Sweep, SweepChunk, SweepRun
from backend.modules.market import service as market_service
from backend.modules.strategies import service as strategies_service

logger = logging.getLogger(__name__)

JOB_KIND = "backtests.sweep"
CHUNK_TASK = "backtests.sweep_chunk"  # routed to the `sweeps` queue (backend/celery_app.py)
BEAT_EVERY_S = 0.25


def field_errors(exc: AppError) -> dict[str, list[str]]:
    fields = exc.details.get("fields") or {}
    return {str(k): list(v) for k, v in fields.items()} or {"params": [exc.message]}


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
    db.session.execute(
        update(Job).where(Job.id == job_id).values(attempts=1),
        execution_options={changes.OWNER_OPTION: row.owner_id},
    )
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
        runs = _compute(row, claim, bars, _Beat(sweep_id, chunk, claim.job_id, row.owner_id))
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


@transactional
def _fail(job_id: str, reason: str, message: str) -> None:
    """Fail the sweep's job if still active (emits job.failed); its other chunks stop at their next beat."""
    row = db.session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status.in_(jobs.ACTIVE))
        .values(
            status=jobs.FAILED,
            finished_at=now_ms(),
            heartbeat_at=now_ms(),
            error_reason=reason,
            error=message,
        )
        .returning(Job.kind, Job.owner_id, Job.subject_id),
        execution_options={changes.OWNER_OPTION: changes.NOTED},
    ).first()
    if row is not None:
        changes.note(db.session, "jobs", [row.owner_id])
        jobs.emit_final(
            job_id=job_id,
            kind=row.kind,
            owner_id=row.owner_id,
            subject_id=row.subject_id,
            status=jobs.FAILED,
            reason=reason,
            message=message,
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

    def __init__(self, sweep_id: str, chunk: int, job_id: str, owner_id: str | None = None) -> None:
        self._params = {"sweep": sweep_id, "idx": chunk, "job": job_id}
        self._options = {changes.OWNER_OPTION: owner_id, changes.TABLES_OPTION: ("sweep_chunks", "jobs")}
        self._last = time.monotonic()  # the claim just beat

    def __call__(self) -> None:
        if time.monotonic() - self._last < BEAT_EVERY_S:
            return
        self._last = time.monotonic()
        with independent_session() as s:
            status = s.execute(
                self._SQL, {**self._params, "now": now_ms()}, execution_options=self._options
            ).scalar()
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
            entry["error"] = "; ".join(f"{k}: {' '.join(v)}" for k, v in field_errors(exc).items())
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
        job = db.session.execute(
            update(Job)
            .where(Job.id == row.job_id)
            .values(progress=progress, heartbeat_at=now)
            .returning(Job.kind, Job.owner_id, Job.subject_id),
            execution_options={changes.OWNER_OPTION: row.owner_id},
        ).one()
        # As a single job's ctx.progress does: no record and no subscribers, published once the
        # chunk's runs are committed (one event per chunk: SWEEP_CHUNK_RUNS bounds how many).
        event = jobs.job_event(
            "job.progress",
            job_id=row.job_id,
            kind=job.kind,
            owner_id=job.owner_id,
            subject_id=job.subject_id,
            status=jobs.RUNNING,
            progress=progress,
        )

        def publish() -> None:
            events.publish(event)

        on_commit(publish)
        return "stored"
    db.session.execute(
        update(Sweep).where(Sweep.id == row.id).values(guardrails=guardrails_of(row, bars), finished_at=now)
    )
    job = db.session.execute(
        update(Job)
        .where(Job.id == row.job_id)
        .values(status=jobs.SUCCESS, progress=100, finished_at=now, heartbeat_at=now)
        .returning(Job.kind, Job.owner_id, Job.subject_id),
        execution_options={changes.OWNER_OPTION: row.owner_id},
    ).one()
    jobs.emit_final(
        job_id=row.job_id,
        kind=job.kind,
        owner_id=job.owner_id,
        subject_id=job.subject_id,
        status=jobs.SUCCESS,
    )
    return "completed"


# --- guardrails ----------------------------------------------------------------------------------


def best_rows(row: Sweep, limit: int) -> list[SweepRun]:
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
    best = best_rows(row, 1)
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
