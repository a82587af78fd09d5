"""Tasks of the core: the reaper that keeps jobs from staying RUNNING forever, the purge of expired
login sessions, and a self-test job."""

from __future__ import annotations

import logging
import time

from celery import shared_task
from flask import current_app

from backend.core import jobs, sessions
from backend.core.db import transactional

logger = logging.getLogger(__name__)

SELFTEST = "core.selftest"


# celery ships no type information: the task object it makes is `Any` to mypy.
@shared_task(name="core.reap_stale_jobs")  # type: ignore[untyped-decorator]
def reap_stale_jobs() -> dict[str, int]:
    """Requeue or fail jobs whose worker died; resend jobs the broker lost."""
    counts = jobs.reap_stale_jobs()
    if any(counts.values()):
        logger.warning("reaper: %s", counts)
    return counts


@shared_task(name="core.purge_expired_sessions")  # type: ignore[untyped-decorator]
def purge_expired_sessions() -> int:
    """Delete login sessions that expired more than SESSIONS_KEEP_EXPIRED_DAYS ago."""
    return _purge()


@transactional
def _purge() -> int:
    keep_s = int(current_app.config["SESSIONS_KEEP_EXPIRED_DAYS"]) * 86400
    return sessions.purge_expired(keep_s=keep_s)


@jobs.job_kind(SELFTEST)
def selftest(ctx: jobs.JobContext) -> None:
    """Only report progress (payload ``steps``, ``step_s``): proves a worker, the broker and the table."""
    steps = int(ctx.payload.get("steps", 5))
    step_s = float(ctx.payload.get("step_s", 0.2))
    for i in range(steps):
        time.sleep(step_s)
        ctx.progress(100 * (i + 1) / steps)
