"""HTTP contract of workflows (CONTRACT.md section 4): workflows, validation, runs and traces."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import validate

from backend.core.schemas import BaseSchema, CamelSchema, Symbol, TimestampMs

GRAPH_DOC = {
    "type": "object",
    "description": "React Flow JSON; its nodes and edges are checked by the workflow validator.",
    "properties": {
        "nodes": {"type": "array", "items": {"type": "object"}},
        "edges": {"type": "array", "items": {"type": "object"}},
        "viewport": {"type": "object"},
    },
    "required": ["nodes"],
}


ANY_BUT_NULL = {"anyOf": [{"type": t} for t in ("object", "array", "string", "number", "boolean")]}


class GraphField(ma.fields.Dict):
    """React Flow JSON ``{nodes, edges?, viewport?}``; its content is checked by the validator."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(metadata=GRAPH_DOC, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict:
        graph = super()._deserialize(value, attr, data, **kwargs)
        if not isinstance(graph.get("nodes"), list) or not isinstance(graph.get("edges", []), list):
            raise ma.ValidationError("Must be an object with a 'nodes' array and an 'edges' array.")
        return graph


class WorkflowSchema(CamelSchema):
    """A workflow with its current version's graph."""

    id = ma.fields.String()
    name = ma.fields.String()
    symbol = ma.fields.String(allow_none=True)
    graph = ma.fields.Dict(metadata=GRAPH_DOC)
    version = ma.fields.Integer()
    version_id = ma.fields.String(allow_none=True)
    enabled = ma.fields.Boolean()
    next_run_at = TimestampMs(allow_none=True)
    created_at = TimestampMs()
    updated_at = TimestampMs()


class WorkflowCreateSchema(BaseSchema):
    """Body of POST /api/workflows (the graph must be valid; see POST /api/workflows/validate)."""

    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=120))
    graph = GraphField(required=True)
    symbol = Symbol(allow_none=True)


class WorkflowUpdateSchema(BaseSchema):
    """Body of PUT /api/workflows/{id}: any (at least one) of name, symbol, graph; a changed graph
    is a new version."""

    class Meta:
        openapi = {"minProperties": 1}

    name = ma.fields.String(validate=validate.Length(min=1, max=120))
    graph = GraphField()
    symbol = Symbol(allow_none=True)

    @ma.validates_schema
    def _not_empty(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if not data:
            raise ma.ValidationError("Give at least one field to change.", "_schema")


class WorkflowValidateBodySchema(BaseSchema):
    """Body of POST /api/workflows/validate: ``{graph}`` or the React Flow object itself.

    Any JSON but null is taken (a malformed graph is a validation result, not a 422).
    """

    class Meta:
        openapi = {"anyOf": [{"required": ["graph"]}, {"required": ["nodes"]}]}

    graph = ma.fields.Raw(metadata=ANY_BUT_NULL)
    nodes = ma.fields.Raw(metadata=ANY_BUT_NULL)
    edges = ma.fields.Raw(metadata=ANY_BUT_NULL)
    viewport = ma.fields.Raw(metadata=ANY_BUT_NULL)

    @ma.post_load
    def to_graph(self, data: dict, **_kwargs: Any) -> dict:
        """Return ``{"graph": ...}`` whichever shape was sent."""
        if "graph" in data:
            return {"graph": data["graph"]}
        if "nodes" not in data:
            raise ma.ValidationError("Send {graph: {nodes, edges}} or {nodes, edges}.", "graph")
        return {"graph": {k: v for k, v in data.items() if k in ("nodes", "edges", "viewport")}}


class WorkflowProblemSchema(CamelSchema):
    """One validation problem (``nodeId``, ``edgeId`` and ``cycle`` only where they apply)."""

    node_id = ma.fields.String()
    edge_id = ma.fields.String()
    reason = ma.fields.String()
    message = ma.fields.String()
    cycle = ma.fields.List(ma.fields.String())

    @ma.post_dump
    def _omit_unset(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        return {k: v for k, v in data.items() if v is not None}


class WorkflowValidationSchema(CamelSchema):
    """Validation outcome: every problem at once and the run order."""

    valid = ma.fields.Boolean()
    errors = ma.fields.List(ma.fields.Nested(WorkflowProblemSchema), attribute="problems")
    order = ma.fields.List(ma.fields.String())


class WorkflowExecuteResultSchema(BaseSchema):
    """A queued run and its job."""

    run_id = ma.fields.String()
    job_id = ma.fields.String()


class WorkflowNodeTraceSchema(CamelSchema):
    """What one node did in a run."""

    node_id = ma.fields.String()
    status = ma.fields.String(metadata={"enum": ["ran", "pruned", "skipped", "failed"]})
    inputs = ma.fields.Dict()
    outputs = ma.fields.Dict()
    decision = ma.fields.String(allow_none=True)
    duration_ms = ma.fields.Float()
    error = ma.fields.String(allow_none=True)


# A run's status is its job's (backend.core.jobs); this is the contract's spelling of it.
RUN_STATUS = {
    "PENDING": "queued",
    "RUNNING": "running",
    "SUCCESS": "succeeded",
    "FAILED": "failed",
    "CANCELLED": "failed",
}


class WorkflowRunSchema(CamelSchema):
    """A workflow run (status queued|running|succeeded|failed)."""

    id = ma.fields.String()
    workflow_id = ma.fields.String()
    version_id = ma.fields.String()
    version = ma.fields.Integer()
    status = ma.fields.Function(
        lambda run: RUN_STATUS[run.status],
        metadata={"type": "string", "enum": ["queued", "running", "succeeded", "failed"]},
    )
    trigger = ma.fields.String()
    scheduled_at = TimestampMs(allow_none=True)
    job_id = ma.fields.String(allow_none=True)
    error = ma.fields.String(allow_none=True)
    created_at = TimestampMs()
    started_at = TimestampMs(allow_none=True)
    finished_at = TimestampMs(allow_none=True)


class WorkflowRunDetailSchema(WorkflowRunSchema):
    """A run with its per-node trace in run order."""

    trace = ma.fields.List(ma.fields.Nested(WorkflowNodeTraceSchema))


class WorkflowNodeTypeSchema(CamelSchema):
    """A node type and its parameter schema (for the editor)."""

    type = ma.fields.String()
    output = ma.fields.String()
    params = ma.fields.List(ma.fields.Dict())


class WorkflowNotificationSchema(CamelSchema):
    """A message recorded by a notify action."""

    id = ma.fields.String()
    workflow_id = ma.fields.String()
    run_id = ma.fields.String()
    node_id = ma.fields.String()
    message = ma.fields.String()
    created_at = TimestampMs()
