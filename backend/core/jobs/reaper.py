"""The reaper: RUNNING jobs whose worker died are requeued or failed; lost PENDING jobs are resent."""

from __future__ import annotations

import logging

from flask import current_app
from sqlalchemy import func, select, update

from backend.core.db import independent_session, now_ms, transactional
from backend.core.jobs import runtime
from backend.core.jobs.context import emit_final
from backend.core.jobs.model import FAILED, PENDING, RUNNING, Job
from backend.extensions import db

logger = logging.getLogger(__name__)


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
        if attempts < max_attempts and kind in runtime.registered_kinds():
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


@transactional
def _fail_lost(job_id: str) -> int:
    reason, message = "worker_lost", "The worker running this job stopped responding."
    done = db.session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == RUNNING)
        .values(status=FAILED, finished_at=now_ms(), error_reason=reason, error=message)
        .returning(Job.kind, Job.owner_id, Job.subject_id)
    ).first()
    if done is None:
        return 0
    emit_final(
        job_id=job_id,
        kind=done.kind,
        owner_id=done.owner_id,
        subject_id=done.subject_id,
        status=FAILED,
        reason=reason,
        message=message,
    )
    return 1


def _resend(job_id: str, kind: str) -> int:
    if kind not in runtime.registered_kinds():
        return 0
    try:
        runtime.send_task(job_id, kind)
    except Exception:  # noqa: BLE001 - broker down: the next reaper run tries again
        logger.warning("could not resend job %s", job_id)
        return 0
    return 1
