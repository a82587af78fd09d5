"""Workflow service: saved graphs and their versions, validation, runs, schedules, signals.

Every save of a changed graph adds an immutable ``WorkflowVersion`` (content hash over nodes and
edges; the viewport is layout state and is not part of the hash). Only valid graphs are saved,
so every version can run. Runs and the cron schedule live in ``runs.py`` and ``schedule.py``;
this module is their public face (routes, tasks and other modules call only this file).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from backend.core.db import get_owned_or_404, looks_like_id, new_id, now_ms, transactional
from backend.core.errors import AppError
from backend.core.pagination import Page, paginate
from backend.domain import workflow as engine
from backend.domain.backtest.types import Signals
from backend.domain.bars import Bars
from backend.domain.workflow.cron import next_due
from backend.extensions import db
from backend.modules.strategies import service as strategies_service
from backend.modules.strategies.errors import InvalidStrategy
from backend.modules.workflows.errors import NoCronTrigger, WorkflowNotFound, WorkflowVersionNotFound
from backend.modules.workflows.graphs import (
    compile_or_raise,
    cron_triggers,
    graph_hash,
    limits,
)
from backend.modules.workflows.models import Workflow, WorkflowVersion
from backend.modules.workflows.runs import (  # noqa: F401 - the module's public API lives here
    get_run,
    list_notifications,
    list_runs,
    submit_run,
)
from backend.modules.workflows.schedule import enqueue_due_runs  # noqa: F401

WORKFLOW_KIND = "workflow"


@dataclass(frozen=True)
class WorkflowView:
    """A workflow as the API shows it (the current version's graph)."""

    id: str
    name: str
    symbol: str | None
    graph: dict[str, Any]
    version: int
    version_id: str | None
    enabled: bool
    next_run_at: int | None
    created_at: int
    updated_at: int


def validate_graph(*, graph: Any) -> engine.Validation:
    """Validate a graph: every problem and the run order (never raises for a bad graph)."""
    return engine.validate(graph, limits())


def _version(version_id: str | None) -> WorkflowVersion | None:
    return db.session.get(WorkflowVersion, version_id) if version_id else None


def _graph(row: Workflow) -> dict[str, Any]:
    """Return the graph of the workflow's current version (empty before its first save)."""
    version = _version(row.current_version_id)
    return version.graph if version else {"nodes": [], "edges": []}


def _next_run_at(row: Workflow, graph: Mapping[str, Any]) -> int | None:
    if not row.enabled:
        return None
    times = [next_due(expr, tz, now_ms()) for _node_id, expr, tz in cron_triggers(graph)]
    return min(times) if times else None


def _view(row: Workflow) -> WorkflowView:
    graph = _graph(row)
    return WorkflowView(
        row.id,
        row.name,
        row.symbol,
        graph,
        row.version,
        row.current_version_id,
        row.enabled,
        _next_run_at(row, graph),
        row.created_at,
        row.updated_at,
    )


def _add_version(row: Workflow, graph: dict[str, Any], now: int) -> None:
    """Append a version when the graph's content differs from the current one."""
    digest = graph_hash(graph)
    current = _version(row.current_version_id)
    if current is not None and current.content_hash == digest:
        return
    row.version += 1
    version = WorkflowVersion(
        id=new_id(), workflow_id=row.id, version=row.version, graph=graph, content_hash=digest, created_at=now
    )
    db.session.add(version)
    row.current_version_id = version.id


@transactional
def create_workflow(
    *, actor_id: str, name: str, graph: dict[str, Any], symbol: str | None = None
) -> WorkflowView:
    """Save a new workflow (the graph must be valid) as version 1."""
    compile_or_raise(graph)
    now = now_ms()
    row = Workflow(
        id=new_id(),
        owner_id=actor_id,
        name=name,
        symbol=symbol,
        version=0,
        enabled=False,
        created_at=now,
        updated_at=now,
    )
    db.session.add(row)
    db.session.flush()
    _add_version(row, graph, now)
    return _view(row)


@transactional
def update_workflow(*, actor_id: str, workflow_id: str, changes: Mapping[str, Any]) -> WorkflowView:
    """Rename, change the default symbol, or save a new graph (a new version when it changed)."""
    row = get_owned_or_404(Workflow, workflow_id, actor_id=actor_id, error=WorkflowNotFound, lock=True)
    now = now_ms()
    if "graph" in changes:
        compile_or_raise(changes["graph"])
        _add_version(row, changes["graph"], now)
    for key in ("name", "symbol"):
        if key in changes:
            setattr(row, key, changes[key])
    row.updated_at = now
    if row.enabled and not cron_triggers(_graph(row)):
        row.enabled = False  # the new graph has no cron trigger left to schedule
    return _view(row)


@transactional
def delete_workflow(*, actor_id: str, workflow_id: str) -> None:
    """Delete a workflow with its versions, runs and notifications."""
    db.session.delete(get_owned_or_404(Workflow, workflow_id, actor_id=actor_id, error=WorkflowNotFound))


def get_workflow(*, actor_id: str, workflow_id: str) -> WorkflowView:
    """Return one of the caller's workflows."""
    return _view(get_owned_or_404(Workflow, workflow_id, actor_id=actor_id, error=WorkflowNotFound))


def list_workflows(*, actor_id: str, page: int, page_size: int) -> Page[WorkflowView]:
    """Return the caller's workflows, most recently updated first."""
    stmt = (
        select(Workflow)
        .where(Workflow.owner_id == actor_id)
        .order_by(Workflow.updated_at.desc(), Workflow.id)
    )
    result = paginate(stmt, page=page, page_size=page_size)
    return Page(items=[_view(r) for r in result.items], total=result.total)


@transactional
def set_enabled(*, actor_id: str, workflow_id: str, enabled: bool) -> WorkflowView:
    """Enable or disable the workflow's cron triggers (runs are due only after enabling)."""
    row = get_owned_or_404(Workflow, workflow_id, actor_id=actor_id, error=WorkflowNotFound, lock=True)
    if enabled and not cron_triggers(_graph(row)):
        raise NoCronTrigger()
    if enabled and not row.enabled:
        row.enabled_at = now_ms()
    row.enabled = enabled
    row.updated_at = now_ms()
    return _view(row)


def check_version_access(*, actor_id: str, workflow_version_id: str) -> None:
    """Raise WorkflowVersionNotFound unless the version belongs to one of the caller's workflows."""
    version = (
        db.session.get(WorkflowVersion, workflow_version_id) if looks_like_id(workflow_version_id) else None
    )
    if version is None:
        raise WorkflowVersionNotFound()
    get_owned_or_404(Workflow, version.workflow_id, actor_id=actor_id, error=WorkflowVersionNotFound)


def workflow_signals(*, workflow_version_id: str, bars: Bars) -> Signals:
    """Return a version's long entries/exits per bar (vectorised; a signal at t acts at t+1's open)."""
    version = (
        db.session.get(WorkflowVersion, workflow_version_id) if looks_like_id(workflow_version_id) else None
    )
    if version is None:
        raise WorkflowVersionNotFound()
    return engine.workflow_signals(compile_or_raise(version.graph), bars)


def _strategy_params(params: Mapping[str, Any], actor_id: str) -> dict[str, Any]:
    """Return ``{workflow_version_id}`` after checking the version is one of the actor's workflows."""
    ref = params.get("workflow_version_id")
    fields = {f"params.{k}": ["Unknown parameter."] for k in sorted(set(params) - {"workflow_version_id"})}
    if not looks_like_id(ref):
        fields["params.workflow_version_id"] = [
            "Missing data for required field." if not ref else "Must be an id."
        ]
    else:
        try:
            check_version_access(actor_id=actor_id, workflow_version_id=str(ref))
        except AppError as exc:
            if exc.http_status != 404:
                raise
            fields["params.workflow_version_id"] = ["Unknown workflow version."]
    if fields:
        raise InvalidStrategy(fields=fields)
    return {"workflow_version_id": ref}


def _strategy_signals(params: Mapping[str, Any], bars: Bars) -> Signals:
    return workflow_signals(workflow_version_id=params["workflow_version_id"], bars=bars)


def register_strategy_kind() -> None:
    """Make a workflow version usable as a strategy (kind ``workflow``); ``create_app`` calls this."""
    strategies_service.register_kind(
        strategies_service.StrategyKind(
            name=WORKFLOW_KIND, validate=_strategy_params, signals=_strategy_signals
        )
    )


def list_node_types() -> list[dict[str, Any]]:
    """Return every node type with its parameter schema."""
    return engine.describe_types()
