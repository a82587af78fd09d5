"""Operations for admins: Celery queue depths, jobs by status, retrying and cancelling a job.

Queue depths are ``LLEN`` of each Celery queue's list in the broker (`backend.celery_app.QUEUES`,
keys ``<REDIS_KEY_PREFIX>celery:<queue>``), one pipelined round trip bounded by
``REDIS_TIMEOUT_MS``; an unreachable broker answers ``available: false`` and null depths rather
than an error. A depth counts messages waiting to be taken; tasks a worker has taken are not in it.

Retry re-queues the same FAILED job (`backend.core.jobs.requeue_failed`): its module rows (a
backtest, a workflow run) point at the job, so a fresh job would have no rows to work on, while
re-running the same one is what the reaper already does after a worker dies (every kind's work
is re-runnable). Cancel is `backend.core.jobs.cancel_job`: the work stops at its next progress
check. Both are audited with the job's kind and previous status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis
from flask import current_app
from sqlalchemy import select

from backend.core import jobs
from backend.core.db import looks_like_id, transactional
from backend.core.pagination import Page, paginate
from backend.core.queues import QUEUES
from backend.core.redis import cached_call, client_options
from backend.extensions import db
from backend.modules.admin.errors import AdminJobNotFound, JobNotActive, JobNotRetryable
from backend.modules.admin.service import audit, ensure_admin
from backend.modules.stream import service as stream_service
from backend.modules.webhooks import service as webhooks_service


@dataclass(frozen=True)
class QueueDepth:
    """How many messages wait in one Celery queue (None when the broker did not answer)."""

    name: str
    depth: int | None


@dataclass(frozen=True)
class QueuesView:
    """The depth of every queue, and whether the broker answered."""

    available: bool
    queues: list[QueueDepth]


def queue_depths(*, actor_id: str) -> QueuesView:
    """Return the number of waiting messages of every Celery queue (one bounded broker round trip)."""
    ensure_admin(actor_id=actor_id)
    keys = [f"{current_app.config['REDIS_KEY_PREFIX']}celery:{q}" for q in QUEUES]

    def read(r: Any) -> list[int]:
        pipe = r.pipeline(transaction=False)
        for key in keys:
            pipe.llen(key)
        return [int(n) for n in pipe.execute()]

    depths = _on_broker(read)
    if depths is None:
        return QueuesView(available=False, queues=[QueueDepth(name=q, depth=None) for q in QUEUES])
    return QueuesView(
        available=True, queues=[QueueDepth(name=q, depth=n) for q, n in zip(QUEUES, depths, strict=True)]
    )


def _on_broker(read: Any) -> list[int] | None:
    broker = current_app.config["CELERY_BROKER_URL"]
    if broker == current_app.config["REDIS_URL"]:
        return cached_call(read, None)  # the app's client: bounded, and skipped while Redis is down
    client = redis.Redis.from_url(broker, **client_options(current_app))
    try:
        return list(read(client))
    except redis.RedisError:
        return None
    finally:
        client.close()


@dataclass(frozen=True)
class LiveHealth:
    """The live parts from [6/7]: open event streams and webhook deliveries."""

    streams: stream_service.StreamHealth
    webhooks: webhooks_service.DeliveryHealth


def live_health(*, actor_id: str) -> LiveHealth:
    """Return the stream counts (Redis, bounded; null when it is down) and the webhook delivery counts."""
    ensure_admin(actor_id=actor_id)
    return LiveHealth(streams=stream_service.stream_health(), webhooks=webhooks_service.delivery_health())


def list_jobs(
    *, actor_id: str, status: str | None, kind: str | None, page: int, page_size: int
) -> Page[jobs.Job]:
    """Return one page of jobs of every user, newest first, by status and kind (failed ones with reasons)."""
    ensure_admin(actor_id=actor_id)
    stmt = select(jobs.Job).order_by(jobs.Job.created_at.desc(), jobs.Job.id)
    if status is not None:
        stmt = stmt.where(jobs.Job.status == status)
    if kind is not None:
        stmt = stmt.where(jobs.Job.kind == kind)
    return paginate(stmt, page=page, page_size=page_size)


def _job(job_id: str) -> jobs.Job:
    job = (
        db.session.get(jobs.Job, job_id, with_for_update=True, populate_existing=True)
        if looks_like_id(job_id)
        else None
    )
    if job is None:
        raise AdminJobNotFound()
    return job


@transactional
def retry_job(*, actor_id: str, job_id: str) -> jobs.Job:
    """Run a FAILED job again (the same job, back to PENDING); anything else is 409."""
    actor = ensure_admin(actor_id=actor_id)
    job = _job(job_id)
    previous = {"kind": job.kind, "errorReason": job.error_reason, "attempts": job.attempts}
    if not jobs.requeue_failed(job_id=job.id):
        raise JobNotRetryable(details={"status": job.status})
    audit(actor, action="job.retry", target_type="job", target_id=job.id, details=previous)
    db.session.refresh(job)
    return job


@transactional
def cancel_job(*, actor_id: str, job_id: str) -> jobs.Job:
    """Cancel a PENDING or RUNNING job (its work stops at its next progress check); anything else is 409."""
    actor = ensure_admin(actor_id=actor_id)
    job = _job(job_id)
    previous = {"kind": job.kind, "status": job.status}
    if not jobs.cancel_job(job_id=job.id, message="Cancelled by an admin."):
        raise JobNotActive(details={"status": job.status})
    audit(actor, action="job.cancel", target_type="job", target_id=job.id, details=previous)
    db.session.refresh(job)
    return job
