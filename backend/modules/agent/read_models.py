"""Read models of the agent: an audit as the API shows it, built from its row and its job."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backend.domain.audit.citations import render
from backend.modules.agent.memory import Memory
from backend.modules.agent.models import Audit


@dataclass(frozen=True)
class AuditTarget:
    """What was audited: a kind, the id of a backtest/strategy/bot/file (none for statements), a symbol."""

    kind: str
    id: str | None
    symbol: str | None


@dataclass(frozen=True)
class AuditError:
    """Why the audit's job failed (``reason`` is the job's failure reason)."""

    reason: str
    message: str | None


@dataclass(frozen=True)
class AuditView:
    """An audit: its job's status (``PENDING`` ...) and, once done, the result with rendered citations."""

    id: str
    job_id: str
    status: str
    target: AuditTarget
    question: str | None
    score: int | None
    findings: list[dict[str, Any]] | None
    summary: str | None
    recommendations: list[str] | None
    narrative: dict[str, Any] | None
    narrative_source: str | None
    memories_used: list[Memory] | None
    model: str | None
    notes: list[str] | None
    error: AuditError | None
    created_at: int
    finished_at: int | None


def audit_view(a: Audit) -> AuditView:
    """Return the audit as the API shows it (summary/recommendations rendered with citations)."""
    narrative = a.narrative or None
    job = a.job
    return AuditView(
        id=a.id,
        job_id=a.job_id,
        status=job.status,
        target=AuditTarget(kind=a.target_kind, id=a.target_id, symbol=a.symbol),
        question=a.question,
        score=a.score,
        findings=a.findings,
        summary=" ".join(render(narrative["summary"])) if narrative else None,
        recommendations=render(narrative["recommendations"]) if narrative else None,
        narrative=narrative,
        narrative_source=a.narrative_source,
        memories_used=None if a.memories_used is None else [Memory.from_json(m) for m in a.memories_used],
        model=a.model,
        notes=a.notes,
        error=AuditError(reason=job.error_reason, message=job.error) if job.error_reason else None,
        created_at=a.created_at,
        finished_at=job.finished_at,
    )
