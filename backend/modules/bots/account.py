"""What the bots module does when an account is deleted (`account.deleted`, docs/developing.md)."""

from __future__ import annotations

from sqlalchemy import delete

from backend.core import changes, events
from backend.extensions import db
from backend.modules.bots.models import BotInstance, Order

ACCOUNT_DELETED = "account.deleted"


def on_account_deleted(event: events.Event) -> None:
    """Delete the user's bots (their orders and equity cascade)."""
    if event.type != ACCOUNT_DELETED or not event.user_id:
        return
    user_id = event.user_id
    db.session.execute(delete(Order).where(Order.owner_id == user_id))
    db.session.execute(
        delete(BotInstance).where(BotInstance.owner_id == user_id),
        execution_options={changes.OWNER_OPTION: user_id},
    )


def subscribe() -> None:
    """Register `on_account_deleted` (create_app calls this for every module that has it)."""
    events.subscribe(on_account_deleted)
