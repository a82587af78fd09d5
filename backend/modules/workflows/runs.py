"""Workflow runs: submit (manual), the job's work (perform actions, store the trace), reads.

A run's status is its job's (``backend.core.jobs``): a run whose nodes failed stores its trace and
fails its job with reason ``node_failed``. A run executes the version it was created with. Data
nodes read complete bars up to the run's start through the market service. Actions run in the
order the graph ran them: ``buy``/``sell``/``close`` with a ``bot_id`` place a paper order through
the bots service with the idempotency key ``workflow:<run>:<node>`` (a retried run never doubles
an order); without a bot the intent is only recorded; ``notify`` records one notification row per
(run, node) and emits ``workflow.notify`` (a subscriber-only event the notification centre turns
into a notification; ``GET /api/workflows/notifications`` is the deprecated view of these rows).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select

from backend.core import events, jobs
from backend.core.db import get_owned_or_404, new_id, now_ms, transactional
from backend.core.errors import AppError
from backend.core.pagination import Page, paginate
from backend.domain import workflow as engine
from backend.domain.bars import Bars
from backend.domain.marketdata.intervals import interval_ms
from backend.domain.workflow.cron import last_due
from backend.domain.workflow.runner import BarsSource
from backend.extensions import db
from backend.modules.bots import service as bots_service
from backend.modules.market import service as market_service
from backend.modules.workflows.errors import WorkflowNotFound, WorkflowRunNotFound
from backend.modules.workflows.graphs import compile_or_raise, cron_triggers
from backend.modules.workflows.models import (
    CRON,
    MANUAL,
    Workflow,
    WorkflowNodeRun,
    WorkflowNotification,
    WorkflowRun,
    WorkflowVersion,
)

logger = logging.getLogger(__name__)

JOB_KIND = "workflows.run"
NODE_FAILED = "node_failed"
ORDER_ACTIONS = ("buy", "sell", "close")


@dataclass(frozen=True)
class NodeTraceView:
    """What one node did in a run (``status`` ran | pruned | skipped | failed)."""

    node_id: str
    status: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    decision: str | None
    duration_ms: float
    error: str | None


@dataclass(frozen=True)
class RunView:
    """A run as the API shows it; ``trace`` is filled only for the detail view."""

    id: str
    workflow_id: str
    version_id: str
    version: int
    status: str  # the job's status (PENDING, RUNNING, SUCCESS, FAILED, CANCELLED)
    trigger: str
    scheduled_at: int | None
    job_id: str | None
    error: str | None
    created_at: int
    started_at: int | None
    finished_at: int | None
    trace: list[NodeTraceView] | None = None


def _error(job: jobs.Job | None) -> str | None:
    """Return the run's error: the failed nodes, or ``reason: message`` when the job itself failed."""
    if job is None or job.error_reason is None:
        return None
    return job.error if job.error_reason == NODE_FAILED else f"{job.error_reason}: {job.error}"


def _view(run: WorkflowRun, number: int, trace: list[NodeTraceView] | None = None) -> RunView:
    job = run.job
    return RunView(
        run.id,
        run.workflow_id,
        run.version_id,
        int(number or 0),
        job.status if job else jobs.FAILED,
        run.trigger,
        run.scheduled_at,
        run.job_id,
        _error(job),
        run.created_at,
        job.started_at if job else None,
        job.finished_at if job else None,
        trace,
    )


@dataclass(frozen=True)
class SubmittedRun:
    """A queued manual run and its job (HTTP 202)."""

    run_id: str
    job_id: str


@transactional
def submit_run(*, actor_id: str, workflow_id: str) -> SubmittedRun:
    """Queue a manual run of the workflow's current version (enqueued once this commits)."""
    row = get_owned_or_404(Workflow, workflow_id, actor_id=actor_id, error=WorkflowNotFound)
    job = jobs.submit(JOB_KIND, owner_id=row.owner_id, subject_id=row.id)
    run = WorkflowRun(
        id=new_id(),
        workflow_id=row.id,
        version_id=row.current_version_id,
        owner_id=row.owner_id,
        job_id=job.id,
        job=job,
        trigger=MANUAL,
        created_at=now_ms(),
    )
    db.session.add(run)
    return SubmittedRun(run_id=run.id, job_id=job.id)


def _number(version_id: str) -> int:
    return int(
        db.session.scalar(select(WorkflowVersion.version).where(WorkflowVersion.id == version_id)) or 0
    )


def get_run(*, actor_id: str, run_id: str) -> RunView:
    """Return one of the caller's runs with its per-node trace in run order."""
    run = get_owned_or_404(WorkflowRun, run_id, actor_id=actor_id, error=WorkflowRunNotFound)
    rows = db.session.scalars(
        select(WorkflowNodeRun).where(WorkflowNodeRun.run_id == run.id).order_by(WorkflowNodeRun.seq)
    ).all()
    trace = [
        NodeTraceView(r.node_id, r.status, r.inputs, r.outputs, r.decision, r.duration_ms, r.error)
        for r in rows
    ]
    return _view(run, _number(run.version_id), trace)


def list_runs(*, actor_id: str, workflow_id: str, page: int, page_size: int) -> Page[RunView]:
    """Return a workflow's runs, newest first (without traces; version numbers in one query)."""
    get_owned_or_404(Workflow, workflow_id, actor_id=actor_id, error=WorkflowNotFound)
    stmt = (
        select(WorkflowRun)
        .where(WorkflowRun.workflow_id == workflow_id)
        .order_by(WorkflowRun.created_at.desc(), WorkflowRun.id)
    )
    result = paginate(stmt, page=page, page_size=page_size)
    version_ids = {run.version_id for run in result.items}
    numbers = (
        dict(
            db.session.execute(
                select(WorkflowVersion.id, WorkflowVersion.version).where(WorkflowVersion.id.in_(version_ids))
            ).all()
        )
        if version_ids
        else {}
    )
    return Page(
        items=[_view(run, numbers.get(run.version_id, 0)) for run in result.items], total=result.total
    )


@dataclass(frozen=True)
class NotificationView:
    """A message recorded by a notify action."""

    id: str
    workflow_id: str
    run_id: str
    node_id: str
    message: str
    created_at: int


def list_notifications(*, actor_id: str, page: int, page_size: int) -> Page[NotificationView]:
    """Return the caller's workflow notifications, newest first."""
    stmt = (
        select(WorkflowNotification)
        .where(WorkflowNotification.owner_id == actor_id)
        .order_by(WorkflowNotification.created_at.desc(), WorkflowNotification.id)
    )
    result = paginate(stmt, page=page, page_size=page_size)
    items = [
        NotificationView(n.id, n.workflow_id, n.run_id, n.node_id, n.message, n.created_at)
        for n in result.items
    ]
    return Page(items=items, total=result.total)


@jobs.job_kind(JOB_KIND)
def run_workflow(ctx: jobs.JobContext) -> None:
    """Run the workflow run of this job: evaluate the graph, perform its actions, store the trace."""
    run_id = db.session.scalar(select(WorkflowRun.id).where(WorkflowRun.job_id == ctx.job_id))
    if run_id is None:  # pragma: no cover - the run cascades with its job
        raise jobs.JobFailed("The run of this job no longer exists.", reason="run_missing")
    started = _start(run_id)
    plan = compile_or_raise(started.graph)
    result = engine.run_tick(
        plan, bars_source(started.started_at), symbol=started.symbol, fired=started.fired
    )
    ctx.progress(60)
    traces = {t.node_id: t for t in result.trace}
    for intent in result.actions:
        _perform(intent, traces[intent.node_id], started, run_id)
    failed = _finish(ctx, run_id, list(result.trace))
    if failed:
        raise jobs.JobFailed(f"{len(failed)} node(s) failed: {', '.join(failed[:10])}", reason=NODE_FAILED)


@dataclass(frozen=True)
class _Started:
    owner_id: str
    workflow_id: str
    symbol: str | None
    graph: dict[str, Any]
    fired: set[str] | None
    started_at: int


@transactional
def _start(run_id: str) -> _Started:
    run = db.session.get_one(WorkflowRun, run_id)
    workflow = db.session.get_one(Workflow, run.workflow_id)
    graph = db.session.get_one(WorkflowVersion, run.version_id).graph
    run.started_at = now_ms()
    return _Started(
        run.owner_id,
        run.workflow_id,
        workflow.symbol,
        graph,
        _fired(graph, run.trigger, run.scheduled_at),
        run.started_at,
    )


def _fired(graph: dict[str, Any], trigger: str, scheduled_at: int | None) -> set[str] | None:
    """Return the triggers a run fires: all for a manual run, the cron triggers due for a cron run."""
    if trigger != CRON or scheduled_at is None:
        return None
    return {
        node_id
        for node_id, expr, tz in cron_triggers(graph)
        if last_due(expr, tz, scheduled_at) == scheduled_at
    }


def bars_source(now: int) -> BarsSource:
    """Return a loader of the last ``lookback`` complete bars before ``now`` (market service)."""

    def load(symbol: str, interval: str, lookback: int) -> Bars:
        """Return the last ``lookback`` complete bars of ``symbol``/``interval``."""
        step = interval_ms(interval)
        bars = market_service.load_bars(
            symbol=symbol, interval=interval, start_ms=now - (lookback + 1) * step, end_ms=now
        )
        return bars.slice(max(0, len(bars) - lookback), len(bars))

    return load


def _perform(intent: engine.ActionIntent, trace: engine.NodeTrace, started: _Started, run_id: str) -> None:
    """Carry out one action; a rejected action marks its node failed (the others still run)."""
    try:
        if intent.action == "notify":
            _notify(started, run_id, intent)
            trace.outputs["notification"] = intent.message or f"Workflow reached {intent.node_id}"
        elif intent.bot_id:
            trace.outputs["order"] = _order(started.owner_id, run_id, intent.bot_id, intent)
        else:
            trace.outputs["order"] = None
            trace.outputs["note"] = "no bot_id on the action: intent recorded, no order placed"
    except AppError as exc:  # the action's own transaction rolled back
        trace.status, trace.error = "failed", f"{exc.code}: {exc.message}"


def _order(owner_id: str, run_id: str, bot_id: str, intent: engine.ActionIntent) -> dict[str, Any] | None:
    order = bots_service.place_paper_order(
        actor_id=owner_id,
        bot_id=bot_id,
        side=intent.action,
        idempotency_key=f"workflow:{run_id}:{intent.node_id}"[:255],
    )
    if order is None:
        return None  # the bot already held that position
    return {
        "id": order.id,
        "side": order.side,
        "symbol": order.symbol,
        "price": float(order.price),
        "quantity": float(order.quantity),
        "status": order.status,
    }


@transactional
def _notify(started: _Started, run_id: str, intent: engine.ActionIntent) -> None:
    exists = db.session.scalar(
        select(WorkflowNotification.id).where(
            WorkflowNotification.run_id == run_id, WorkflowNotification.node_id == intent.node_id
        )
    )
    if exists is not None:
        return
    message = intent.message or f"Workflow reached {intent.node_id}"
    db.session.add(
        WorkflowNotification(
            id=new_id(),
            owner_id=started.owner_id,
            workflow_id=started.workflow_id,
            run_id=run_id,
            node_id=intent.node_id,
            message=message,
            created_at=now_ms(),
        )
    )
    name = db.session.scalar(select(Workflow.name).where(Workflow.id == started.workflow_id))
    # Subscriber-only (topic ""): the notification centre turns it into a workflow.notify notification.
    events.emit(
        events.Event(
            "workflow.notify",
            "",
            started.owner_id,
            object_id=run_id,
            data={
                "workflowId": started.workflow_id,
                "workflowName": name,
                "runId": run_id,
                "nodeId": intent.node_id,
                "message": message,
            },
        )
    )


@transactional
def _finish(ctx: jobs.JobContext, run_id: str, trace: list[engine.NodeTrace]) -> list[str]:
    """Store the trace; complete the job unless nodes failed (returned, for the job to fail)."""
    db.session.execute(delete(WorkflowNodeRun).where(WorkflowNodeRun.run_id == run_id))  # a retried run
    for seq, t in enumerate(trace):
        db.session.add(
            WorkflowNodeRun(
                id=new_id(),
                run_id=run_id,
                seq=seq,
                node_id=t.node_id,
                status=t.status,
                inputs=t.inputs,
                outputs=t.outputs,
                decision=t.decision,
                duration_ms=t.duration_ms,
                error=t.error,
            )
        )
    db.session.get_one(WorkflowRun, run_id).finished_at = now_ms()
    failed = [t.node_id for t in trace if t.status == "failed"]
    if not failed:
        ctx.complete()
    return failed
