"""Turn an Audit row into the API's audit object."""

from __future__ import annotations

from typing import Any

from backend.domain.audit.citations import render
from backend.modules.agent.models import Audit


def audit_view(a: Audit) -> dict[str, Any]:
    """Return the audit as the API shows it (summary/recommendations rendered with citations)."""
    narrative = a.narrative or None
    return {
        "id": a.id,
        "jobId": a.job_id,
        "status": a.job.status,
        "target": {"kind": a.target_kind, "id": a.target_id, "symbol": a.symbol},
        "question": a.question,
        "score": a.score,
        "findings": a.findings,
        "summary": " ".join(render(narrative["summary"])) if narrative else None,
        "recommendations": render(narrative["recommendations"]) if narrative else None,
        "narrative": narrative,
        "narrativeSource": a.narrative_source,
        "memoriesUsed": a.memories_used,
        "model": a.model,
        "notes": a.notes,
        "error": {"reason": a.job.error_reason, "message": a.job.error} if a.job.error_reason else None,
        "createdAt": a.created_at,
        "finishedAt": a.job.finished_at,
    }
