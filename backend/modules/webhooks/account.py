"""Account deletion: a deleted user's webhook endpoints go, with their delivery logs (cascade).

Subscribed to ``account.deleted`` (``subscribe``, called by ``create_app`` for every module with an
``account.py``); runs in the deletion's transaction. A queued attempt then finds no row and sends
nothing.
"""

from __future__ import annotations

from sqlalchemy import delete

from backend.core import events
from backend.extensions import db
from backend.modules.webhooks.models import Webhook


def on_account_deleted(event: events.Event) -> None:
    """Delete the user's endpoints (their deliveries cascade)."""
    if event.type == "account.deleted" and event.user_id:
        db.session.execute(delete(Webhook).where(Webhook.owner_id == event.user_id))  # drops the memo


def subscribe() -> None:
    """Register ``on_account_deleted`` with the event bus (idempotent)."""
    events.subscribe(on_account_deleted)
