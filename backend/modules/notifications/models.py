"""Notification tables: the centre's rows and each user's muted types."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import new_id, now_ms
from backend.extensions import Model


class Notification(Model):
    """One thing a user is told about (a job finished, a fill, a reply...), read or unread."""

    __tablename__ = "notifications"
    __table_args__ = (
        # A source that tells the same fact twice (a redelivered job, a re-like) makes one row.
        UniqueConstraint("user_id", "dedupe_key", name="uq_notifications_user_id"),
        Index("ix_notifications_user_created", "user_id", "created_at"),
        # The unread count reads only this (small) partial index.
        Index("ix_notifications_unread", "user_id", postgresql_where=text("NOT read")),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    type: Mapped[str] = mapped_column(String(40), nullable=False)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    body: Mapped[str | None] = mapped_column(Text)
    link: Mapped[str] = mapped_column(String(500), nullable=False)
    object_id: Mapped[str | None] = mapped_column(String(36))
    read: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False, default=now_ms)
    dedupe_key: Mapped[str | None] = mapped_column(String(200))


class NotificationMute(Model):
    """A notification type a user muted: events of that type create no notification for them."""

    __tablename__ = "notification_mutes"

    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    type: Mapped[str] = mapped_column(String(40), primary_key=True)
