"""Bot tables: `bot_instances` (config + ledger state + tick cursor), `orders`, `bot_equity`.

The ledger state columns on `bot_instances` (cash, position, cost_basis, realised_pnl,
fees_paid) are changed only by a tick or an order while the bot row is locked ``FOR UPDATE``,
in the same transaction that inserts the orders that explain them, so replaying `orders` always
rebuilds them (the `/ledger` check).
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Money, TimestampMixin, new_id, now_ms
from backend.extensions import Model

RUNNING, PAUSED, ERROR, STOPPED = "running", "paused", "error", "stopped"


class BotInstance(TimestampMixin, Model):
    """A paper-trading bot pinned to one strategy version; `owner_id` owns it."""

    __tablename__ = "bot_instances"
    __table_args__ = (
        Index("ix_bot_instances_owner_created", "owner_id", "created_at"),
        Index("ix_bot_instances_public_created", "is_public", "created_at"),
        Index("ix_bot_instances_status_next_tick", "status", "next_tick_ms"),
        CheckConstraint("capital > 0", name="capital_positive"),
        CheckConstraint("status IN ('running', 'paused', 'error', 'stopped')", name="status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    strategy_id: Mapped[str] = mapped_column(String(36), nullable=False)
    strategy_version_id: Mapped[str] = mapped_column(String(36), nullable=False)
    strategy_name: Mapped[str] = mapped_column(String(200), nullable=False)
    symbol: Mapped[str] = mapped_column(String(32), nullable=False)
    interval: Mapped[str] = mapped_column(String(8), nullable=False)
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(32)), nullable=False, default=list)
    paper: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    is_public: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    allow_short: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    capital: Mapped[Decimal] = mapped_column(Money, nullable=False)
    fee_bps: Mapped[Decimal] = mapped_column(Money, nullable=False, default=Decimal(0))
    slippage_bps: Mapped[Decimal] = mapped_column(Money, nullable=False, default=Decimal(0))
    status: Mapped[str] = mapped_column(String(12), nullable=False, default=RUNNING)
    error_reason: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    # Ledger state (see backend.domain.ledger.book).
    cash: Mapped[Decimal] = mapped_column(Money, nullable=False)
    position: Mapped[Decimal] = mapped_column(Money, nullable=False, default=Decimal(0))
    cost_basis: Mapped[Decimal] = mapped_column(Money, nullable=False, default=Decimal(0))
    realised_pnl: Mapped[Decimal] = mapped_column(Money, nullable=False, default=Decimal(0))
    fees_paid: Mapped[Decimal] = mapped_column(Money, nullable=False, default=Decimal(0))
    mark_price: Mapped[Decimal | None] = mapped_column(Money)  # last close seen
    # Tick cursor: bars at or before last_bar_ms are processed; the strategy never sees bars
    # before origin_ms, and its signals at or before flat_bar_ms are dropped (see
    # domain.ledger.walk.anchored); next_tick_ms is when the next bar can be processed.
    origin_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    last_bar_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    flat_bar_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)  # strategy state flat here
    next_tick_ms: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    tick_enqueued_ms: Mapped[int | None] = mapped_column(BigInteger)
    last_tick_ms: Mapped[int | None] = mapped_column(BigInteger)
    # Runtime = run_ms + (now - running_since) while running.
    run_ms: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    running_since: Mapped[int | None] = mapped_column(BigInteger, default=now_ms)
    deleted_at: Mapped[int | None] = mapped_column(BigInteger)


class Order(Model):
    """One filled paper order; unique per (bot, idempotency key)."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("bot_id", "idempotency_key", name="uq_orders_bot_id_idempotency_key"),
        Index("ix_orders_bot_time", "bot_id", "time"),
        Index("ix_orders_owner_symbol_time", "owner_id", "symbol", "time"),
        CheckConstraint("side IN ('buy', 'sell')", name="side"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    bot_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("bot_instances.id", ondelete="CASCADE"), nullable=False
    )
    owner_id: Mapped[str] = mapped_column(String(36), nullable=False)
    symbol: Mapped[str] = mapped_column(String(32), nullable=False)
    side: Mapped[str] = mapped_column(String(4), nullable=False)
    source: Mapped[str] = mapped_column(String(16), nullable=False)  # tick | manual | workflow
    status: Mapped[str] = mapped_column(String(12), nullable=False, default="filled")
    quantity: Mapped[Decimal] = mapped_column(Money, nullable=False)
    price: Mapped[Decimal] = mapped_column(Money, nullable=False)
    reference_price: Mapped[Decimal] = mapped_column(Money, nullable=False)
    notional: Mapped[Decimal] = mapped_column(Money, nullable=False)
    fee: Mapped[Decimal] = mapped_column(Money, nullable=False)
    realised_pnl: Mapped[Decimal] = mapped_column(Money, nullable=False)
    cash_after: Mapped[Decimal] = mapped_column(Money, nullable=False)
    position_after: Mapped[Decimal] = mapped_column(Money, nullable=False)
    idempotency_key: Mapped[str] = mapped_column(String(255), nullable=False)
    request_hash: Mapped[str | None] = mapped_column(String(64))
    time: Mapped[int] = mapped_column(BigInteger, nullable=False)  # fill time, Unix ms
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False, default=now_ms)


class BotEquity(Model):
    """Equity of a bot at a bar's close, stamped with the bar's open time (Unix ms)."""

    __tablename__ = "bot_equity"

    bot_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("bot_instances.id", ondelete="CASCADE"), primary_key=True
    )
    time: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    value: Mapped[Decimal] = mapped_column(Money, nullable=False)
