"""What the marketplace does when an account is deleted (`account.deleted`, docs/developing.md).

The user's own listings go with their strategies (the strategies module deletes those rows and
the listing, its follows, copies and reports cascade). Here: the user's follows of other
listings and their copy records leave, and the counters they fed go down in the same
transaction, so a listing's `followers` and `copies` keep equalling its rows; the user's abuse
reports are deleted (the report queue shows no one who no longer exists). Copies made from
the user's strategies keep their `forkedFrom`, whose author now reads "deleted user".
"""

from __future__ import annotations

from sqlalchemy import delete, update

from backend.core import events
from backend.extensions import db
from backend.modules.marketplace.models import Copy, Follow, Listing, Report

ACCOUNT_DELETED = "account.deleted"


def on_account_deleted(event: events.Event) -> None:
    """Delete the user's follows, copy records and reports; lower the listings' counters."""
    if event.type != ACCOUNT_DELETED or not event.user_id:
        return
    user_id = event.user_id
    for (strategy_id,) in db.session.execute(
        delete(Follow).where(Follow.user_id == user_id).returning(Follow.strategy_id)
    ):
        db.session.execute(
            update(Listing)
            .where(Listing.strategy_id == strategy_id)
            .values(followers_count=Listing.followers_count - 1)
        )
    for (strategy_id,) in db.session.execute(
        delete(Copy).where(Copy.user_id == user_id).returning(Copy.strategy_id)
    ):
        db.session.execute(
            update(Listing)
            .where(Listing.strategy_id == strategy_id)
            .values(copies_count=Listing.copies_count - 1)
        )
    db.session.execute(delete(Report).where(Report.reporter_id == user_id))


def subscribe() -> None:
    """Register `on_account_deleted` (create_app calls this for every module that has it)."""
    events.subscribe(on_account_deleted)
