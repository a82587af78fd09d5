"""Users and their encrypted third-party API keys."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import TimestampMixin, new_id
from backend.extensions import Model, db


class User(TimestampMixin, Model):
    """A person who logs in. `username` and `email` are unique case-insensitively.

    The avatar is an uploaded public image (`avatar_file_id`), else an https URL the user gave
    (`avatar`), else the generated default; `service.avatar_url` is the one rule that picks it.
    Deleting the image's file (any way) falls back to the default.

    A deleted account stays as a tombstone (`deleted_at` set): username ``deleted-<id>``, no email,
    no password, name "deleted user", so the posts and comments it wrote keep an author to show
    and its old username and email are free again (docs/security.md#account-deletion).
    """

    __tablename__ = "users"
    __table_args__ = (
        Index("uq_users_username_lower", func.lower("username"), unique=True),
        Index("uq_users_email_lower", func.lower("email"), unique=True),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(64), nullable=False)
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    avatar: Mapped[str | None] = mapped_column(String(500))
    avatar_file_id: Mapped[str | None] = mapped_column(
        String(36),
        # use_alter: files.owner_id points back at users, so the two tables form a cycle.
        ForeignKey("files.id", ondelete="SET NULL", name="fk_users_avatar_file_id_files", use_alter=True),
    )
    level: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    is_admin: Mapped[bool] = mapped_column(db.Boolean, nullable=False, default=False)
    bio: Mapped[str | None] = mapped_column(String(500))
    timezone: Mapped[str | None] = mapped_column(String(64))  # an IANA zone name, e.g. Europe/Paris
    locale: Mapped[str | None] = mapped_column(String(35))  # a BCP 47 tag, e.g. zh-CN
    onboarding_completed_at: Mapped[int | None] = mapped_column(BigInteger)  # ms
    deleted_at: Mapped[int | None] = mapped_column(BigInteger)  # ms; a tombstone when set
    # Set by an admin (backend/modules/admin): a disabled user cannot log in or refresh.
    disabled_at: Mapped[int | None] = mapped_column(BigInteger)


class UserApiKey(TimestampMixin, Model):
    """An exchange/broker/LLM credential, stored only as Fernet ciphertext."""

    __tablename__ = "user_api_keys"
    __table_args__ = (UniqueConstraint("user_id", "exchange"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    exchange: Mapped[str] = mapped_column(String(40), nullable=False)
    label: Mapped[str | None] = mapped_column(String(100))
    key_ciphertext: Mapped[str] = mapped_column(Text, nullable=False)
    secret_ciphertext: Mapped[str | None] = mapped_column(Text)
    key_last4: Mapped[str] = mapped_column(String(4), nullable=False)
