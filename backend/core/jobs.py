"""The one mechanism for long work: a `jobs` row per job, claimed, heartbeated and reaped.

Lifecycle::

    create_job()            PENDING   (in the request's transaction, with the domain rows)
    dispatch()              after commit; broker down -> discard rows, raise 503
    run_job() in the task   PENDING -> RUNNING (atomic claim; duplicates and replays are no-ops)
    ctx.progress(pct)       progress + heartbeat, committed on their own; raises JobCancelled
    work returns / raises   -> SUCCESS / FAILED (reason + message), CANCELLED
    reap_stale_jobs()       RUNNING with a stale heartbeat -> requeued (attempts left) or FAILED
                            (reason ``worker_lost``); PENDING never started -> sent again

Postgres is the record; the Celery result backend is not used for state.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

from flask import current_app
from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import independent_session, new_id, now_ms, transactional
from backend.core.errors import AppError, NotFound, Unavailable
from backend.extensions import db

logger = logging.getLogger(__name__)

PENDING, RUNNING, SUCCESS, FAILED, CANCELLED = "PENDING", "RUNNING", "SUCCESS", "FAILED", "CANCELLED"
FINAL_STATES = frozenset({SUCCESS, FAILED, CANCELLED})


class Job(db.Model):
    """A unit of background work and its observable state."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    owner_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("users.id", ondelete="CASCADE"))
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
    """Raise when a job id is unknown or belongs to someone else."""

    code = "jobs.not_found"
    default_message = "Job not found."


class JobCancelled(Exception):
    """Raised inside work when its job was cancelled; run_job records CANCELLED."""


class JobFailed(AppError):
    """Raise from work to fail the job with a stable reason and a human message."""

    http_status = 422
    reason = "job_failed"
    code = "jobs.failed"

    def __init__(self, message: str, *, reason: str = "job_failed") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class JobKind:
    """What the reaper needs to know about a kind of job."""

    task_name: str
    on_failed: Callable[[str, str, str], None] | None = None  # (job_id, reason, message)


_KINDS: dict[str, JobKind] = {}


def register_job_kind(kind: str, *, task_name: str,
                      on_failed: Callable[[str, str, str], None] | None = None) -> None:
    """Declare a job kind: the task that runs it and an optional hook when it fails."""
    _KINDS[kind] = JobKind(task_name=task_name, on_failed=on_failed)


def create_job(*, kind: str, owner_id: str | None) -> Job:
    """Add a PENDING job to the caller's transaction (the caller commits)."""
    job = Job(id=new_id(), kind=kind, owner_id=owner_id, status=PENDING, progress=0, attempts=0,
              created_at=now_ms())
    db.session.add(job)
    return job


def get_job(*, job_id: str, owner_id: str | None) -> Job:
    """Return a job the caller owns."""
    job = db.session.get(Job, job_id)
    if job is None or (job.owner_id is not None and job.owner_id != owner_id):
        raise JobNotFound()
    return job


def dispatch(task_name: str, *, job_id: str, discard: Callable[[], None] | None = None,
             **kwargs: Any) -> None:
    """Send the job's task (by registered name) after the commit; if the broker is down, undo, 503.

    `discard` must delete the domain rows created with the job (in its own transaction); the job
    row itself is deleted here, so nothing orphaned is left behind.
    """
    task = current_app.extensions["celery"].tasks[task_name]
    try:
        task.apply_async(kwargs={"job_id": job_id, **kwargs}, retry=False)
    except Exception as exc:  # kombu/redis raise several unrelated connection error types
        logger.error("broker unavailable, discarding job %s: %s", job_id, exc)
        db.session.rollback()
        if discard is not None:
            discard()
        _delete_job(job_id)
        raise Unavailable("The job queue is unavailable; nothing was submitted. Try again shortly.",
                          details={"service": "broker"}) from exc


@transactional
def _delete_job(job_id: str) -> None:
    db.session.execute(Job.__table__.delete().where(Job.id == job_id))


class JobContext:
    """Handed to work functions: report progress, learn about cancellation."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id

    def progress(self, pct: float) -> None:
        """Record progress 0..100 and a heartbeat; raise JobCancelled if the job was cancelled."""
        with independent_session() as s:
            status = s.execute(
                update(Job).where(Job.id == self.job_id)
                .values(progress=max(0, min(100, int(pct))), heartbeat_at=now_ms())
                .returning(Job.status)
            ).scalar_one_or_none()
        if status == CANCELLED:
            raise JobCancelled(self.job_id)


def _claim(job_id: str) -> bool:
    with independent_session() as s:
        claimed = s.execute(
            update(Job).where(Job.id == job_id, Job.status == PENDING)
            .values(status=RUNNING, attempts=Job.attempts + 1, started_at=now_ms(), heartbeat_at=now_ms())
            .returning(Job.id)
        ).scalar_one_or_none()
    return claimed is not None


def _finish(job_id: str, status: str, *, reason: str | None = None, message: str | None = None) -> None:
    values: dict[str, Any] = {"status": status, "finished_at": now_ms(), "heartbeat_at": now_ms(),
                              "error_reason": reason, "error": message}
    if status == SUCCESS:
        values["progress"] = 100
    with independent_session() as s:
        s.execute(update(Job).where(Job.id == job_id, Job.status.in_([RUNNING, CANCELLED]))
                  .values(**values))


def run_job(job_id: str, work: Callable[[JobContext], None]) -> str | None:
    """Claim the job and run `work`; record the outcome. Returns the final status (None if skipped).

    Never raises for a failure of the work itself, so the Celery task acks and does not loop.
    """
    if not _claim(job_id):
        logger.info("job %s not pending; skipping duplicate delivery", job_id)
        return None
    try:
        work(JobContext(job_id))
    except JobCancelled:
        db.session.rollback()
        _finish(job_id, CANCELLED, reason="cancelled", message="Cancelled by the user.")
        return CANCELLED
    except Exception as exc:  # noqa: BLE001 - any failure of the work fails the job, with a reason
        db.session.rollback()
        reason = getattr(exc, "reason", None) or "internal_error"
        message = exc.message if isinstance(exc, AppError) else "The job failed unexpectedly."
        logger.exception("job %s failed (%s)", job_id, reason)
        _finish(job_id, FAILED, reason=reason, message=message)
        _notify_failed(job_id, reason, message)
        return FAILED
    _finish(job_id, SUCCESS)
    return SUCCESS


@transactional
def cancel_job(*, job_id: str) -> bool:
    """Mark a PENDING/RUNNING job CANCELLED; the work stops at its next progress call."""
    result = db.session.execute(
        update(Job).where(Job.id == job_id, Job.status.in_([PENDING, RUNNING]))
        .values(status=CANCELLED, finished_at=now_ms(), error_reason="cancelled",
                error="Cancelled by the user.")
    )
    return bool(result.rowcount)


def _notify_failed(job_id: str, reason: str, message: str) -> None:
    job = db.session.get(Job, job_id)
    kind = _KINDS.get(job.kind) if job else None
    if kind and kind.on_failed:
        try:
            kind.on_failed(job_id, reason, message)
        except Exception:  # noqa: BLE001 - the job is already FAILED; the hook is best effort
            logger.exception("on_failed hook for job %s raised", job_id)
            db.session.rollback()


def reap_stale_jobs(*, now: int | None = None) -> dict[str, int]:
    """Requeue or fail RUNNING jobs whose worker stopped heartbeating; resend lost PENDING jobs."""
    now = now if now is not None else now_ms()
    stale_ms = int(current_app.config["JOB_STALE_AFTER_S"]) * 1000
    max_attempts = int(current_app.config["JOB_MAX_ATTEMPTS"])
    counts = {"requeued": 0, "failed": 0, "resent": 0}
    stale = db.session.execute(select(Job.id, Job.kind, Job.attempts).where(
        Job.status == RUNNING, Job.heartbeat_at < now - stale_ms)).all()
    lost = db.session.scalars(select(Job.id).where(
        Job.status == PENDING, Job.started_at.is_(None), Job.created_at < now - 5 * stale_ms)).all()
    db.session.commit()  # end the read before the updates, each committed on its own
    for job_id, kind, attempts in stale:
        if attempts < max_attempts and kind in _KINDS:
            counts["requeued"] += _requeue(job_id, kind)
        else:
            counts["failed"] += _fail_lost(job_id)
    for job_id in lost:
        kind = db.session.get(Job, job_id).kind
        counts["resent"] += _send(job_id, kind)
    return counts


def _requeue(job_id: str, kind: str) -> int:
    with independent_session() as s:
        moved = s.execute(update(Job).where(Job.id == job_id, Job.status == RUNNING)
                          .values(status=PENDING, heartbeat_at=None).returning(Job.id)).scalar_one_or_none()
    if moved:
        _send(job_id, kind)
    return 1 if moved else 0


def _fail_lost(job_id: str) -> int:
    message = "The worker running this job stopped responding."
    with independent_session() as s:
        done = s.execute(update(Job).where(Job.id == job_id, Job.status == RUNNING).values(
            status=FAILED, finished_at=now_ms(), error_reason="worker_lost", error=message,
        ).returning(Job.id)).scalar_one_or_none()
    if done:
        _notify_failed(job_id, "worker_lost", message)
    return 1 if done else 0


def _send(job_id: str, kind_name: str) -> int:
    kind = _KINDS.get(kind_name)
    if kind is None:
        return 0
    try:
        current_app.extensions["celery"].tasks[kind.task_name].apply_async(kwargs={"job_id": job_id}, retry=False)
    except Exception:  # noqa: BLE001 - broker down: the next reaper run tries again
        logger.warning("could not resend job %s", job_id)
        return 0
    return 1
