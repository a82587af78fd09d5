"""Forum posts and comments: CRUD, hot list, verified attachments.

Likes, favorites, tips and follows live in `social.py`; moderation (hide/restore, for the admin
console) is at the end of this file. Counters on posts are only changed by
atomic increments in the transaction that inserts/deletes the counted row (see models.py).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from flask import current_app
from sqlalchemy import exists, select, update

from backend.core import events
from backend.core.db import looks_like_id, now_ms, transactional
from backend.core.errors import AppError
from backend.core.pagination import Page, paginate
from backend.extensions import db
from backend.modules.backtests import service as backtests_service
from backend.modules.forum import ranking
from backend.modules.forum.errors import AttachmentUnavailable, CommentNotFound, NotAuthor, PostNotFound
from backend.modules.forum.models import Comment, Favorite, Like, Post
from backend.modules.forum.read_models import (
    CommentView,
    PostView,
    authors_by_id,
    comment_views,
    post_view,
    post_views,
)
from backend.modules.strategies import service as strategies_service

logger = logging.getLogger(__name__)

A = TypeVar("A", Post, Comment)


def get_post_row(post_id: str, *, lock: bool = False) -> Post:
    """Return the post row (anyone may read it) or raise PostNotFound; ``lock`` takes a row lock."""
    return _get_or_404(Post, post_id, error=PostNotFound, lock=lock)


def _get_or_404(model: type[A], object_id: str, *, error: type[AppError], lock: bool = False) -> A:
    row = (
        db.session.get(model, object_id, with_for_update=lock, populate_existing=lock)
        if looks_like_id(object_id)
        else None
    )
    if row is None or row.hidden_at is not None:  # hidden by a moderator: absent for everyone
        raise error()
    return row


def _authored(model: type[A], object_id: str, *, actor_id: str, error: type[AppError]) -> A:
    """Return a post or comment locked for a change by its author.

    Posts and comments are public, so someone else's is 403 NotAuthor (not the owner-only 404
    of ``core.db.get_owned_or_404``); an unknown id is ``error``, a 404.
    """
    row = _get_or_404(model, object_id, error=error, lock=True)
    if row.author_id != actor_id:
        raise NotAuthor()
    return row


def bump_post(post_id: str, **values: Any) -> None:
    """Apply atomic counter changes to a post (``likes_count=Post.likes_count + 1``).

    ``updated_at`` is pinned because it means "edited by the author", not "liked".
    """
    db.session.execute(
        update(Post)
        .where(Post.id == post_id)
        .values(updated_at=Post.updated_at, **values)
        .execution_options(synchronize_session=False)
    )


def list_hot(*, limit: int, now: int | None = None) -> list[PostView]:
    """Return the hottest posts (see ranking.py), for anyone."""
    size = int(current_app.config["FORUM_HOT_CANDIDATES"])
    rows = db.session.execute(
        select(Post.id, Post.likes_count, Post.comments_count, Post.tips_total, Post.created_at)
        .where(Post.hidden_at.is_(None))
        .order_by(Post.created_at.desc(), Post.id)
        .limit(size)
    ).all()
    candidates = [ranking.HotCandidate(*row) for row in rows]
    ids = ranking.rank_hot(candidates, now=now if now is not None else now_ms(), limit=limit)
    by_id = {p.id: p for p in db.session.scalars(select(Post).where(Post.id.in_(ids)))}
    return post_views(by_id[i] for i in ids if i in by_id)


def list_posts(
    *, page: int, page_size: int, tag: str | None = None, author_id: str | None = None
) -> Page[PostView]:
    """Return one page of posts, newest first, optionally by tag and/or author."""
    stmt = select(Post).where(Post.hidden_at.is_(None)).order_by(Post.created_at.desc(), Post.id)
    if tag and tag.strip():
        stmt = stmt.where(Post.tags.contains([tag.strip().lower()]))  # tags are stored lower-case
    if author_id:
        stmt = stmt.where(Post.author_id == author_id)
    result = paginate(stmt, page=page, page_size=page_size)
    return Page(items=post_views(result.items), total=result.total)


def get_post(*, actor_id: str | None, post_id: str) -> PostView:
    """Return a post's detail with the caller's like/favorite flags."""
    post = get_post_row(post_id)
    return _detail(post, actor_id)


def _detail(post: Post, actor_id: str | None) -> PostView:
    liked = favorited = False
    if actor_id:
        liked = bool(
            db.session.scalar(select(exists().where(Like.post_id == post.id, Like.user_id == actor_id)))
        )
        favorited = bool(
            db.session.scalar(
                select(exists().where(Favorite.post_id == post.id, Favorite.user_id == actor_id))
            )
        )
    return post_view(post, authors_by_id([post.author_id]), liked=liked, favorited=favorited)


@transactional
def create_post(
    *, actor_id: str, title: str, content: str, tags: list[str], attachment: dict[str, str] | None = None
) -> PostView:
    """Publish a post by the caller, attaching a verified backtest/strategy if given."""
    post = Post(author_id=actor_id, title=title.strip(), content=content, tags=_clean_tags(tags))
    _set_attachment(post, actor_id, attachment)
    db.session.add(post)
    db.session.flush()
    return _detail(post, actor_id)


@transactional
def update_post(*, actor_id: str, post_id: str, changes: dict[str, Any]) -> PostView:
    """Change the caller's own post (title, content, tags, attachment)."""
    post = _authored(Post, post_id, actor_id=actor_id, error=PostNotFound)
    if "title" in changes:
        post.title = changes["title"].strip()
    if "content" in changes:
        post.content = changes["content"]
    if "tags" in changes:
        post.tags = _clean_tags(changes["tags"])
    if "attachment" in changes:
        _set_attachment(post, actor_id, changes["attachment"])
    post.updated_at = now_ms()
    db.session.flush()
    return _detail(post, actor_id)


@transactional
def delete_post(*, actor_id: str, post_id: str) -> None:
    """Delete the caller's own post with its comments, likes, favorites and tips."""
    db.session.delete(_authored(Post, post_id, actor_id=actor_id, error=PostNotFound))


def _clean_tags(tags: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for tag in tags:
        seen.setdefault(tag.strip().lower(), None)
    return [t for t in seen if t]


def _set_attachment(post: Post, actor_id: str, attachment: dict[str, str] | None) -> None:
    if attachment is None:
        post.attachment_kind = post.attachment_id = post.attachment_kpis = None
        return
    kind, object_id = attachment["kind"], attachment["id"]
    post.attachment_kpis = verified_kpis(actor_id=actor_id, kind=kind, object_id=object_id)
    post.attachment_kind, post.attachment_id = kind, object_id


def verified_kpis(*, actor_id: str, kind: str, object_id: str) -> dict[str, Any]:
    """Return the server-computed KPIs of the caller's own backtest or strategy (JSON-ready).

    A strategy's KPIs are those of its author's latest completed backtest of it.
    """
    fields = {"attachment": [f"This {kind} cannot be attached."]}
    try:
        kpis = (
            backtests_service.verified_kpis(actor_id=actor_id, backtest_id=object_id)
            if kind == "backtest"
            else _strategy_kpis(actor_id, object_id)
        )
    except AppError as exc:
        raise AttachmentUnavailable(
            f"The {kind} is not yours or has no verified result.", fields=fields, details={"cause": exc.code}
        ) from exc
    if kpis is None:
        raise AttachmentUnavailable(f"The {kind} is not yours or has no verified result yet.", fields=fields)
    return _jsonable(kpis)


def _strategy_kpis(actor_id: str, strategy_id: str) -> dict[str, Any] | None:
    """Return the KPIs of the caller's own strategy (None for a published strategy of someone else)."""
    strategy = strategies_service.get_strategy(actor_id=actor_id, strategy_id=strategy_id)
    if strategy.owner_id != actor_id:
        return None
    return backtests_service.strategy_kpis(strategy_id=strategy.id, owner_id=actor_id)


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        value = int(value) if value.is_finite() and value == value.to_integral_value() else float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON (and JSONB) has no NaN/Infinity: an undefined KPI is null
    return value


def list_comments(*, post_id: str, page: int, page_size: int) -> Page[CommentView]:
    """Return one page of a post's comments, oldest first."""
    get_post_row(post_id)
    stmt = (
        select(Comment)
        .where(Comment.post_id == post_id, Comment.hidden_at.is_(None))
        .order_by(Comment.created_at, Comment.id)
    )
    result = paginate(stmt, page=page, page_size=page_size)
    return Page(items=comment_views(result.items), total=result.total)


@transactional
def add_comment(*, actor_id: str, post_id: str, content: str) -> CommentView:
    """Comment on a post as the caller (its author hears of it: ``forum.reply``)."""
    post = get_post_row(post_id)
    comment = Comment(post_id=post_id, author_id=actor_id, content=content)
    db.session.add(comment)
    bump_post(post_id, comments_count=Post.comments_count + 1)
    db.session.flush()
    view = comment_views([comment])[0]
    if post.author_id != actor_id:  # never about one's own action
        data = {"commentId": view.id, "excerpt": content[:280]}
        tell(post.author_id, "forum.reply", post, actor_id=actor_id, actor_name=view.author, **data)
    return view


def tell(user_id: str, type_: str, post: Post | None, *, actor_id: str, actor_name: str, **data: Any) -> None:
    """Emit a subscriber-only forum event (topic ""): the notification centre tells ``user_id``."""
    if post is not None:
        data.update(postId=post.id, postTitle=post.title)
    data.update(actorId=actor_id, actorName=actor_name)
    events.emit(events.Event(type_, "", user_id, object_id=post.id if post else actor_id, data=data))


@transactional
def delete_comment(*, actor_id: str, comment_id: str) -> None:
    """Delete the caller's own comment."""
    comment = _authored(Comment, comment_id, actor_id=actor_id, error=CommentNotFound)
    db.session.delete(comment)
    bump_post(comment.post_id, comments_count=Post.comments_count - 1)


# --- Moderation (called by the admin console) ---------------------------------------------------
# A hidden post or comment is absent for everyone, its author included: lists, the hot list, the
# detail, comments, likes, favorites, tips and profile counts treat it as deleted (404 by id). Only
# the admin console's views below show it. Hiding keeps the row, so restoring brings back exactly
# what was there (likes, tips, comments). A hidden comment is not counted in its post's
# `comments_count` (decremented on hide, incremented on restore, atomically, in the same transaction).
#
# The writes are not ``@transactional``: the admin console writes its audit row in the same
# transaction and commits both.


@dataclass(frozen=True)
class ModerationItem:
    """A post or comment as the admin console shows it, hidden or not."""

    id: str
    kind: str  # post | comment
    post_id: str
    author_id: str
    author: str
    title: str | None  # posts only
    content: str
    created_at: int
    hidden_at: int | None


def _get_for_moderation(model: type[A], object_id: str, error: type[AppError]) -> A:
    row = (
        db.session.get(model, object_id, with_for_update=True, populate_existing=True)
        if looks_like_id(object_id)
        else None
    )
    if row is None:
        raise error()
    return row


def set_post_hidden(*, post_id: str, hidden: bool) -> ModerationItem:
    """Hide or restore a post (idempotent: hiding a hidden post keeps its first hiding time)."""
    post = _get_for_moderation(Post, post_id, PostNotFound)
    post.hidden_at = (post.hidden_at or now_ms()) if hidden else None
    db.session.flush()
    return _moderation_items([post])[0]


def set_comment_hidden(*, comment_id: str, hidden: bool) -> ModerationItem:
    """Hide or restore a comment, keeping its post's `comments_count` equal to the visible comments."""
    comment = _get_for_moderation(Comment, comment_id, CommentNotFound)
    was_hidden = comment.hidden_at is not None
    if hidden and not was_hidden:
        comment.hidden_at = now_ms()
        bump_post(comment.post_id, comments_count=Post.comments_count - 1)
    elif not hidden and was_hidden:
        comment.hidden_at = None
        bump_post(comment.post_id, comments_count=Post.comments_count + 1)
    db.session.flush()
    return _moderation_items([comment])[0]


def list_posts_for_moderation(*, hidden: bool | None, page: int, page_size: int) -> Page[ModerationItem]:
    """Return one page of posts for moderators (hidden ones included), newest first."""
    stmt = select(Post).order_by(Post.created_at.desc(), Post.id)
    if hidden is not None:
        stmt = stmt.where(Post.hidden_at.is_not(None) if hidden else Post.hidden_at.is_(None))
    result = paginate(stmt, page=page, page_size=page_size)
    return Page(items=_moderation_items(list(result.items)), total=result.total)


def list_comments_for_moderation(
    *, hidden: bool | None, post_id: str | None, page: int, page_size: int
) -> Page[ModerationItem]:
    """Return one page of comments for moderators (hidden ones included), newest first."""
    stmt = select(Comment).order_by(Comment.created_at.desc(), Comment.id)
    if hidden is not None:
        stmt = stmt.where(Comment.hidden_at.is_not(None) if hidden else Comment.hidden_at.is_(None))
    if post_id is not None:
        stmt = stmt.where(Comment.post_id == post_id)
    result = paginate(stmt, page=page, page_size=page_size)
    return Page(items=_moderation_items(list(result.items)), total=result.total)


def _moderation_items(rows: Sequence[Post | Comment]) -> list[ModerationItem]:
    authors = authors_by_id({r.author_id for r in rows})
    out = []
    for row in rows:
        is_post = isinstance(row, Post)
        author = authors.get(row.author_id)
        out.append(
            ModerationItem(
                id=row.id,
                kind="post" if is_post else "comment",
                post_id=row.id if isinstance(row, Post) else row.post_id,
                author_id=row.author_id,
                author=author.name if author else "",
                title=row.title if isinstance(row, Post) else None,
                content=row.content,
                created_at=row.created_at,
                hidden_at=row.hidden_at,
            )
        )
    return out
