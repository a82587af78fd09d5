"""Tasks of the core: the reaper that keeps jobs from staying RUNNING forever."""
from __future__ import annotations

import logging
import time

from celery import shared_task

from backend.core import jobs

logger = logging.getLogger(__name__)


@shared_task(name="core.reap_stale_jobs")
def reap_stale_jobs() -> dict[str, int]:
    """Requeue or fail jobs whose worker died."""
    counts = jobs.reap_stale_jobs()
    if any(counts.values()):
        logger.warning("reaper: %s", counts)
    return counts


def _selftest_work(steps: int, step_s: float):
    def work(ctx: jobs.JobContext) -> None:
        for i in range(steps):
            time.sleep(step_s)
            ctx.progress(100 * (i + 1) / steps)
    return work


@shared_task(name="core.selftest")
def selftest(job_id: str, steps: int = 5, step_s: float = 0.2) -> None:
    """Run a job that only reports progress: proves a worker, the broker and the job table work."""
    jobs.run_job(job_id, _selftest_work(steps, step_s))


jobs.register_job_kind("core.selftest", task_name="core.selftest")
