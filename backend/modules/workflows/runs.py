"""Workflow runs: submit (manual), execute inside a job, perform actions, store the trace.

A run executes the version it was created with. Data nodes read complete bars up to the run's
start through the market service. Actions run in the order the graph ran them: ``buy``/``sell``/
``close`` with a ``bot_id`` place a paper order through the bots service with the idempotency
key ``workflow:<run>:<node>`` (a retried run never doubles an order); without a bot the intent
is only recorded; ``notify`` records one notification row per (run, node).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select

from backend.core import jobs
from backend.core.db import new_id, now_ms, transactional
from backend.core.errors import AppError
from backend.core.pagination import Page, paginate
from backend.domain import workflow as engine
from backend.domain.marketdata.intervals import interval_ms
from backend.domain.workflow.cron import last_due
from backend.extensions import db
from backend.modules.bots import service as bots_service
from backend.modules.market import service as market_service
from backend.modules.workflows.errors import WorkflowRunNotFound
from backend.modules.workflows.graphs import compile_or_raise, cron_triggers, owned_workflow
from backend.modules.workflows.models import (
    CRON, FAILED, MANUAL, QUEUED, RUNNING, SUCCEEDED, Workflow, WorkflowNodeRun, WorkflowNotification,
    WorkflowRun, WorkflowVersion,
)

logger = logging.getLogger(__name__)

TASK_NAME = "workflows.execute"
JOB_KIND = "workflows.run"
ORDER_ACTIONS = ("buy", "sell", "close")


@dataclass(frozen=True)
class RunView:
    """A run as the API shows it; ``trace`` is filled only for the detail view."""

    id: str
    workflow_id: str
    version_id: str
    version: int
    status: str
    trigger: str
    scheduled_at: int | None
    job_id: str | None
    error: str | None
    created_at: int
    started_at: int | None
    finished_at: int | None
    trace: list[dict[str, Any]] | None = None


def _view(run: WorkflowRun, trace: list[dict[str, Any]] | None = None) -> RunView:
    number = db.session.scalar(select(WorkflowVersion.version).where(WorkflowVersion.id == run.version_id))
    return RunView(run.id, run.workflow_id, run.version_id, int(number or 0), run.status, run.trigger,
                   run.scheduled_at, run.job_id, run.error, run.created_at, run.started_at, run.finished_at,
                   trace)


def new_run(row: Workflow, *, trigger: str, scheduled_at: int | None = None) -> WorkflowRun:
    """Add a queued run of the workflow's current version with its job (the caller commits)."""
    job = jobs.create_job(kind=JOB_KIND, owner_id=row.owner_id)
    db.session.flush()
    run = WorkflowRun(id=new_id(), workflow_id=row.id, version_id=row.current_version_id, owner_id=row.owner_id,
                      job_id=job.id, trigger=trigger, scheduled_at=scheduled_at, status=QUEUED, created_at=now_ms())
    db.session.add(run)
    return run


@transactional
def _create_manual(actor_id: str, workflow_id: str) -> tuple[str, str]:
    run = new_run(owned_workflow(actor_id, workflow_id), trigger=MANUAL)
    return run.id, run.job_id


@transactional
def discard_run(run_id: str) -> None:
    """Delete a run whose job could not be enqueued."""
    db.session.execute(delete(WorkflowRun).where(WorkflowRun.id == run_id))


def submit_run(*, actor_id: str, workflow_id: str) -> dict[str, str]:
    """Queue a manual run of the workflow's current version; return ``{run_id, job_id}``."""
    run_id, job_id = _create_manual(actor_id, workflow_id)
    jobs.dispatch(TASK_NAME, job_id=job_id, discard=lambda: discard_run(run_id))
    return {"run_id": run_id, "job_id": job_id}


def _owned_run(actor_id: str, run_id: str) -> WorkflowRun:
    run = db.session.get(WorkflowRun, run_id)
    if run is None or run.owner_id != actor_id:
        raise WorkflowRunNotFound()
    return run


def get_run(*, actor_id: str, run_id: str) -> RunView:
    """Return one of the caller's runs with its per-node trace in run order."""
    run = _owned_run(actor_id, run_id)
    rows = db.session.scalars(select(WorkflowNodeRun).where(WorkflowNodeRun.run_id == run.id)
                              .order_by(WorkflowNodeRun.seq)).all()
    trace = [{"nodeId": r.node_id, "status": r.status, "inputs": r.inputs, "outputs": r.outputs,
              "decision": r.decision, "durationMs": r.duration_ms, "error": r.error} for r in rows]
    return _view(run, trace)


def list_runs(*, actor_id: str, workflow_id: str, page: int, page_size: int) -> Page[RunView]:
    """Return a workflow's runs, newest first (without traces)."""
    owned_workflow(actor_id, workflow_id)
    stmt = (select(WorkflowRun).where(WorkflowRun.workflow_id == workflow_id)
            .order_by(WorkflowRun.created_at.desc(), WorkflowRun.id))
    result = paginate(stmt, page=page, page_size=page_size)
    return Page(items=[_view(r) for r in result.items], total=result.total)


def list_notifications(*, actor_id: str, page: int, page_size: int) -> Page[WorkflowNotification]:
    """Return the caller's workflow notifications, newest first."""
    stmt = (select(WorkflowNotification).where(WorkflowNotification.owner_id == actor_id)
            .order_by(WorkflowNotification.created_at.desc(), WorkflowNotification.id))
    return paginate(stmt, page=page, page_size=page_size)


def execute_run(*, job_id: str) -> str | None:
    """Run the workflow run of ``job_id`` inside its job (the Celery task calls this)."""
    run_id = db.session.scalar(select(WorkflowRun.id).where(WorkflowRun.job_id == job_id))
    if run_id is None:
        logger.warning("no workflow run for job %s", job_id)
        return None
    return jobs.run_job(job_id, lambda ctx: _work(ctx, run_id))


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
    run = db.session.get(WorkflowRun, run_id)
    workflow = db.session.get(Workflow, run.workflow_id)
    graph = db.session.get(WorkflowVersion, run.version_id).graph
    run.status, run.started_at, run.error = RUNNING, now_ms(), None
    return _Started(run.owner_id, run.workflow_id, workflow.symbol, graph,
                    _fired(graph, run.trigger, run.scheduled_at), run.started_at)


def _fired(graph: dict[str, Any], trigger: str, scheduled_at: int | None) -> set[str] | None:
    """Return the triggers a run fires: all for a manual run, the cron triggers due for a cron run."""
    if trigger != CRON or scheduled_at is None:
        return None
    return {node_id for node_id, expr, tz in cron_triggers(graph) if last_due(expr, tz, scheduled_at) == scheduled_at}


def bars_source(now: int):
    """Return a loader of the last ``lookback`` complete bars before ``now`` (market service)."""
    def load(symbol: str, interval: str, lookback: int):
        """Return the last ``lookback`` complete bars of ``symbol``/``interval``."""
        step = interval_ms(interval)
        bars = market_service.load_bars(symbol=symbol, interval=interval,
                                        start_ms=now - (lookback + 1) * step, end_ms=now)
        return bars.slice(max(0, len(bars) - lookback), len(bars))

    return load


def _work(ctx: jobs.JobContext, run_id: str) -> None:
    started = _start(run_id)
    plan = compile_or_raise(started.graph)
    result = engine.run_tick(plan, bars_source(started.started_at), symbol=started.symbol, fired=started.fired)
    ctx.progress(60)
    traces = {t.node_id: t for t in result.trace}
    for intent in result.actions:
        _perform(intent, traces[intent.node_id], started, run_id)
    _finish(run_id, list(result.trace))


def _perform(intent: engine.ActionIntent, trace: engine.NodeTrace, started: _Started, run_id: str) -> None:
    """Carry out one action; a rejected action marks its node failed (the others still run)."""
    try:
        if intent.action == "notify":
            _notify(started, run_id, intent)
            trace.outputs["notification"] = intent.message or f"Workflow reached {intent.node_id}"
        elif intent.bot_id:
            trace.outputs["order"] = _order(started.owner_id, run_id, intent)
        else:
            trace.outputs["order"] = None
            trace.outputs["note"] = "no bot_id on the action: intent recorded, no order placed"
    except AppError as exc:
        db.session.rollback()
        trace.status, trace.error = "failed", f"{exc.code}: {exc.message}"


def _order(owner_id: str, run_id: str, intent: engine.ActionIntent) -> dict[str, Any] | None:
    order = bots_service.place_paper_order(actor_id=owner_id, bot_id=intent.bot_id, side=intent.action,
                                           idempotency_key=f"workflow:{run_id}:{intent.node_id}"[:255])
    if order is None:
        return None  # the bot already held that position
    return {"id": order.id, "side": order.side, "symbol": order.symbol, "price": float(order.price),
            "quantity": float(order.quantity), "status": order.status}


@transactional
def _notify(started: _Started, run_id: str, intent: engine.ActionIntent) -> None:
    exists = db.session.scalar(select(WorkflowNotification.id).where(
        WorkflowNotification.run_id == run_id, WorkflowNotification.node_id == intent.node_id))
    if exists is None:
        db.session.add(WorkflowNotification(
            id=new_id(), owner_id=started.owner_id, workflow_id=started.workflow_id, run_id=run_id,
            node_id=intent.node_id, message=intent.message or f"Workflow reached {intent.node_id}",
            created_at=now_ms()))


@transactional
def _finish(run_id: str, trace: list[engine.NodeTrace]) -> None:
    db.session.execute(delete(WorkflowNodeRun).where(WorkflowNodeRun.run_id == run_id))  # a retried run
    for seq, t in enumerate(trace):
        db.session.add(WorkflowNodeRun(id=new_id(), run_id=run_id, seq=seq, node_id=t.node_id, status=t.status,
                                       inputs=t.inputs, outputs=t.outputs, decision=t.decision,
                                       duration_ms=t.duration_ms, error=t.error))
    run = db.session.get(WorkflowRun, run_id)
    failed = [t.node_id for t in trace if t.status == "failed"]
    run.status = FAILED if failed else SUCCEEDED
    run.error = f"{len(failed)} node(s) failed: {', '.join(failed[:10])}" if failed else None
    run.finished_at = now_ms()


@transactional
def mark_run_failed(job_id: str, reason: str, message: str) -> None:
    """Record a failed job on its run (run_job and the reaper call this)."""
    run = db.session.scalars(select(WorkflowRun).where(WorkflowRun.job_id == job_id)).first()
    if run is not None and run.status != SUCCEEDED:
        run.status, run.error, run.finished_at = FAILED, f"{reason}: {message}", now_ms()


jobs.register_job_kind(JOB_KIND, task_name=TASK_NAME, on_failed=mark_run_failed)
