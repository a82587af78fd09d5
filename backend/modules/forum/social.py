"""Likes, favorites, tips, follows and public profiles.

Idempotent writes use ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` / ``DELETE ... RETURNING``
and touch a post's counter only when a row really changed, in the same transaction, with an
atomic ``SET n = n + 1``: concurrent likes can neither be lost nor double-counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from flask import current_app
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert

from backend.core.db import transactional
from backend.core.pagination import Page, paginate
from backend.extensions import db
from backend.modules.forum.errors import CannotFollowSelf, InvalidTip
from backend.modules.forum.models import Favorite, Follow, Like, Post, Tip
from backend.modules.forum.read_models import (
    Author,
    PostView,
    ProfileView,
    author_of,
    authors_by_id,
    post_views,
)
from backend.modules.forum.service import bump_post, get_post_row, tell
from backend.modules.strategies import service as strategies_service
from backend.modules.users import service as users_service


@dataclass(frozen=True)
class LikeState:
    """The caller's like state and the post's like count."""

    likes: int
    liked: bool


@dataclass(frozen=True)
class FollowState:
    """Whether the caller follows the user, and that user's follower count."""

    following: bool
    followers: int


def _bump_likes(post_id: str, delta: int) -> None:
    bump_post(post_id, likes_count=Post.likes_count + delta)


def _likes_of(post_id: str) -> int:
    return int(db.session.scalar(select(Post.likes_count).where(Post.id == post_id)) or 0)


@transactional
def like_post(*, actor_id: str, post_id: str) -> LikeState:
    """Like a post (liking twice is a no-op; the author hears of a new like: ``forum.like``)."""
    post = get_post_row(post_id)
    added = db.session.execute(
        insert(Like)
        .values(post_id=post_id, user_id=actor_id)
        .on_conflict_do_nothing()
        .returning(Like.post_id)
    ).first()
    if added:
        _bump_likes(post_id, +1)
        if post.author_id != actor_id:
            tell(post.author_id, "forum.like", post, actor_id=actor_id, actor_name=_user(actor_id).name)
    return LikeState(likes=_likes_of(post_id), liked=True)


@transactional
def unlike_post(*, actor_id: str, post_id: str) -> LikeState:
    """Remove the caller's like (no-op if there is none)."""
    get_post_row(post_id)
    removed = db.session.execute(
        delete(Like).where(Like.post_id == post_id, Like.user_id == actor_id).returning(Like.post_id)
    ).first()
    if removed:
        _bump_likes(post_id, -1)
    return LikeState(likes=_likes_of(post_id), liked=False)


@transactional
def favorite_post(*, actor_id: str, post_id: str) -> dict[str, bool]:
    """Favorite a post (twice is a no-op)."""
    get_post_row(post_id)
    db.session.execute(insert(Favorite).values(post_id=post_id, user_id=actor_id).on_conflict_do_nothing())
    return {"favorited": True}


@transactional
def unfavorite_post(*, actor_id: str, post_id: str) -> dict[str, bool]:
    """Remove a post from the caller's favorites (no-op if absent)."""
    get_post_row(post_id)
    db.session.execute(delete(Favorite).where(Favorite.post_id == post_id, Favorite.user_id == actor_id))
    return {"favorited": False}


def list_favorites(*, actor_id: str, page: int, page_size: int) -> Page[PostView]:
    """Return one page of the caller's favorite posts, most recently favorited first."""
    stmt = (
        select(Post)
        .join(Favorite, Favorite.post_id == Post.id)
        .where(Favorite.user_id == actor_id, Post.hidden_at.is_(None))
        .order_by(Favorite.created_at.desc(), Post.id)
    )
    result = paginate(stmt, page=page, page_size=page_size)
    return Page(items=post_views(result.items), total=result.total)


def tip_maximum() -> Decimal:
    """Return the configured largest single tip."""
    return Decimal(str(current_app.config["FORUM_TIP_MAX"]))


@transactional
def tip_post(*, actor_id: str, post_id: str, amount: Decimal, currency: str) -> Tip:
    """Record a tip from the caller to the post's author (no payment is made)."""
    post = get_post_row(post_id)
    maximum = tip_maximum()
    if not amount.is_finite() or amount <= 0 or amount > maximum:
        raise InvalidTip(
            f"The amount must be greater than 0 and at most {maximum}.",
            fields={"amount": [f"Must be greater than 0 and at most {maximum}."]},
        )
    if post.author_id == actor_id:
        raise InvalidTip("You cannot tip your own post.", fields={"amount": ["Own post."]})
    tip = Tip(
        post_id=post_id, tipper_id=actor_id, recipient_id=post.author_id, amount=amount, currency=currency
    )
    db.session.add(tip)
    bump_post(post_id, tips_total=Post.tips_total + amount)
    db.session.flush()
    return tip


def _user(user_id: str) -> Author:
    return author_of(users_service.get_user(user_id=user_id))  # raises users' 404


def _count(stmt) -> int:
    return int(db.session.scalar(stmt) or 0)


def _followers_of(user_id: str) -> int:
    return _count(select(func.count()).select_from(Follow).where(Follow.followee_id == user_id))


@transactional
def follow_user(*, actor_id: str, user_id: str) -> FollowState:
    """Follow a user (twice is a no-op; never oneself; they hear of it: ``forum.follow``)."""
    if actor_id == user_id:
        raise CannotFollowSelf(fields={"id": ["You cannot follow yourself."]})
    _user(user_id)
    added = db.session.execute(
        insert(Follow)
        .values(follower_id=actor_id, followee_id=user_id)
        .on_conflict_do_nothing()
        .returning(Follow.follower_id)
    ).first()
    if added:
        tell(user_id, "forum.follow", None, actor_id=actor_id, actor_name=_user(actor_id).name)
    return FollowState(following=True, followers=_followers_of(user_id))


@transactional
def unfollow_user(*, actor_id: str, user_id: str) -> FollowState:
    """Stop following a user (no-op if not following)."""
    if actor_id == user_id:
        raise CannotFollowSelf(fields={"id": ["You cannot follow yourself."]})
    _user(user_id)
    db.session.execute(delete(Follow).where(Follow.follower_id == actor_id, Follow.followee_id == user_id))
    return FollowState(following=False, followers=_followers_of(user_id))


def _user_page(stmt, *, page: int, page_size: int) -> Page[Author]:
    result = paginate(stmt, page=page, page_size=page_size)
    authors = authors_by_id(result.items)
    return Page(items=[authors[i] for i in result.items if i in authors], total=result.total)


def list_followers(*, user_id: str, page: int, page_size: int) -> Page[Author]:
    """Return one page of the users following ``user_id``, newest follow first."""
    _user(user_id)
    stmt = (
        select(Follow.follower_id)
        .where(Follow.followee_id == user_id)
        .order_by(Follow.created_at.desc(), Follow.follower_id)
    )
    return _user_page(stmt, page=page, page_size=page_size)


def list_following(*, user_id: str, page: int, page_size: int) -> Page[Author]:
    """Return one page of the users ``user_id`` follows, newest follow first."""
    _user(user_id)
    stmt = (
        select(Follow.followee_id)
        .where(Follow.follower_id == user_id)
        .order_by(Follow.created_at.desc(), Follow.followee_id)
    )
    return _user_page(stmt, page=page, page_size=page_size)


PROFILE_STRATEGIES = 20


def get_profile(*, actor_id: str | None, user_id: str) -> ProfileView:
    """Return a user's public profile: post and follow counts and published strategies.

    A deleted account is a 404 (users' `get_user`).
    """
    user = users_service.get_user(user_id=user_id)
    who = author_of(user)
    strategies, strategies_total = strategies_service.list_published_by(
        owner_id=user_id, limit=PROFILE_STRATEGIES
    )
    is_following = bool(actor_id) and bool(
        _count(
            select(func.count())
            .select_from(Follow)
            .where(Follow.follower_id == actor_id, Follow.followee_id == user_id)
        )
    )
    return ProfileView(
        id=who.id,
        name=who.name,
        avatar=who.avatar,
        posts=_count(
            select(func.count()).select_from(Post).where(Post.author_id == user_id, Post.hidden_at.is_(None))
        ),
        followers=_followers_of(user_id),
        following=_count(select(func.count()).select_from(Follow).where(Follow.follower_id == user_id)),
        is_following=is_following,
        bio=user.bio,
        created_at=user.created_at,
        published_strategies=strategies,
        published_strategies_count=strategies_total,
    )
