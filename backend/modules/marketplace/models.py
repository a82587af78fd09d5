"""Marketplace tables: listings of published strategies, follows, copies and abuse reports.

A listing (`marketplace_listings`, one per strategy ever published) pins what was verified: the
strategy version and the owner's completed backtest of it, whose KPIs are copied into sortable
columns (computed by the server's engine, never sent by a client). Its metadata (name, symbol,
tags...) mirrors the strategy's, kept in step by the ``strategy.changed`` event. It is visible to
others while ``listed`` (published through the marketplace and still published) and not
``hidden`` (by an admin). Counters change by atomic ``SET n = n + 1`` next to the row that
justifies them, so concurrent copies or follows are counted exactly.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import TimestampMixin, new_id, now_ms
from backend.extensions import Model

REPORT_REASONS = ("spam", "plagiarism", "misleading", "malicious_code", "offensive", "other")
REPORT_STATUSES = ("open", "resolved", "dismissed")
# Each browse sort has a partial index over the visible listings in exactly the browse order
# (the column descending, NULLs last, then strategy_id), so a page is an index scan, not a sort.
SORT_COLUMNS = {
    "sharpe": "sharpe",
    "return": "total_return",
    "drawdown": "max_drawdown",
    "trades": "total_trades",
    "followers": "followers_count",
    "copies": "copies_count",
    "published": "published_at",
}
VISIBLE_SQL = "listed AND NOT hidden"


class Listing(TimestampMixin, Model):
    """A strategy in the marketplace: its verified run, sealed flag, counters and moderation state."""

    __tablename__ = "marketplace_listings"
    __table_args__ = (
        *(
            Index(
                f"ix_marketplace_listings_{name}",
                text(f"{column} DESC NULLS LAST"),
                "strategy_id",
                postgresql_where=text(VISIBLE_SQL),
            )
            for name, column in SORT_COLUMNS.items()
        ),
        Index("ix_marketplace_listings_owner", "owner_id"),
        # the browse search (`q`, ILIKE '%...%'): pg_trgm GIN indexes (migration 0028)
        *(
            Index(
                f"ix_marketplace_listings_{column}_trgm",
                column,
                postgresql_using="gin",
                postgresql_ops={column: "gin_trgm_ops"},
            )
            for column in ("name", "description")
        ),
    )

    strategy_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("strategies.id", ondelete="CASCADE"), primary_key=True
    )
    owner_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    listed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    hidden: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    hidden_by: Mapped[str | None] = mapped_column(String(36), ForeignKey("users.id", ondelete="SET NULL"))
    hidden_at: Mapped[int | None] = mapped_column(BigInteger)
    sealed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    symbol: Mapped[str] = mapped_column(String(32), nullable=False)
    interval: Mapped[str] = mapped_column(String(8), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(32)), nullable=False, default=list)
    version_id: Mapped[str] = mapped_column(String(36), nullable=False)
    backtest_id: Mapped[str] = mapped_column(String(36), nullable=False)
    kpis: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    sharpe: Mapped[float | None] = mapped_column(Float)
    total_return: Mapped[float | None] = mapped_column(Float)
    max_drawdown: Mapped[float | None] = mapped_column(Float)
    total_trades: Mapped[int | None] = mapped_column(Integer)
    copies_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    followers_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    published_at: Mapped[int] = mapped_column(BigInteger, nullable=False, default=now_ms)


class Follow(Model):
    """A user watching a listed strategy."""

    __tablename__ = "marketplace_follows"
    __table_args__ = (Index("ix_marketplace_follows_user", "user_id"),)

    strategy_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("strategies.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False, default=now_ms)


class Copy(Model):
    """One copy of a listed strategy into a user's strategies (``copy_id``)."""

    __tablename__ = "marketplace_copies"
    __table_args__ = (Index("ix_marketplace_copies_strategy_user", "strategy_id", "user_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    strategy_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("strategies.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    copy_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("strategies.id", ondelete="CASCADE"), nullable=False
    )
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False, default=now_ms)


class Report(Model):
    """An abuse report on a listed strategy: one per user and strategy; open, resolved or dismissed."""

    __tablename__ = "marketplace_reports"
    __table_args__ = (
        UniqueConstraint("strategy_id", "reporter_id", name="uq_marketplace_reports_once"),
        Index("ix_marketplace_reports_status_created", "status", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    strategy_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("strategies.id", ondelete="CASCADE"), nullable=False
    )
    reporter_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    reason: Mapped[str] = mapped_column(String(32), nullable=False)
    details: Mapped[str] = mapped_column(Text, nullable=False, default="")
    status: Mapped[str] = mapped_column(String(12), nullable=False, default="open")
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False, default=now_ms)
    resolved_at: Mapped[int | None] = mapped_column(BigInteger)
    resolved_by: Mapped[str | None] = mapped_column(String(36), ForeignKey("users.id", ondelete="SET NULL"))
    resolution: Mapped[str | None] = mapped_column(Text)
