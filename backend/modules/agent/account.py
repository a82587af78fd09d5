"""What the agent does when an account is deleted (`account.deleted`, docs/developing.md).

Audits are rows (deleted in the transaction). Memories live in Mem0/Qdrant, outside the
transaction: they are erased once the deletion has committed, through the same memory API as
`DELETE /api/agent/memories`. If the store is unreachable then, the failure is logged (the
account is already gone; an operator can erase the user's memories by id later).
"""

from __future__ import annotations

import logging

from sqlalchemy import delete

from backend.core import events
from backend.core.db import on_commit
from backend.core.errors import AppError
from backend.extensions import db
from backend.modules.agent import service
from backend.modules.agent.models import Audit

logger = logging.getLogger(__name__)

ACCOUNT_DELETED = "account.deleted"


def on_account_deleted(event: events.Event) -> None:
    """Delete the user's audits now and their memories after the commit."""
    if event.type != ACCOUNT_DELETED or not event.user_id:
        return
    user_id = event.user_id
    db.session.execute(delete(Audit).where(Audit.owner_id == user_id))
    on_commit(lambda: _erase_memories(user_id))


def _erase_memories(user_id: str) -> None:
    try:
        service.delete_memories(actor_id=user_id)
    except AppError as exc:  # MemoryUnavailable: the store could not be reached
        logger.warning("memories of deleted account %s not erased: %s", user_id, exc.code)


def subscribe() -> None:
    """Register `on_account_deleted` (create_app calls this for every module that has it)."""
    events.subscribe(on_account_deleted)
