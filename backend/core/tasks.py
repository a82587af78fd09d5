"""Tasks of the core: the reaper that keeps jobs from staying RUNNING forever, and a self-test job."""

from __future__ import annotations

import logging
import time

from celery import shared_task

from backend.core import jobs

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


@jobs.job_kind(SELFTEST)
def selftest(ctx: jobs.JobContext) -> None:
    """Only report progress (payload ``steps``, ``step_s``): proves a worker, the broker and the table."""
    steps = int(ctx.payload.get("steps", 5))
    step_s = float(ctx.payload.get("step_s", 0.2))
    for i in range(steps):
        time.sleep(step_s)
        ctx.progress(100 * (i + 1) / steps)
