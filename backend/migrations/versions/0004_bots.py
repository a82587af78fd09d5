"""Paper-trading bots: bot_instances, orders, bot_equity.

Revision ID: 0004_bots
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004_bots"
down_revision = "0001_foundation"
branch_labels = ("bots",)
depends_on = ("0003_strategies_backtests",)

MONEY = sa.Numeric(28, 10)


def _money(name: str, nullable: bool = False, default: str | None = "0") -> sa.Column:
    return sa.Column(name, MONEY, nullable=nullable, server_default=default)


def _bot_columns() -> list[sa.Column]:
    return [
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("owner_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("strategy_id", sa.String(36), nullable=False),
        sa.Column("strategy_version_id", sa.String(36), nullable=False),
        sa.Column("strategy_name", sa.String(200), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("interval", sa.String(8), nullable=False),
        sa.Column("tags", postgresql.ARRAY(sa.String(32)), nullable=False),
        sa.Column("paper", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("is_public", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("allow_short", sa.Boolean(), nullable=False, server_default=sa.false()),
        _money("capital", default=None),
        _money("fee_bps"),
        _money("slippage_bps"),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("error_reason", sa.String(64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        _money("cash", default=None),
        _money("position"),
        _money("cost_basis"),
        _money("realised_pnl"),
        _money("fees_paid"),
        _money("mark_price", nullable=True, default=None),
        sa.Column("origin_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_bar_ms", sa.BigInteger(), nullable=False),
        sa.Column("flat_bar_ms", sa.BigInteger(), nullable=False),
        sa.Column("next_tick_ms", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("tick_enqueued_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_tick_ms", sa.BigInteger(), nullable=True),
        sa.Column("run_ms", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("running_since", sa.BigInteger(), nullable=True),
        sa.Column("deleted_at", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
    ]


def _order_columns() -> list[sa.Column]:
    return [
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("bot_id", sa.String(36), nullable=False),
        sa.Column("owner_id", sa.String(36), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        _money("quantity", default=None),
        _money("price", default=None),
        _money("reference_price", default=None),
        _money("notional", default=None),
        _money("fee", default=None),
        _money("realised_pnl", default=None),
        _money("cash_after", default=None),
        _money("position_after", default=None),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=True),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "bot_instances",
        *_bot_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_bot_instances"),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], ondelete="CASCADE", name="fk_bot_instances_owner_id_users"
        ),
        sa.CheckConstraint("capital > 0", name="ck_bot_instances_capital_positive"),
        sa.CheckConstraint(
            "status IN ('running', 'paused', 'error', 'stopped')", name="ck_bot_instances_status"
        ),
    )
    op.create_index("ix_bot_instances_owner_created", "bot_instances", ["owner_id", "created_at"])
    op.create_index("ix_bot_instances_public_created", "bot_instances", ["is_public", "created_at"])
    op.create_index("ix_bot_instances_status_next_tick", "bot_instances", ["status", "next_tick_ms"])
    op.create_table(
        "orders",
        *_order_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_orders"),
        sa.ForeignKeyConstraint(
            ["bot_id"], ["bot_instances.id"], ondelete="CASCADE", name="fk_orders_bot_id_bot_instances"
        ),
        sa.UniqueConstraint("bot_id", "idempotency_key", name="uq_orders_bot_id_idempotency_key"),
        sa.CheckConstraint("side IN ('buy', 'sell')", name="ck_orders_side"),
        sa.CheckConstraint("quantity > 0", name="ck_orders_quantity_positive"),
    )
    op.create_index("ix_orders_bot_time", "orders", ["bot_id", "time"])
    op.create_index("ix_orders_owner_symbol_time", "orders", ["owner_id", "symbol", "time"])
    op.create_table(
        "bot_equity",
        sa.Column("bot_id", sa.String(36), nullable=False),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.Column("value", MONEY, nullable=False),
        sa.PrimaryKeyConstraint("bot_id", "time", name="pk_bot_equity"),
        sa.ForeignKeyConstraint(
            ["bot_id"], ["bot_instances.id"], ondelete="CASCADE", name="fk_bot_equity_bot_id_bot_instances"
        ),
    )


def downgrade() -> None:
    op.drop_table("bot_equity")
    op.drop_index("ix_orders_owner_symbol_time", table_name="orders")
    op.drop_index("ix_orders_bot_time", table_name="orders")
    op.drop_table("orders")
    op.drop_index("ix_bot_instances_status_next_tick", table_name="bot_instances")
    op.drop_index("ix_bot_instances_public_created", table_name="bot_instances")
    op.drop_index("ix_bot_instances_owner_created", table_name="bot_instances")
    op.drop_table("bot_instances")
