"""Agent Celery tasks: thin adapters over the service."""
from __future__ import annotations

from celery import shared_task

from backend.core import jobs
from backend.modules.agent import service


@shared_task(name="agent.audit", acks_late=True)
def run_audit(job_id: str, audit_id: str) -> None:
    """Run one queued audit."""
    service.run_audit(job_id=job_id, audit_id=audit_id)


jobs.register_job_kind(service.JOB_KIND, task_name=service.TASK_NAME, on_failed=service.mark_failed)
