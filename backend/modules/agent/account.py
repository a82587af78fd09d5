"""What the agent does when an account is deleted (`account.deleted`, docs/developing.md).

Audits are rows (deleted in the transaction). Memories live in Mem0/Qdrant, outside the
transaction: the deletion's transaction records that they are owed an erasure (a
`MemoryErasure` row), and they are erased once it has committed, through the same memory API as
`DELETE /api/agent/memories`. If the store is unreachable then, the row stays and the beat task
``agent.erase_memories`` tries again with a growing delay (``ERASE_RETRY_MAX_S`` at most) until
the erasure succeeds: a committed deletion never leaves memories behind for good.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert

from backend.core import events
from backend.core.db import now_ms, on_commit
from backend.core.errors import AppError
from backend.extensions import db
from backend.modules.agent import service
from backend.modules.agent.models import Audit, MemoryErasure

logger = logging.getLogger(__name__)

ACCOUNT_DELETED = "account.deleted"
ERASE_RETRY_FIRST_S = 30  # the first retry; each later one waits twice as long as the one before
ERASE_RETRY_MAX_S = 3600
ERASE_BATCH = 20  # erasures tried per beat (each opens the memory store)


def on_account_deleted(event: events.Event) -> None:
    """Delete the user's audits now; record the memory erasure and try it after the commit."""
    if event.type != ACCOUNT_DELETED or not event.user_id:
        return
    user_id = event.user_id
    db.session.execute(delete(Audit).where(Audit.owner_id == user_id))
    db.session.execute(
        insert(MemoryErasure)
        .values(user_id=user_id, created_at=now_ms(), attempts=0, next_at=now_ms())
        .on_conflict_do_nothing()
    )
    on_commit(lambda: _erase_after_commit(user_id))


def _erase_after_commit(user_id: str) -> None:
    try:
        erase_due(user_ids=[user_id])
    except Exception:  # the deletion has committed: never fail its response; the beat task retries
        logger.exception("erasing the memories of deleted account %s failed; it will be retried", user_id)


def erase_due(*, user_ids: list[str] | None = None, now: int | None = None, limit: int = ERASE_BATCH) -> int:
    """Erase the memories owed to deleted accounts whose erasure is due; return how many succeeded.

    Each row is locked (``SKIP LOCKED``: a concurrent run takes others) and deleted when its
    erasure succeeds; a failure records the error and the next attempt's time. Commits.
    """
    now = now_ms() if now is None else now
    stmt = (
        select(MemoryErasure)
        .where(MemoryErasure.next_at <= now)
        .order_by(MemoryErasure.next_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if user_ids is not None:
        stmt = stmt.where(MemoryErasure.user_id.in_(user_ids))
    erased = 0
    try:
        for row in db.session.scalars(stmt).all():
            try:
                service.delete_memories(actor_id=row.user_id)
            except AppError as exc:  # MemoryUnavailable: the store could not be reached
                row.attempts += 1
                row.last_error = exc.code[:200]
                delay_s = min(ERASE_RETRY_MAX_S, ERASE_RETRY_FIRST_S * 2 ** min(row.attempts - 1, 16))
                row.next_at = now + delay_s * 1000
                logger.warning(
                    "memories of deleted account %s not erased (attempt %d, next in %ss): %s",
                    row.user_id,
                    row.attempts,
                    delay_s,
                    exc.code,
                )
            else:
                db.session.delete(row)
                erased += 1
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return erased


def subscribe() -> None:
    """Register `on_account_deleted` (create_app calls this for every module that has it)."""
    events.subscribe(on_account_deleted)
