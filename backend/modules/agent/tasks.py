"""Agent tasks: the periodic retry of memory erasures owed to deleted accounts (account.py)."""

from __future__ import annotations

from celery import shared_task

from backend.modules.agent import account


@shared_task(name="agent.erase_memories", ignore_result=True)
def erase_memories() -> int:
    """Erase the memories of deleted accounts whose erasure is due (failed before, or never tried)."""
    return account.erase_due()
