"""What a job's work holds while it runs: its context (progress, cancel, complete) and heartbeat."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, cast

from flask import Flask
from sqlalchemy import Update, bindparam, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql import Executable

from backend.core import changes, events
from backend.core.db import execute_on_connection, holds, independent_session, now_ms, on_commit
from backend.core.jobs.model import CANCELLED, FAILED, RUNNING, SUCCESS, Job, JobCancelled
from backend.extensions import db

logger = logging.getLogger(__name__)

# Progress is for a human watching a bar: storing it more often costs a commit per call and
# tells nobody anything (a 100k-bar backtest finishes before the first write is due).
PROGRESS_EVERY_S = 0.25

# The event each final status emits (topic "jobs"; docs/streams.md). Other modules subscribe to
# these names (notifications), so they are part of the contract.
FINAL_EVENTS = {SUCCESS: "job.succeeded", FAILED: "job.failed", CANCELLED: "job.cancelled"}


def job_event(
    type_: str,
    *,
    job_id: str,
    kind: str,
    owner_id: str | None,
    subject_id: str | None,
    status: str,
    **extra: Any,
) -> events.Event:
    """Return the event of a job: object = the job, owner = the job's owner, topic "jobs"."""
    data: dict[str, Any] = {"jobId": job_id, "kind": kind, "status": status, "subjectId": subject_id}
    data.update({k: v for k, v in extra.items() if v is not None})
    return events.Event(type_, "jobs", owner_id, object_id=job_id, data=data)


def emit_final(
    *,
    job_id: str,
    kind: str,
    owner_id: str | None,
    subject_id: str | None,
    status: str,
    reason: str | None = None,
    message: str | None = None,
) -> None:
    """Emit ``job.succeeded|failed|cancelled`` in the transaction that records ``status`` (call it there)."""
    events.emit(
        job_event(
            FINAL_EVENTS[status],
            job_id=job_id,
            kind=kind,
            owner_id=owner_id,
            subject_id=subject_id,
            status=status,
            reason=reason,
            message=message,
        )
    )


@dataclass(frozen=True)
class Claimed:
    """The columns of a claimed job the runtime needs, and what its kind's ``load`` read."""

    id: str
    kind: str
    owner_id: str | None
    subject_id: str | None
    payload: dict[str, Any] | None
    attempts: int
    loaded: Any = None


class JobContext:
    """Handed to work functions: the job's identity, progress, cancellation and completion."""

    def __init__(self, job: Job | Claimed, *, loaded: Any = None, cancel_check_every_s: float = 0.0) -> None:
        self.job_id = job.id
        self.kind = job.kind
        self.owner_id = job.owner_id
        self.subject_id = job.subject_id
        self.payload: dict[str, Any] = dict(job.payload or {})
        self.attempt = job.attempts  # 1 on the first run; more after a requeue (the work may find its
        # own earlier writes only then, or after a committed result)
        self.committed = False  # set once complete()'s transaction has committed
        self.handed_off = False  # set by hand_off(): other tasks finish the job
        self.loaded = loaded  # what the kind's ``load`` read in the claim's transaction (or None)
        self._progress_at = time.monotonic()  # the claim stored progress 0 just now
        self._checked_at = self._progress_at  # ... and read the status RUNNING
        self._check_every_s = cancel_check_every_s
        self._connection: Connection | None = None

    def progress(self, pct: float) -> None:
        """Check for a cancel (raise JobCancelled) and record progress 0..100 with a heartbeat.

        The progress is written at most every PROGRESS_EVERY_S, so a short job writes none; the
        write returns the status. Between writes a call reads the status (one indexed read) unless
        the kind's ``cancel_check_every_s`` has not passed since the last read or write (the
        default 0: every call reads). The final states are written by ``complete()``, a failure or
        a cancel, never throttled. All of these are independent of the work's transaction.
        """
        now = time.monotonic()
        if now - self._progress_at < PROGRESS_EVERY_S:
            if now - self._checked_at < self._check_every_s:
                return  # checked moments ago; complete() refuses a cancelled job anyway
            self._checked_at = now
            status = self._independent(select(Job.status).where(Job.id == self.job_id))
        else:
            self._progress_at = self._checked_at = now
            stored = max(0, min(100, int(pct)))
            status = self._independent(
                update(Job)
                .where(Job.id == self.job_id)
                .values(progress=stored, heartbeat_at=now_ms())
                .returning(Job.status)
                .execution_options(**{changes.OWNER_OPTION: self.owner_id})
            )
            if status == RUNNING:  # as often as progress is stored; no record, so publish()
                events.publish(self._event("job.progress", RUNNING, progress=stored))
        if status != RUNNING:
            raise JobCancelled(self.job_id)

    def _event(self, type_: str, status: str, **extra: Any) -> events.Event:
        return job_event(
            type_,
            job_id=self.job_id,
            kind=self.kind,
            owner_id=self.owner_id,
            subject_id=self.subject_id,
            status=status,
            **extra,
        )

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

        One UPDATE of the job row while it is RUNNING: it locks the row, so a concurrent cancel is
        ordered against it. If the cancel won (committed first, or held the lock and committed
        while this waited), nothing matches: this raises JobCancelled and the caller's transaction
        (the result) rolls back; a cancel that comes later waits for this commit and finds the job
        final. Once a ``@transactional`` caller commits, ``execute()`` knows the job is recorded
        and writes nothing.
        """
        options = {changes.OWNER_OPTION: self.owner_id}
        if holds(Job, self.job_id):  # the ORM's execution updates the session's object too
            done = db.session.execute(_complete_statement(self.job_id), execution_options=options).first()
        else:
            params = {"q_job_id": self.job_id, "q_finished_at": now_ms(), "q_heartbeat_at": now_ms()}
            done = execute_on_connection(_COMPLETE, params, options=options).first()
        if done is None:
            raise JobCancelled(self.job_id)
        events.emit(self._event(FINAL_EVENTS[SUCCESS], SUCCESS))
        on_commit(self._mark_committed)

    def _mark_committed(self) -> None:
        self.committed = True

    def hand_off(self) -> None:
        """Leave the job RUNNING when the work returns: tasks it sent (a sweep's chunks) finish it.

        Those tasks keep the job's heartbeat fresh while they run; if none does for
        JOB_STALE_AFTER_S the reaper requeues the job and its work runs again (it must be idempotent).
        """
        self.handed_off = True


def _complete_statement(job_id: str) -> Update:
    """``complete()``'s UPDATE with its values in it: for a session that holds the job (see ``_COMPLETE``)."""
    return (
        update(Job)
        .where(Job.id == job_id, Job.status == RUNNING)
        .values(status=SUCCESS, progress=100, finished_at=now_ms(), heartbeat_at=now_ms())
        .returning(Job.id)
    )


# ``complete()``'s UPDATE, built once (its cache key too), run on the session's connection.
_COMPLETE = (
    update(Job)
    .where(Job.id == bindparam("q_job_id"), Job.status == RUNNING)
    .values(
        status=SUCCESS,
        progress=100,
        finished_at=bindparam("q_finished_at"),
        heartbeat_at=bindparam("q_heartbeat_at"),
    )
    .returning(Job.id)
)


class _Heartbeat:
    """Write the job's heartbeat from a thread while its work runs (every JOB_HEARTBEAT_S).

    Heartbeats do not depend on the work calling ``ctx.progress``, so a long step (loading bars,
    a sandboxed strategy) never looks dead, and a killed worker stops beating at once: the reaper
    sees it after JOB_STALE_AFTER_S.
    """

    def __init__(self, app: Flask, job_id: str, owner_id: str | None = None) -> None:
        self._app, self._job_id, self._owner_id = app, job_id, owner_id
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
                        .values(heartbeat_at=now_ms()),
                        execution_options={changes.OWNER_OPTION: self._owner_id},
                    )
            except Exception:  # noqa: BLE001 - a missed beat is retried; the work must go on
                logger.warning("heartbeat of job %s failed", self._job_id, exc_info=True)
