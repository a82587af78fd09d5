"""Agent service: submit and run audits, read them, and manage the caller's memories."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import select

from backend.core import jobs
from backend.core.db import get_owned_or_404, new_id, now_ms, transactional
from backend.core.pagination import Page, paginate
from backend.extensions import db
from backend.modules.agent import targets
from backend.modules.agent.audit import JOB_KIND
from backend.modules.agent.errors import AuditNotFound, MemoryNotFound, MemoryOff, MemoryUnavailable
from backend.modules.agent.memory import Memory, MemoryStore, open_store
from backend.modules.agent.models import Audit
from backend.modules.agent.read_models import AuditView, audit_view
from backend.modules.agent.settings import api_key_for, memory_settings

logger = logging.getLogger(__name__)

T = TypeVar("T")

NO_KEY = "none"  # Mem0 needs some key to build its clients; listing/deleting never calls the API


# --- audits ------------------------------------------------------------------------------------


def _target_of(
    actor_id: str, body: dict[str, Any]
) -> tuple[str, str | None, dict[str, Any] | None, str | None]:
    """Return (kind, target id, statements, symbol) after checking the caller may audit it."""
    if body.get("statements") is not None:
        targets.check_statements(body["statements"])
        return "statements", None, body["statements"], None
    if body.get("file_id"):
        raw = targets.load_file_statements(actor_id=actor_id, file_id=body["file_id"])
        return "file", body["file_id"], raw, None
    for kind in ("backtest", "strategy", "bot"):
        if body.get(f"{kind}_id"):
            symbol = targets.check_target(actor_id=actor_id, kind=kind, target_id=body[f"{kind}_id"])
            return kind, body[f"{kind}_id"], None, symbol
    raise AssertionError("the schema guarantees one target")


@transactional
def submit_audit(*, actor_id: str, body: dict[str, Any]) -> dict[str, str]:
    """Check the target, create the audit and its job; the job is enqueued after commit."""
    kind, target_id, statements, symbol = _target_of(actor_id, body)
    symbol = body.get("symbol") or symbol
    if not symbol and statements and statements.get("symbol"):
        symbol = str(statements["symbol"])[:32]
    job = jobs.submit(JOB_KIND, owner_id=actor_id, subject_id=target_id)
    audit = Audit(
        id=new_id(),
        owner_id=actor_id,
        job_id=job.id,
        job=job,
        target_kind=kind,
        target_id=target_id,
        symbol=symbol,
        question=body.get("question"),
        input=statements,
        created_at=now_ms(),
    )
    db.session.add(audit)
    return {"job_id": job.id, "audit_id": audit.id}


def get_audit(*, actor_id: str, audit_id: str) -> AuditView:
    """Return one of the caller's audits."""
    return audit_view(get_owned_or_404(Audit, audit_id, actor_id=actor_id, error=AuditNotFound))


def list_audits(*, actor_id: str, page: int, page_size: int) -> Page[AuditView]:
    """Return the caller's audits, newest first."""
    stmt = select(Audit).where(Audit.owner_id == actor_id).order_by(Audit.created_at.desc(), Audit.id)
    result = paginate(stmt, page=page, page_size=page_size)
    return Page(items=[audit_view(a) for a in result.items], total=result.total)


# --- memories ----------------------------------------------------------------------------------


def _store_call(actor_id: str, fn: Callable[[MemoryStore], T], *, need_key: bool) -> T:
    key = api_key_for(actor_id)
    if need_key and not key:
        raise MemoryOff()
    try:
        with open_store(memory_settings(key or NO_KEY)) as store:
            return fn(store)
    except Exception as exc:  # noqa: BLE001 - Qdrant/Mem0/OpenAI raise many unrelated types
        logger.warning("memory store call failed: %s", type(exc).__name__)
        raise MemoryUnavailable() from None


def list_memories(*, actor_id: str) -> list[Memory]:
    """Return what the auditor remembers about the caller, newest first (undated last), then id."""
    memories = _store_call(actor_id, lambda s: s.list(user_id=actor_id), need_key=False)
    return sorted(memories, key=lambda m: (m.created_at is None, -(m.created_at or 0), m.id))


def add_memory(*, actor_id: str, text: str) -> list[Memory]:
    """Remember something the caller states (Mem0 extracts the facts); return what was stored."""
    return _store_call(actor_id, lambda s: s.remember_statement(user_id=actor_id, text=text), need_key=True)


def delete_memory(*, actor_id: str, memory_id: str) -> dict[str, int]:
    """Erase one of the caller's memories."""
    if not _store_call(actor_id, lambda s: s.delete(user_id=actor_id, memory_id=memory_id), need_key=False):
        raise MemoryNotFound()
    return {"deleted": 1}


def delete_memories(*, actor_id: str) -> dict[str, int]:
    """Erase everything the auditor remembers about the caller."""
    return {"deleted": _store_call(actor_id, lambda s: s.delete_all(user_id=actor_id), need_key=False)}
