"""The audit's work inside its job (kind ``agent.audit``): findings, memories, narrative, conclusion.

Order: deterministic findings (saved at once, so they survive a later LLM failure), then, when an
OpenAI key is available, the user's relevant memories and the cited narrative; without a key the
plain summary is used and the audit says narrative and memory are off. A model that stays
unreachable after the retries fails the job (and the audit) with reason ``llm_unavailable``.
"""

from __future__ import annotations

import logging
import math
import numbers
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from backend.core import jobs
from backend.core.db import now_ms, transactional
from backend.core.jobs import JobContext, JobFailed
from backend.domain.audit.summary import deterministic_narrative
from backend.extensions import db
from backend.modules.agent import settings, targets
from backend.modules.agent.llm import LLMUnavailable, write_narrative
from backend.modules.agent.memory import Memory, open_store
from backend.modules.agent.models import Audit

logger = logging.getLogger(__name__)

NO_KEY_NOTE = "Narrative and memory are off: no OpenAI API key is configured; the summary is the plain one."
MEMORY_DOWN_NOTE = "Memory was unavailable for this audit; the narrative used the findings only."


@transactional
def _update(audit_id: str, *, complete: JobContext | None = None, **values: Any) -> None:
    """Store part of the result (each step commits, so findings survive a later failure)."""
    audit = db.session.get(Audit, audit_id)
    for k, v in values.items():
        setattr(audit, k, v)
    if complete is not None:
        complete.complete()


def _describe(a: Audit) -> str:
    if a.target_kind in ("statements", "file"):
        return f"financial statements of {a.symbol or 'a company'}"
    return f"{a.target_kind} {a.target_id}" + (f" on {a.symbol}" if a.symbol else "")


def _recall(actor_id: str, key: str, query: str, notes: list[str]) -> list[Memory]:
    try:
        with open_store(settings.memory_settings(key)) as store:
            return store.search(user_id=actor_id, query=query, limit=5)
    except Exception as exc:  # noqa: BLE001 - memory is an aid; the audit goes on without it
        logger.warning("memory search failed: %s", type(exc).__name__)
        notes.append(MEMORY_DOWN_NOTE)
        return []


def _remember(actor_id: str, key: str, text: str) -> None:
    try:
        with open_store(settings.memory_settings(key)) as store:
            store.remember_verbatim(user_id=actor_id, text=text, kind="audit")
    except Exception as exc:  # noqa: BLE001 - losing one conclusion must not fail the audit
        logger.warning("storing the audit conclusion failed: %s", type(exc).__name__)


def _conclusion(a: Audit, score: int, findings: list[Mapping[str, Any]]) -> str:
    flagged = [f["title"] for f in findings if f["severity"] in ("high", "medium")]
    issues = "; ".join(flagged) if flagged else "no major issue"
    return f"Audit of {_describe(a)} scored {score}/100: {issues}."


JOB_KIND = "agent.audit"


@jobs.job_kind(JOB_KIND)
def run_audit(ctx: JobContext) -> None:
    """Compute and store one audit; the findings are kept even if the narrative then fails."""
    a = db.session.scalars(select(Audit).where(Audit.job_id == ctx.job_id)).one()
    audit_id = a.id
    ctx.progress(5)
    report = targets.report_for(
        actor_id=a.owner_id, kind=a.target_kind, target_id=a.target_id, statements=a.input
    )
    findings: list[Mapping[str, Any]] = list(report.findings_dicts())
    _update(audit_id, score=report.score, findings=findings, metrics=_jsonable(report.metrics))
    ctx.progress(40)
    notes: list[str] = []
    key = settings.api_key_for(a.owner_id)
    if not key:
        narrative, source, model, used = deterministic_narrative(findings), "deterministic", None, []
        notes.append(NO_KEY_NOTE)
    else:
        query = " ".join(
            [a.question or "", _describe(a)] + [f["title"] for f in findings if f["severity"] != "info"]
        )
        used = _recall(a.owner_id, key, query, notes)
        ctx.progress(60)
        narrative, source, model = _narrate(a, key, findings, used, notes)
        ctx.progress(85)
        _remember(a.owner_id, key, _conclusion(a, report.score, findings))
    _update(
        audit_id,
        narrative=narrative,
        narrative_source=source,
        model=model,
        memories_used=[m.to_json() for m in used],
        notes=notes,
        finished_at=now_ms(),
        complete=ctx,
    )


def _narrate(
    a: Audit, key: str, findings: list[Mapping[str, Any]], used: list[Memory], notes: list[str]
) -> tuple[dict[str, Any], str, str]:
    llm = settings.llm_settings(key)
    context = {"target": _describe(a), "question": a.question}
    try:
        out = write_narrative(llm, findings=findings, memories=[m.to_json() for m in used], context=context)
    except LLMUnavailable as exc:
        raise JobFailed(exc.reason, reason="llm_unavailable") from None
    notes.extend(out.notes)
    return {"summary": out.summary, "recommendations": out.recommendations}, out.source, llm.model


def _jsonable(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: _json_number(v) for k, v in metrics.items()}


def _json_number(value: Any) -> int | float | None:
    """Return ``value`` as a JSON number (numpy scalars included); NaN, infinities and others are null."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real) and math.isfinite(float(value)):
        return float(value)
    return None
