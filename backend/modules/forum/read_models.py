"""Read models of the forum: posts and comments joined with their authors' user records."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from backend.modules.forum.models import Comment, Post
from backend.modules.users import service as users_service


@dataclass(frozen=True)
class Author:
    """The name and avatar shown next to content, read from the user record."""

    id: str
    name: str
    avatar: str


@dataclass(frozen=True)
class PostView:
    """A post as the API shows it."""

    id: str
    title: str
    author_id: str
    author: str
    avatar: str
    likes_count: int
    comments_count: int
    created_at: int
    updated_at: int
    tags: list[str]
    content: str
    tips_total: Decimal
    attachment: dict[str, Any] | None
    liked: bool = False
    favorited: bool = False


@dataclass(frozen=True)
class CommentView:
    """A comment as the API shows it."""

    id: str
    post_id: str
    author_id: str
    author: str
    avatar: str
    content: str
    created_at: int


@dataclass(frozen=True)
class ProfileView:
    """A public profile with follow counts."""

    id: str
    name: str
    avatar: str
    posts: int
    followers: int
    following: int
    is_following: bool = False
    bio: str | None = None
    created_at: int = 0
    published_strategies: list[Any] = field(default_factory=list)
    published_strategies_count: int = 0


def author_of(user: Any) -> Author:
    """Return the display Author of a user record from the users service."""
    return Author(id=user.id, name=user.name or user.username, avatar=users_service.avatar_url(user))


def authors_by_id(ids: Iterable[str]) -> dict[str, Author]:
    """Return the Author of each user id (unknown ids are left out)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return {uid: author_of(user) for uid, user in users_service.get_users(ids=wanted).items()}


def _missing(user_id: str) -> Author:
    return Author(id=user_id, name="", avatar=users_service.default_avatar_url(user_id))


def post_view(
    post: Post, authors: dict[str, Author], *, liked: bool = False, favorited: bool = False
) -> PostView:
    """Return the API view of ``post`` using the preloaded ``authors``."""
    who = authors.get(post.author_id) or _missing(post.author_id)
    attachment = None
    if post.attachment_kind:
        attachment = {
            "kind": post.attachment_kind,
            "id": post.attachment_id,
            "kpis": post.attachment_kpis or {},
        }
    return PostView(
        id=post.id,
        title=post.title,
        author_id=post.author_id,
        author=who.name,
        avatar=who.avatar,
        likes_count=post.likes_count,
        comments_count=post.comments_count,
        created_at=post.created_at,
        updated_at=post.updated_at,
        tags=list(post.tags or []),
        content=post.content,
        tips_total=post.tips_total,
        attachment=attachment,
        liked=liked,
        favorited=favorited,
    )


def post_views(posts: Iterable[Post]) -> list[PostView]:
    """Return the API views of ``posts`` (one user lookup for all authors)."""
    posts = list(posts)
    authors = authors_by_id(p.author_id for p in posts)
    return [post_view(p, authors) for p in posts]


def comment_views(comments: Iterable[Comment]) -> list[CommentView]:
    """Return the API views of ``comments`` (one user lookup for all authors)."""
    comments = list(comments)
    authors = authors_by_id(c.author_id for c in comments)
    views = []
    for c in comments:
        who = authors.get(c.author_id) or _missing(c.author_id)
        views.append(
            CommentView(
                id=c.id,
                post_id=c.post_id,
                author_id=c.author_id,
                author=who.name,
                avatar=who.avatar,
                content=c.content,
                created_at=c.created_at,
            )
        )
    return views
