"""Cron scheduling: one beat entry enqueues each due scheduled run exactly once.

For every enabled workflow the latest due time of its cron triggers (at or before now, after
it was enabled and after the last scheduled run) becomes a run. The run row is inserted with
``INSERT ... ON CONFLICT (workflow_id, scheduled_at) DO NOTHING``: if beat fires twice, or two
beats overlap, the second insert finds the row and enqueues nothing. Missed times are not
replayed one by one: after downtime only the latest due time runs.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from backend.core import jobs
from backend.core.db import new_id, now_ms, transactional
from backend.core.errors import Unavailable
from backend.domain.workflow.cron import last_due
from backend.extensions import db
from backend.modules.workflows.graphs import cron_triggers
from backend.modules.workflows.models import CRON, Workflow, WorkflowRun, WorkflowVersion
from backend.modules.workflows.runs import JOB_KIND

logger = logging.getLogger(__name__)


def due_time(workflow: Workflow, graph: dict[str, Any], now: int) -> int | None:
    """Return the latest due time at or before ``now`` if it is not before the enabling, else None.

    Whether it already ran is decided by the unique (workflow, scheduled time) insert, not here,
    so a run discarded because the broker was down is simply scheduled again by the next beat.
    """
    times = [last_due(expr, tz, now) for _node_id, expr, tz in cron_triggers(graph)]
    if not times:
        return None
    due = max(times)
    return due if due >= (workflow.enabled_at or 0) else None


@transactional
def schedule_due_run(*, workflow_id: str, now: int) -> bool:
    """Insert an enabled workflow's due cron run (exactly once) with its job; return whether one was.

    The job is enqueued after the commit; ``enqueue_due_runs`` calls this once per enabled workflow.
    """
    row = db.session.scalars(
        select(Workflow).where(Workflow.id == workflow_id, Workflow.enabled.is_(True))
    ).first()
    version = (
        db.session.get(WorkflowVersion, row.current_version_id) if row and row.current_version_id else None
    )
    due = due_time(row, version.graph, now) if row and version else None
    if row is None or version is None or due is None:
        return False
    run_id = db.session.scalar(
        insert(WorkflowRun)
        .values(
            id=new_id(),
            workflow_id=row.id,
            version_id=version.id,
            owner_id=row.owner_id,
            trigger=CRON,
            scheduled_at=due,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["workflow_id", "scheduled_at"])
        .returning(WorkflowRun.id)
    )
    if run_id is None:
        return False  # another beat already scheduled this time
    job = jobs.submit(JOB_KIND, owner_id=row.owner_id, subject_id=row.id)
    db.session.get_one(WorkflowRun, run_id).job_id = job.id
    row.last_scheduled_at = due
    return True


def enqueue_due_runs(*, now: int | None = None) -> int:
    """Enqueue every due cron run (the beat task calls this); return how many were enqueued.

    If the broker refuses a run's job, the job and the run are deleted (the run cascades), so the
    next beat schedules that time again.
    """
    now = now_ms() if now is None else now
    ids = db.session.scalars(
        select(Workflow.id).where(Workflow.enabled.is_(True)).order_by(Workflow.id)
    ).all()
    count = 0
    for workflow_id in ids:
        try:
            count += schedule_due_run(workflow_id=workflow_id, now=now)
        except Unavailable:
            logger.warning("broker down: scheduled run of %s discarded, retried next beat", workflow_id)
        except Exception:  # noqa: BLE001 - one broken workflow must not stop the others' schedules
            logger.exception("could not schedule workflow %s", workflow_id)
    return count
