"""The one pattern for long work: a `jobs` row per job, declared once, claimed, heartbeated, reaped.

A module adds a job kind with two functions::

    @jobs.job_kind("backtests.run")           # binds the Celery task of that name (queue by prefix)
    def run_backtest(ctx: jobs.JobContext) -> None:
        ...                                   # the work; ctx.progress(), then ctx.complete()

    @transactional
    def submit_backtest(...):
        job = jobs.submit("backtests.run", owner_id=..., subject_id=...)
        db.session.add(Backtest(job_id=job.id, ...))   # the module's rows point at the job

Lifecycle (the `jobs` row is the only status record; modules map it to their wire enums)::

    submit()              PENDING, in the caller's transaction; enqueued after it commits.
                          Broker down -> the job row is deleted (rows pointing at it cascade), 503
    execute() (the task)  PENDING -> RUNNING (atomic claim; duplicates and replays are no-ops)
    ctx.progress(pct)     raises JobCancelled once cancelled (checked on every call); the
                          progress itself is committed at most every PROGRESS_EVERY_S
    ctx.complete()        RUNNING -> SUCCESS inside the work's final transaction, so the result
                          and the status commit together (a cancel that won is never overwritten)
    work raises           JobFailed -> FAILED with its reason; JobCancelled -> CANCELLED;
                          anything else -> FAILED ``internal_error`` (no details leak)
    reap_stale_jobs()     RUNNING with a stale heartbeat -> requeued (attempts left) or FAILED
                          ``worker_lost``; PENDING never started -> sent again

Postgres is the record; the Celery result backend is not used for state. See ADR 0002 and 0007.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, cast

from celery import shared_task
from flask import Flask, current_app
from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, delete, func, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql import Executable

from backend.core.db import independent_session, looks_like_id, new_id, now_ms, on_commit
from backend.core.errors import AppError, NotFound, Unavailable
from backend.extensions import Model, db

logger = logging.getLogger(__name__)

PENDING, RUNNING, SUCCESS, FAILED, CANCELLED = "PENDING", "RUNNING", "SUCCESS", "FAILED", "CANCELLED"
ACTIVE = (PENDING, RUNNING)

# Progress is for a human watching a bar: storing it more often costs a commit per call and
# tells nobody anything (a 100k-bar backtest finishes before the first write is due).
PROGRESS_EVERY_S = 0.25

Work = Callable[["JobContext"], None]


class Job(Model):
    """A unit of background work and its observable state."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_owner_id", "owner_id"),
        Index("ix_jobs_status_heartbeat_at", "status", "heartbeat_at"),
        Index("ix_jobs_subject_id", "subject_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    owner_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("users.id", ondelete="CASCADE"))
    # What the job is about (e.g. the strategy a backtest runs), so "is anything running on X?"
    # is one indexed query in core, without the asking module knowing who runs jobs.
    subject_id: Mapped[str | None] = mapped_column(String(36))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONB)  # small inputs of the work, if any
    status: Mapped[str] = mapped_column(String(12), nullable=False, default=PENDING)
    progress: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    error_reason: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False, default=now_ms)
    started_at: Mapped[int | None] = mapped_column(BigInteger)
    heartbeat_at: Mapped[int | None] = mapped_column(BigInteger)
    finished_at: Mapped[int | None] = mapped_column(BigInteger)


class JobNotFound(NotFound):
    """Raise when a job id is unknown, of another kind, or belongs to someone else."""

    code = "jobs.not_found"
    default_message = "Job not found."


class JobCancelled(Exception):
    """Raised inside work when its job was cancelled; execute() records CANCELLED."""


class JobFailed(Exception):
    """Raise from work to fail the job with a stable reason and a human message."""

    def __init__(self, message: str, *, reason: str = "job_failed") -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


@dataclass(frozen=True)
class JobKind:
    """A declared kind of job: its name (also the Celery task's name) and its work."""

    name: str
    work: Work


_KINDS: dict[str, JobKind] = {}


def job_kind(name: str) -> Callable[[Work], Work]:
    """Declare ``name`` as a job kind run by the decorated work function.

    Binds a Celery task of the same name (its queue follows the name's prefix, see
    ``backend.celery_app.TASK_ROUTES``) whose only argument is the job id.
    """

    def register(work: Work) -> Work:
        if name in _KINDS and _KINDS[name].work is not work:
            raise RuntimeError(f"job kind {name!r} is declared twice")
        _KINDS[name] = JobKind(name=name, work=work)
        shared_task(name=name, acks_late=True, ignore_result=True)(_task_body(name))
        return work

    return register


def _task_body(name: str) -> Callable[[str], str | None]:
    def run(job_id: str) -> str | None:
        return execute(job_id)

    run.__name__ = run.__qualname__ = name.replace(".", "_")
    run.__doc__ = f"Run one job of kind {name} (the id in; the work records the outcome)."
    return run


def registered_kinds() -> frozenset[str]:
    """Return the names of every declared job kind."""
    return frozenset(_KINDS)


def submit(
    kind: str, *, owner_id: str | None, subject_id: str | None = None, payload: dict[str, Any] | None = None
) -> Job:
    """Add a PENDING job to the caller's transaction and enqueue it once that commits.

    Call inside a ``@transactional`` function. If the broker refuses the task after the commit,
    the job row is deleted (rows referencing it with ``ON DELETE CASCADE`` go with it) and the
    caller gets a 503, so nothing half-submitted is left behind.
    """
    if kind not in _KINDS:
        raise RuntimeError(f"unknown job kind {kind!r}")
    job = Job(
        id=new_id(),
        kind=kind,
        owner_id=owner_id,
        subject_id=subject_id,
        payload=payload,
        status=PENDING,
        progress=0,
        attempts=0,
        created_at=now_ms(),
    )
    db.session.add(job)
    db.session.flush()
    job_id = job.id
    on_commit(lambda: _enqueue_or_discard(job_id, kind))
    return job


def start_inline(kind: str, *, owner_id: str | None, subject_id: str | None = None) -> JobContext:
    """Add a RUNNING job for work done in this process, without a worker (the demo seed).

    The caller does the work and calls ``ctx.complete()`` in the same transaction.
    """
    now = now_ms()
    job = Job(
        id=new_id(),
        kind=kind,
        owner_id=owner_id,
        subject_id=subject_id,
        status=RUNNING,
        progress=0,
        attempts=1,
        created_at=now,
        started_at=now,
        heartbeat_at=now,
    )
    db.session.add(job)
    db.session.flush()
    return JobContext(job)


def _enqueue_or_discard(job_id: str, kind: str) -> None:
    try:
        _send_task(job_id, kind)
    except Exception as exc:  # noqa: BLE001 - kombu/redis raise several unrelated connection errors
        logger.error("broker unavailable, discarding job %s: %s", job_id, exc)
        with independent_session() as s:
            s.execute(delete(Job).where(Job.id == job_id))
        raise Unavailable(
            "The job queue is unavailable; nothing was submitted. Try again shortly.",
            details={"service": "broker"},
        ) from exc


def _send_task(job_id: str, kind: str) -> None:
    current_app.extensions["celery"].tasks[kind].apply_async(kwargs={"job_id": job_id}, retry=False)


def get_job(*, job_id: str, owner_id: str | None, kind: str | None = None) -> Job:
    """Return a job the caller owns (of ``kind`` when given); anything else is JobNotFound."""
    job = db.session.get(Job, job_id) if looks_like_id(job_id) else None
    if job is None or (job.owner_id is not None and job.owner_id != owner_id):
        raise JobNotFound()
    if kind is not None and job.kind != kind:
        raise JobNotFound()
    return job


def active_subject_ids(subject_ids: Collection[str]) -> set[str]:
    """Return those of ``subject_ids`` that have a PENDING or RUNNING job."""
    if not subject_ids:
        return set()
    return set(
        db.session.scalars(
            select(Job.subject_id)
            .where(Job.subject_id.in_(list(subject_ids)), Job.status.in_(ACTIVE))
            .distinct()
        )
    )


class JobContext:
    """Handed to work functions: the job's identity, progress, cancellation and completion."""

    def __init__(self, job: Job) -> None:
        self.job_id = job.id
        self.kind = job.kind
        self.owner_id = job.owner_id
        self.subject_id = job.subject_id
        self.payload: dict[str, Any] = dict(job.payload or {})
        self.committed = False  # set once complete()'s transaction has committed
        self.handed_off = False  # set by hand_off(): other tasks finish the job
        self._progress_at = time.monotonic()  # the claim stored progress 0 just now
        self._connection: Connection | None = None

    def progress(self, pct: float) -> None:
        """Check for a cancel (raise JobCancelled) and record progress 0..100 with a heartbeat.

        Every call checks the job's status (one indexed read); the progress itself is written at
        most every PROGRESS_EVERY_S, so a short job writes none. The final states are written by
        ``complete()``, a failure or a cancel, never throttled. Both are independent of the
        work's transaction.
        """
        now = time.monotonic()
        if now - self._progress_at < PROGRESS_EVERY_S:
            status = self._independent(select(Job.status).where(Job.id == self.job_id))
        else:
            self._progress_at = now
            status = self._independent(
                update(Job)
                .where(Job.id == self.job_id)
                .values(progress=max(0, min(100, int(pct))), heartbeat_at=now_ms())
                .returning(Job.status)
            )
        if status != RUNNING:
            raise JobCancelled(self.job_id)

    def _independent(self, stmt: Executable) -> Any:
        """Run ``stmt`` and commit it on its own; return its first column's value (or None).

        On an Engine, through one autocommit connection held for the job (one round trip; a
        session per call costs a pool checkout, a ping and a COMMIT). On a Connection the caller
        manages (the test suite's rolled-back transaction), in a savepoint like any independent write.
        """
        bind = cast("Engine | Connection", db.engine)  # the tests swap the Engine for a Connection
        if self._connection is None and isinstance(bind, Engine):
            self._connection = bind.connect().execution_options(isolation_level="AUTOCOMMIT")
        if self._connection is not None:
            return self._connection.scalar(stmt)
        with independent_session() as s:
            return s.scalar(stmt)

    def close(self) -> None:
        """Return the job's connection to the pool (``execute()`` calls this when the work ends)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def complete(self) -> None:
        """Mark the job SUCCESS in the caller's transaction (commit it with the result).

        Locks the job row, so a concurrent cancel is ordered against it: if the cancel won,
        this raises JobCancelled and the caller's transaction (the result) rolls back. Once a
        ``@transactional`` caller commits, ``execute()`` knows the job is recorded and writes nothing.
        """
        status = db.session.scalar(select(Job.status).where(Job.id == self.job_id).with_for_update())
        if status != RUNNING:
            raise JobCancelled(self.job_id)
        db.session.execute(
            update(Job)
            .where(Job.id == self.job_id)
            .values(status=SUCCESS, progress=100, finished_at=now_ms(), heartbeat_at=now_ms())
        )
        on_commit(self._mark_committed)

    def _mark_committed(self) -> None:
        self.committed = True

    def hand_off(self) -> None:
        """Leave the job RUNNING when the work returns: tasks it sent (a sweep's chunks) finish it.

        Those tasks keep the job's heartbeat fresh while they run; if none does for
        JOB_STALE_AFTER_S the reaper requeues the job and its work runs again (it must be idempotent).
        """
        self.handed_off = True


def _claim(job_id: str) -> Job | None:
    with independent_session() as s:
        return s.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == PENDING)
            .values(status=RUNNING, attempts=Job.attempts + 1, started_at=now_ms(), heartbeat_at=now_ms())
            .returning(Job)
        ).scalar_one_or_none()


def _finish(job_id: str, status: str, *, reason: str | None = None, message: str | None = None) -> None:
    values: dict[str, Any] = {
        "status": status,
        "finished_at": now_ms(),
        "heartbeat_at": now_ms(),
        "error_reason": reason,
        "error": message,
    }
    if status == SUCCESS:
        values["progress"] = 100
    with independent_session() as s:
        s.execute(update(Job).where(Job.id == job_id, Job.status == RUNNING).values(**values))


class _Heartbeat:
    """Write the job's heartbeat from a thread while its work runs (every JOB_HEARTBEAT_S).

    Heartbeats do not depend on the work calling ``ctx.progress``, so a long step (loading bars,
    a sandboxed strategy) never looks dead, and a killed worker stops beating at once: the reaper
    sees it after JOB_STALE_AFTER_S.
    """

    def __init__(self, app: Flask, job_id: str) -> None:
        self._app, self._job_id = app, job_id
        self._every = float(app.config["JOB_HEARTBEAT_S"])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{job_id}", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=max(1.0, self._every))

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                with self._app.app_context(), independent_session() as s:
                    s.execute(
                        update(Job)
                        .where(Job.id == self._job_id, Job.status == RUNNING)
                        .values(heartbeat_at=now_ms())
                    )
            except Exception:  # noqa: BLE001 - a missed beat is retried; the work must go on
                logger.warning("heartbeat of job %s failed", self._job_id, exc_info=True)


def execute(job_id: str) -> str | None:
    """Claim the job and run its kind's work; record the outcome. Return it (None if skipped).

    Never raises for a failure of the work itself, so the Celery task acks and does not loop.
    """
    job = _claim(job_id)
    if job is None:
        logger.info("job %s not pending; skipping duplicate delivery", job_id)
        return None
    kind = _KINDS.get(job.kind)
    try:
        if kind is None:
            raise JobFailed(f"No work is declared for job kind {job.kind!r}.", reason="unknown_kind")
        ctx = JobContext(job)
        try:
            with _Heartbeat(current_app._get_current_object(), job_id):  # type: ignore[attr-defined]
                kind.work(ctx)
        finally:
            ctx.close()
    except JobCancelled:
        db.session.rollback()
        return CANCELLED
    except JobFailed as exc:
        db.session.rollback()
        logger.warning("job %s failed (%s): %s", job_id, exc.reason, exc.message)
        _finish(job_id, FAILED, reason=exc.reason, message=exc.message)
        return FAILED
    except Exception as exc:  # noqa: BLE001 - any failure of the work fails the job, with a reason
        db.session.rollback()
        reason = exc.reason if isinstance(exc, AppError) else "internal_error"
        message = exc.message if isinstance(exc, AppError) else "The job failed unexpectedly."
        logger.exception("job %s failed (%s)", job_id, reason)
        _finish(job_id, FAILED, reason=reason, message=message)
        return FAILED
    db.session.rollback()  # end the work's last read (what it wanted kept, it committed)
    if ctx.handed_off:
        return RUNNING
    if not ctx.committed:  # work that did not complete() in a @transactional commit
        _finish(job_id, SUCCESS)
    return SUCCESS


def cancel_job(*, job_id: str) -> bool:
    """Mark a PENDING/RUNNING job CANCELLED in the caller's transaction; return whether it was active.

    The work stops at its next progress call, and its ``complete()`` refuses to overwrite this.
    """
    cancelled = db.session.scalars(
        update(Job)
        .where(Job.id == job_id, Job.status.in_(ACTIVE))
        .values(
            status=CANCELLED, finished_at=now_ms(), error_reason="cancelled", error="Cancelled by the user."
        )
        .returning(Job.id)
    ).first()
    return cancelled is not None


def reap_stale_jobs(*, now: int | None = None) -> dict[str, int]:
    """Requeue or fail RUNNING jobs whose worker stopped heartbeating; resend lost PENDING jobs."""
    now = now if now is not None else now_ms()
    stale_ms = int(current_app.config["JOB_STALE_AFTER_S"]) * 1000
    max_attempts = int(current_app.config["JOB_MAX_ATTEMPTS"])
    counts = {"requeued": 0, "failed": 0, "resent": 0}
    stale = db.session.execute(
        select(Job.id, Job.kind, Job.attempts).where(Job.status == RUNNING, Job.heartbeat_at < now - stale_ms)
    ).all()
    # A PENDING job's heartbeat is the last time it was sent; one unclaimed for long was lost
    # (a broker restart, or a resend that failed while the broker was down): send it again.
    lost = db.session.execute(
        select(Job.id, Job.kind).where(
            Job.status == PENDING, func.coalesce(Job.heartbeat_at, Job.created_at) < now - 5 * stale_ms
        )
    ).all()
    db.session.commit()  # end the read before the updates, each committed on its own
    for job_id, kind, attempts in stale:
        if attempts < max_attempts and kind in _KINDS:
            counts["requeued"] += _requeue(job_id, kind)
        else:
            counts["failed"] += _fail_lost(job_id)
    for job_id, kind in lost:
        if _mark_sent(job_id):
            counts["resent"] += _resend(job_id, kind)
    return counts


def _requeue(job_id: str, kind: str) -> int:
    with independent_session() as s:
        moved = s.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == RUNNING)
            .values(status=PENDING, heartbeat_at=now_ms())
            .returning(Job.id)
        ).scalar_one_or_none()
    if moved:
        _resend(job_id, kind)
    return 1 if moved else 0


def _mark_sent(job_id: str) -> bool:
    with independent_session() as s:
        marked = s.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == PENDING)
            .values(heartbeat_at=now_ms())
            .returning(Job.id)
        ).scalar_one_or_none()
    return marked is not None


def _fail_lost(job_id: str) -> int:
    message = "The worker running this job stopped responding."
    with independent_session() as s:
        done = s.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == RUNNING)
            .values(status=FAILED, finished_at=now_ms(), error_reason="worker_lost", error=message)
            .returning(Job.id)
        ).scalar_one_or_none()
    return 1 if done else 0


def _resend(job_id: str, kind: str) -> int:
    if kind not in _KINDS:
        return 0
    try:
        _send_task(job_id, kind)
    except Exception:  # noqa: BLE001 - broker down: the next reaper run tries again
        logger.warning("could not resend job %s", job_id)
        return 0
    return 1
