"""The `files` table: metadata of uploaded files (the bytes live under the storage root)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String, false
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import new_id, now_ms
from backend.extensions import Model


class StoredFile(Model):
    """An uploaded file owned by `owner_id`; `stored_name` is generated, never the client's.

    A `public` file (an avatar image) may be read by anyone at its public URL; every other file is
    readable by its owner only.
    """

    __tablename__ = "files"
    __table_args__ = (Index("ix_files_owner_created", "owner_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    original_name: Mapped[str] = mapped_column(String(255), nullable=False)
    stored_name: Mapped[str] = mapped_column(String(80), nullable=False, unique=True)
    content_type: Mapped[str] = mapped_column(String(100), nullable=False)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False, default=now_ms)
    public: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
