"""Tasks of the core: the reaper that keeps jobs from staying RUNNING forever."""
from __future__ import annotations

import logging

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
