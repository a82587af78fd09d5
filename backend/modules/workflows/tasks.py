"""Celery tasks of workflows (queue ``workflows``): the beat's cron scheduler.

A run itself is the job kind ``workflows.run`` (declared in runs.py with ``jobs.job_kind``).
"""

from __future__ import annotations

from celery import shared_task

from backend.modules.workflows import service


@shared_task(name="workflows.enqueue_due", ignore_result=True)
def enqueue_due() -> int:
    """Enqueue every due cron-triggered run exactly once."""
    return service.enqueue_due_runs()
