"""Account deletion: the user's notifications and mutes go, and others' about their likes and follows.

Subscribed to ``account.deleted`` (``subscribe``, called by ``create_app`` for every module with an
``account.py``); runs in the deletion's transaction. A reply notification stays with its
recipient, as the reply itself stays (its author shown as the deleted user), with the title it
was sent with.
"""

from __future__ import annotations

from sqlalchemy import delete, or_

from backend.core import events
from backend.extensions import db
from backend.modules.notifications.models import Notification, NotificationMute


def on_account_deleted(event: events.Event) -> None:
    """Delete the user's notifications and mutes, and the like/follow/copy notifications they caused."""
    if event.type != "account.deleted" or not event.user_id:
        return
    user_id = event.user_id
    db.session.execute(delete(Notification).where(Notification.user_id == user_id))
    db.session.execute(delete(NotificationMute).where(NotificationMute.user_id == user_id))
    db.session.execute(
        delete(Notification).where(
            or_(
                Notification.dedupe_key == f"forum.follow:{user_id}",
                Notification.type.in_(("forum.like", "marketplace.copy", "marketplace.follow"))
                & Notification.dedupe_key.endswith(f":{user_id}"),
            )
        )
    )


def subscribe() -> None:
    """Register ``on_account_deleted`` with the event bus (idempotent)."""
    events.subscribe(on_account_deleted)
