"""Forum tables: posts, comments, likes, favorites, tips and follows.

A post or comment a moderator hid (`hidden_at`) is absent for everyone but the admin console; a
hidden comment is not counted in `comments_count`. Counters on `posts` (likes, comments,
tips_total) are changed only by atomic ``UPDATE ... SET x = x + n`` in the same transaction
that inserts or deletes the row they count, and only when that insert/delete really happened, so
they stay exact under concurrency.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Money, TimestampMixin, new_id, now_ms
from backend.extensions import Model

USER_FK = "users.id"


class Post(TimestampMixin, Model):
    """A forum post; `author_id` owns it."""

    __tablename__ = "posts"
    __table_args__ = (
        CheckConstraint("likes_count >= 0", name="likes_nonneg"),
        CheckConstraint("comments_count >= 0", name="comments_nonneg"),
        CheckConstraint("tips_total >= 0", name="tips_nonneg"),
        CheckConstraint("attachment_kind IN ('backtest', 'strategy')", name="attachment_kind"),
        Index("ix_posts_created_at", "created_at"),
        Index("ix_posts_author_created", "author_id", "created_at"),
        Index("ix_posts_tags", "tags", postgresql_using="gin"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    author_id: Mapped[str] = mapped_column(
        String(36), ForeignKey(USER_FK, ondelete="CASCADE"), nullable=False
    )
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False, default="")
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(32)), nullable=False, default=list)
    likes_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    comments_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    tips_total: Mapped[Decimal] = mapped_column(Money, nullable=False, default=Decimal(0))
    attachment_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    attachment_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    # The KPIs the owning module verified at attach time; never typed by the author.
    attachment_kpis: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    # Set by a moderator (moderation.py): a hidden post is absent for everyone but the admin views.
    hidden_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class Comment(Model):
    """A comment on a post; `author_id` may delete it."""

    __tablename__ = "comments"
    __table_args__ = (Index("ix_comments_post_created", "post_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    post_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("posts.id", ondelete="CASCADE"), nullable=False
    )
    author_id: Mapped[str] = mapped_column(
        String(36), ForeignKey(USER_FK, ondelete="CASCADE"), nullable=False
    )
    content: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False, default=now_ms)
    hidden_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # see Post.hidden_at


class Like(Model):
    """One like per (post, user): the primary key is the uniqueness rule."""

    __tablename__ = "likes"

    post_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey(USER_FK, ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False, default=now_ms)


class Favorite(Model):
    """One favorite per (user, post); keyed user-first for "my favorites"."""

    __tablename__ = "favorites"
    __table_args__ = (Index("ix_favorites_post_id", "post_id"),)

    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey(USER_FK, ondelete="CASCADE"), primary_key=True
    )
    post_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False, default=now_ms)


class Tip(Model):
    """A recorded tip (no payment is made): amount > 0 in `currency`."""

    __tablename__ = "tips"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_tips_post_id", "post_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    post_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("posts.id", ondelete="CASCADE"), nullable=False
    )
    tipper_id: Mapped[str] = mapped_column(
        String(36), ForeignKey(USER_FK, ondelete="CASCADE"), nullable=False
    )
    recipient_id: Mapped[str] = mapped_column(
        String(36), ForeignKey(USER_FK, ondelete="CASCADE"), nullable=False
    )
    amount: Mapped[Decimal] = mapped_column(Money, nullable=False)
    currency: Mapped[str] = mapped_column(String(8), nullable=False)
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False, default=now_ms)


class Follow(Model):
    """`follower_id` follows `followee_id`; never oneself."""

    __tablename__ = "follows"
    __table_args__ = (
        CheckConstraint("follower_id <> followee_id", name="not_self"),
        Index("ix_follows_followee_id", "followee_id"),
    )

    follower_id: Mapped[str] = mapped_column(
        String(36), ForeignKey(USER_FK, ondelete="CASCADE"), primary_key=True
    )
    followee_id: Mapped[str] = mapped_column(
        String(36), ForeignKey(USER_FK, ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False, default=now_ms)
