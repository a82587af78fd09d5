"""Celery tasks of the backtests module (queue `backtests`, routed by the name prefix)."""
from __future__ import annotations

from celery import shared_task

from backend.modules.backtests import service


@shared_task(name="backtests.run", acks_late=True)
def run_backtest(job_id: str, backtest_id: str | None = None) -> None:
    """Run one queued backtest job (ids in; the service does the work and records the outcome)."""
    service.execute_backtest(job_id=job_id)
