"""Declaring kinds, submitting, running and cancelling jobs (the request and the worker side)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from celery import shared_task
from flask import current_app
from sqlalchemy import Update, bindparam, delete, func, select, update

from backend.core import changes
from backend.core.db import (
    execute_on_connection,
    holds,
    independent_session,
    looks_like_id,
    new_id,
    now_ms,
    on_commit,
    transactional,
)
from backend.core.errors import AppError, Unavailable
from backend.core.jobs.context import Claimed, JobContext, _Heartbeat, emit_final
from backend.core.jobs.model import (
    ACTIVE,
    CANCELLED,
    FAILED,
    PENDING,
    RUNNING,
    SUCCESS,
    Job,
    JobCancelled,
    JobFailed,
    JobNotFound,
)
from backend.extensions import db

logger = logging.getLogger(__name__)

Work = Callable[[JobContext], None]


Load = Callable[[str], Any]


@dataclass(frozen=True)
class JobKind:
    """A declared kind of job: its name (also the Celery task's name), its work and its options."""

    name: str
    work: Work
    load: Load | None = None  # reads what the work needs, in the claim's transaction (ctx.loaded)
    cancel_check_every_s: float = 0.0  # 0: every ctx.progress() call reads the status


_KINDS: dict[str, JobKind] = {}


def job_kind(
    name: str, *, load: Load | None = None, cancel_check_every_s: float = 0.0
) -> Callable[[Work], Work]:
    """Declare ``name`` as a job kind run by the decorated work function.

    Binds a Celery task of the same name (its queue follows the name's prefix, see
    ``backend.celery_app.TASK_ROUTES``) whose only argument is the job id.

    ``load(job_id)``, when given, runs on ``db.session`` inside the claim's transaction and its
    value is ``ctx.loaded``: the work's first read costs no transaction of its own (return plain
    values or expunged rows: the claim commits before the work starts).
    ``cancel_check_every_s`` bounds how often ``ctx.progress()`` reads the job's status between
    the progress writes (0: on every call). A kind whose work is short and whose ``complete()``
    refuses a cancelled job anyway (a backtest) saves those reads; a cancel is then seen within
    that many seconds of work, or by ``complete()``.
    """

    def register(work: Work) -> Work:
        if name in _KINDS and _KINDS[name].work is not work:
            raise RuntimeError(f"job kind {name!r} is declared twice")
        _KINDS[name] = JobKind(name=name, work=work, load=load, cancel_check_every_s=cancel_check_every_s)
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
        send_task(job_id, kind)
    except Exception as exc:  # noqa: BLE001 - kombu/redis raise several unrelated connection errors
        logger.error("broker unavailable, discarding job %s: %s", job_id, exc)
        with independent_session() as s:
            s.execute(delete(Job).where(Job.id == job_id))
        raise Unavailable(
            "The job queue is unavailable; nothing was submitted. Try again shortly.",
            details={"service": "broker"},
        ) from exc


def send_task(job_id: str, kind: str) -> None:
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


class _LoadFailed(Exception):
    """A kind's ``load`` raised inside the claim's transaction (which rolled back)."""


def _claim_statement(job_id: str) -> Update:
    """The claim's UPDATE with its values in it: for a session that holds the job (see ``_CLAIM``)."""
    return (
        update(Job)
        .where(Job.id == job_id, Job.status == PENDING)
        .values(status=RUNNING, attempts=Job.attempts + 1, started_at=now_ms(), heartbeat_at=now_ms())
        .returning(*_CLAIMED)
    )


_CLAIMED = (
    Job.id,
    Job.kind,
    Job.owner_id,
    Job.subject_id,
    Job.payload,
    Job.attempts,
    func.set_config("synchronous_commit", "off", True),  # is_local: this transaction only
)
# The claim's UPDATE, built once (its cache key too): run on the session's connection unless the
# session holds the job, whose object the ORM's execution then updates as well.
_CLAIM = (
    update(Job)
    .where(Job.id == bindparam("q_job_id"), Job.status == PENDING)
    .values(
        status=RUNNING,
        attempts=Job.attempts + 1,
        started_at=bindparam("q_started_at"),
        heartbeat_at=bindparam("q_heartbeat_at"),
    )
    .returning(*_CLAIMED)
)
_NOTED = {changes.OWNER_OPTION: changes.NOTED}


@transactional
def _claim(job_id: str, *, load: bool = True) -> Claimed | None:
    """PENDING -> RUNNING and (``load``) the kind's ``load``, in one transaction committed before the work.

    On the work's own session (the task starts with none open): one transaction, one COMMIT.
    That COMMIT does not wait for the WAL flush (``synchronous_commit = off`` for this transaction
    only, set by the RETURNING clause: no round trip of its own). Losing it in a Postgres crash
    leaves the job PENDING, as if never claimed: ``complete()``, a failure and the heartbeats all
    require RUNNING, so no outcome of that run lands (a progress write that finds the job not
    RUNNING stops the work), and the reaper sends the job again. ADR 0011 says why no other
    commit does this.
    """
    if holds(Job, job_id):
        row = db.session.execute(_claim_statement(job_id), execution_options=_NOTED).first()
    else:
        params = {"q_job_id": job_id, "q_started_at": now_ms(), "q_heartbeat_at": now_ms()}
        row = execute_on_connection(_CLAIM, params, options=_NOTED).first()
    if row is None:
        return None
    changes.note(db.session, "jobs", [row.owner_id])
    kind = _KINDS.get(row.kind)
    loaded = None
    if load and kind is not None and kind.load is not None:
        try:
            loaded = kind.load(job_id)
        except Exception as exc:  # noqa: BLE001 - whatever the load raised, the claim is made again alone
            raise _LoadFailed(job_id) from exc
    return Claimed(row.id, row.kind, row.owner_id, row.subject_id, row.payload, row.attempts, loaded)


@transactional
def _finish(job_id: str, status: str, *, reason: str | None = None, message: str | None = None) -> None:
    """Record a final status of a RUNNING job and emit its event, in one transaction."""
    values: dict[str, Any] = {
        "status": status,
        "finished_at": now_ms(),
        "heartbeat_at": now_ms(),
        "error_reason": reason,
        "error": message,
    }
    if status == SUCCESS:
        values["progress"] = 100
    row = db.session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == RUNNING)
        .values(**values)
        .returning(Job.kind, Job.owner_id, Job.subject_id),
        execution_options={changes.OWNER_OPTION: changes.NOTED},
    ).first()
    if row is not None:
        changes.note(db.session, "jobs", [row.owner_id])
        emit_final(
            job_id=job_id,
            kind=row.kind,
            owner_id=row.owner_id,
            subject_id=row.subject_id,
            status=status,
            reason=reason,
            message=message,
        )


def execute(job_id: str) -> str | None:
    """Claim the job and run its kind's work; record the outcome. Return it (None if skipped).

    Never raises for a failure of the work itself, so the Celery task acks and does not loop.
    """
    try:
        job = _claim(job_id)
    except _LoadFailed:  # the kind's load failed and the claim rolled back with it
        logger.warning("job %s: its load failed with the claim; claiming alone", job_id, exc_info=True)
        job = _claim(job_id, load=False)  # the work reads for itself (and fails the job if it must)
    if job is None:
        logger.info("job %s not pending; skipping duplicate delivery", job_id)
        return None
    kind = _KINDS.get(job.kind)
    try:
        if kind is None:
            raise JobFailed(f"No work is declared for job kind {job.kind!r}.", reason="unknown_kind")
        ctx = JobContext(job, loaded=job.loaded, cancel_check_every_s=kind.cancel_check_every_s)
        try:
            with _Heartbeat(current_app._get_current_object(), job_id, job.owner_id):  # type: ignore[attr-defined]
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


def cancel_job(*, job_id: str, message: str = "Cancelled by the user.") -> bool:
    """Mark a PENDING/RUNNING job CANCELLED in the caller's transaction; return whether it was active.

    The work stops at its next progress call, and its ``complete()`` refuses to overwrite this.
    """
    reason = "cancelled"
    cancelled = db.session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status.in_(ACTIVE))
        .values(status=CANCELLED, finished_at=now_ms(), error_reason=reason, error=message)
        .returning(Job.kind, Job.owner_id, Job.subject_id),
        execution_options={changes.OWNER_OPTION: changes.NOTED},
    ).first()
    if cancelled is None:
        return False
    changes.note(db.session, "jobs", [cancelled.owner_id])
    emit_final(
        job_id=job_id,
        kind=cancelled.kind,
        owner_id=cancelled.owner_id,
        subject_id=cancelled.subject_id,
        status=CANCELLED,
        reason=reason,
        message=message,
    )
    return True


def requeue_failed(*, job_id: str) -> bool:
    """Put a FAILED job of a declared kind back to PENDING in the caller's transaction; send it after commit.

    The same job runs again, so the module rows that point at it (a backtest, a run) are reused
    and nothing is duplicated: the same guarantee the reaper relies on when it requeues a job
    whose worker died (a kind's work must be re-runnable). Attempts start again from zero. If
    the broker refuses the send, the job stays PENDING and the reaper sends it again later.
    Returns False (and changes nothing) unless the job exists, FAILED, and its kind is declared.
    """
    requeued = db.session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == FAILED, Job.kind.in_(list(_KINDS)))
        .values(
            status=PENDING,
            progress=0,
            attempts=0,
            error_reason=None,
            error=None,
            started_at=None,
            finished_at=None,
            heartbeat_at=now_ms(),
        )
        .returning(Job.id, Job.kind, Job.owner_id),
        execution_options={changes.OWNER_OPTION: changes.NOTED},
    ).first()
    if requeued is None:
        return False
    changes.note(db.session, "jobs", [requeued.owner_id])
    on_commit(lambda: _send_or_leave_to_reaper(job_id, requeued.kind))
    return True


def _send_or_leave_to_reaper(job_id: str, kind: str) -> None:
    try:
        send_task(job_id, kind)
    except Exception as exc:  # noqa: BLE001 - kombu/redis raise several unrelated connection errors
        logger.warning("could not send requeued job %s (the reaper resends it): %s", job_id, exc)
