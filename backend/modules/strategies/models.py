"""Strategy tables: `strategies` (mutable metadata) and `strategy_versions` (immutable snapshots).

Every change of kind, parameters or code creates a new `strategy_versions` row whose
`content_hash` is the SHA-256 of the canonical JSON of ``{kind, params, code}`` (``code`` is the
`python` kind's source, NULL for the others); backtests and
bots pin a version id, so a run can always be reproduced. A deleted strategy is soft-deleted
(`deleted_at`), so the backtests and bots that reference it keep their history.

A fork (a marketplace copy) records where it came from (`forked_from_strategy_id`,
`forked_from_author_id`) and starts its own version history at 1. `code_hidden` marks a copy of
a sealed python strategy: it runs (backtests, bots, the sandbox) but its code is returned to no
one, its owner included, and its code cannot be replaced (its parameters can).

`latest_*` snapshot the owner's latest completed backtest of the strategy (the dashboard's KPIs);
the backtests module pushes them down through `service.record_backtest` when a run completes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import TimestampMixin, new_id, now_ms
from backend.extensions import Model


class Strategy(TimestampMixin, Model):
    """A user's strategy: name, symbol, kind and tags; its parameters live in its versions."""

    __tablename__ = "strategies"
    __table_args__ = (
        Index("ix_strategies_owner_updated", "owner_id", "updated_at"),
        Index("ix_strategies_published_updated", "is_published", "updated_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    symbol: Mapped[str] = mapped_column(String(32), nullable=False)
    interval: Mapped[str] = mapped_column(String(8), nullable=False, default="1h")
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(32)), nullable=False, default=list)
    is_published: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    current_version_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    version_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    deleted_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    latest_backtest_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    latest_metrics: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    latest_finished_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    code_hidden: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    forked_from_strategy_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("strategies.id", ondelete="SET NULL"), nullable=True
    )
    forked_from_author_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )


class StrategyVersion(Model):
    """One immutable snapshot of a strategy's kind, parameters and code."""

    __tablename__ = "strategy_versions"
    __table_args__ = (UniqueConstraint("strategy_id", "number", name="uq_strategy_versions_number"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    strategy_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("strategies.id", ondelete="CASCADE"), nullable=False
    )
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    code: Mapped[str | None] = mapped_column(Text, nullable=True)  # the `python` kind's source
    # The `python` kind's parameter descriptor (its PARAMS, read in the sandbox when the version
    # was made); derived from `code`, so not part of the content hash. NULL for other kinds.
    params_schema: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    created_by: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False, default=now_ms)
