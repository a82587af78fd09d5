"""Agent HTTP contract: audit requests and results, memories."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate, validates_schema

from backend.core.schemas import BaseSchema, CamelSchema, Id, Symbol, TimestampMs

TARGET_FIELDS = ("backtest_id", "strategy_id", "bot_id", "file_id", "statements")


class AuditCreateSchema(BaseSchema):
    """POST /api/agent/audit: exactly one target, an optional symbol and question."""

    class Meta:
        openapi = {"oneOf": [{"required": [target]} for target in TARGET_FIELDS]}

    backtest_id = Id()
    strategy_id = Id()
    bot_id = Id()
    file_id = Id()
    statements = ma.fields.Dict(metadata={"description": "{marketCap?, current: {...}, prior: {...}}"})
    symbol = Symbol()
    question = ma.fields.String(validate=validate.Length(min=1, max=1000))

    @validates_schema
    def _one_target(self, data, **kwargs):
        given = [f for f in TARGET_FIELDS if data.get(f) is not None]
        if len(given) != 1:
            raise ma.ValidationError(
                f"Give exactly one target: one of {', '.join(TARGET_FIELDS)}.", field_name="target"
            )


class AuditSubmittedSchema(BaseSchema):
    """202 answer: the job to poll and the audit to read."""

    job_id = ma.fields.String()
    audit_id = ma.fields.String()


class EvidenceSchema(BaseSchema):
    metric = ma.fields.String()
    value = ma.fields.Float(allow_none=True)
    threshold = ma.fields.Float(allow_none=True)


class FindingSchema(BaseSchema):
    """A deterministic finding with the exact numbers it came from."""

    id = ma.fields.String()
    severity = ma.fields.String(metadata={"enum": ["high", "medium", "low", "info"]})
    title = ma.fields.String()
    evidence = ma.fields.Nested(EvidenceSchema)
    related = ma.fields.List(ma.fields.Nested(EvidenceSchema))


class SentenceSchema(BaseSchema):
    text = ma.fields.String()
    cites = ma.fields.List(ma.fields.String())


class NarrativeSchema(BaseSchema):
    summary = ma.fields.List(ma.fields.Nested(SentenceSchema))
    recommendations = ma.fields.List(ma.fields.Nested(SentenceSchema))


class MemorySchema(CamelSchema):
    """One remembered fact of the caller's (dumps a `memory.Memory`)."""

    id = ma.fields.String()
    memory = ma.fields.String()
    kind = ma.fields.String(metadata={"enum": ["preference", "audit"]})
    score = ma.fields.Float(allow_none=True)
    created_at = TimestampMs(allow_none=True)


class AuditTargetSchema(BaseSchema):
    kind = ma.fields.String(metadata={"enum": ["backtest", "strategy", "bot", "statements", "file"]})
    id = ma.fields.String(allow_none=True)
    symbol = ma.fields.String(allow_none=True)


class AuditErrorSchema(BaseSchema):
    reason = ma.fields.String()
    message = ma.fields.String()


# An audit's status is its job's (backend.core.jobs); this is the contract's spelling of it.
RUN_STATUS = {
    "PENDING": "queued",
    "RUNNING": "running",
    "SUCCESS": "completed",
    "FAILED": "failed",
    "CANCELLED": "failed",
}


class AuditSchema(CamelSchema):
    """An audit: status and, when completed, the score, findings and cited narrative.

    Dumps a `read_models.AuditView`.
    """

    id = ma.fields.String()
    job_id = ma.fields.String(allow_none=True)
    status = ma.fields.Function(
        lambda audit: RUN_STATUS[audit.status],
        metadata={"type": "string", "enum": ["queued", "running", "completed", "failed"]},
    )
    target = ma.fields.Nested(AuditTargetSchema)
    question = ma.fields.String(allow_none=True)
    score = ma.fields.Integer(allow_none=True)
    findings = ma.fields.List(ma.fields.Nested(FindingSchema), allow_none=True)
    summary = ma.fields.String(allow_none=True)
    recommendations = ma.fields.List(ma.fields.String(), allow_none=True)
    narrative = ma.fields.Nested(NarrativeSchema, allow_none=True)
    narrative_source = ma.fields.String(allow_none=True)
    memories_used = ma.fields.List(ma.fields.Nested(MemorySchema), allow_none=True)
    model = ma.fields.String(allow_none=True)
    notes = ma.fields.List(ma.fields.String(), allow_none=True)
    error = ma.fields.Nested(AuditErrorSchema, allow_none=True)
    created_at = TimestampMs()
    finished_at = TimestampMs(allow_none=True)


class MemoryCreateSchema(BaseSchema):
    """POST /api/agent/memories: something the auditor should remember about me."""

    text = ma.fields.String(required=True, validate=validate.Length(min=1, max=2000))


class DeletedSchema(BaseSchema):
    """How many memories were erased."""

    deleted = ma.fields.Integer()
