"""Celery tasks of workflows (queue ``workflows``): execute one run; the beat's cron scheduler."""
from __future__ import annotations

from celery import shared_task

from backend.modules.workflows import service


@shared_task(name="workflows.execute", ignore_result=True, acks_late=True)
def execute(job_id: str) -> str | None:
    """Execute the workflow run of a job (idempotent: run_job claims the job once)."""
    return service.execute_run(job_id=job_id)


@shared_task(name="workflows.enqueue_due", ignore_result=True)
def enqueue_due() -> int:
    """Enqueue every due cron-triggered run exactly once."""
    return service.enqueue_due_runs()
