"""What the forum does when an account is deleted (`account.deleted`, docs/developing.md).

Posts and comments stay: their author row is now a tombstone named "deleted user". Everything
else the user did is deleted, and the counters it fed go down in the same transaction: likes
(posts' like counts), tips given (posts' tip totals), favorites and follows both ways.
"""

from __future__ import annotations

from sqlalchemy import delete

from backend.core import events
from backend.extensions import db
from backend.modules.forum.models import Favorite, Follow, Like, Post, Tip
from backend.modules.forum.service import bump_post

ACCOUNT_DELETED = "account.deleted"


def on_account_deleted(event: events.Event) -> None:
    """Delete the user's likes, tips given, favorites and follows; keep posts and comments."""
    if event.type != ACCOUNT_DELETED or not event.user_id:
        return
    user_id = event.user_id
    for (post_id,) in db.session.execute(delete(Like).where(Like.user_id == user_id).returning(Like.post_id)):
        bump_post(post_id, likes_count=Post.likes_count - 1)
    tips = db.session.execute(delete(Tip).where(Tip.tipper_id == user_id).returning(Tip.post_id, Tip.amount))
    for post_id, amount in tips:
        bump_post(post_id, tips_total=Post.tips_total - amount)
    db.session.execute(delete(Favorite).where(Favorite.user_id == user_id))
    db.session.execute(
        delete(Follow).where((Follow.follower_id == user_id) | (Follow.followee_id == user_id))
    )


def subscribe() -> None:
    """Register `on_account_deleted` (create_app calls this for every module that has it)."""
    events.subscribe(on_account_deleted)
