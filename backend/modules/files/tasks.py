"""Files tasks: the periodic sweep of bytes left without a row by a crash."""

from __future__ import annotations

from celery import shared_task

from backend.modules.files import service


@shared_task(name="files.sweep_orphans", ignore_result=True)
def sweep_orphans() -> int:
    """Remove upload bytes that no file row points to."""
    return service.sweep_orphans()
