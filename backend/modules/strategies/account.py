"""What the strategies module does when an account is deleted (`account.deleted`, docs/developing.md)."""

from __future__ import annotations

from sqlalchemy import delete

from backend.core import events
from backend.extensions import db
from backend.modules.strategies.models import Strategy, StrategyVersion

ACCOUNT_DELETED = "account.deleted"


def on_account_deleted(event: events.Event) -> None:
    """Delete the user's strategies and their versions (others' backtests of them keep their results)."""
    if event.type != ACCOUNT_DELETED or not event.user_id:
        return
    user_id = event.user_id
    db.session.execute(delete(Strategy).where(Strategy.owner_id == user_id))
    db.session.execute(delete(StrategyVersion).where(StrategyVersion.created_by == user_id))


def subscribe() -> None:
    """Register `on_account_deleted` (create_app calls this for every module that has it)."""
    events.subscribe(on_account_deleted)
