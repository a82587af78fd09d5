"""What the workflows module does when an account is deleted (`account.deleted`, docs/developing.md)."""

from __future__ import annotations

from sqlalchemy import delete

from backend.core import events
from backend.extensions import db
from backend.modules.workflows.models import Workflow, WorkflowNotification, WorkflowRun

ACCOUNT_DELETED = "account.deleted"


def on_account_deleted(event: events.Event) -> None:
    """Delete the user's workflows, their runs and notifications."""
    if event.type != ACCOUNT_DELETED or not event.user_id:
        return
    user_id = event.user_id
    db.session.execute(delete(WorkflowNotification).where(WorkflowNotification.owner_id == user_id))
    db.session.execute(delete(WorkflowRun).where(WorkflowRun.owner_id == user_id))
    db.session.execute(delete(Workflow).where(Workflow.owner_id == user_id))


def subscribe() -> None:
    """Register `on_account_deleted` (create_app calls this for every module that has it)."""
    events.subscribe(on_account_deleted)
