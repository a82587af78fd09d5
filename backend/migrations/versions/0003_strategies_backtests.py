"""Strategies (strategies, strategy_versions) and backtests (backtests, backtest_trades).

Revision ID: 0003_strategies_backtests
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003_strategies_backtests"
down_revision = "0001_foundation"
branch_labels = ("strategies", "backtests")
depends_on = None

MONEY = sa.Numeric(28, 10)


def _fk(column: str, table: str, target: str, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], ondelete=ondelete, name=f"fk_{table}_{column}_{target}"
    )


def _stamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
    ]


def _create_strategies() -> None:
    op.create_table(
        "strategies",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("owner_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("interval", sa.String(8), nullable=False, server_default="1h"),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("tags", postgresql.ARRAY(sa.String(32)), nullable=False),
        sa.Column("is_published", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("current_version_id", sa.String(36), nullable=True),
        sa.Column("version_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("deleted_at", sa.BigInteger(), nullable=True),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name="pk_strategies"),
        _fk("owner_id", "strategies", "users"),
    )
    op.create_index("ix_strategies_owner_updated", "strategies", ["owner_id", "updated_at"])
    op.create_index("ix_strategies_published_updated", "strategies", ["is_published", "updated_at"])
    op.create_table(
        "strategy_versions",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("strategy_id", sa.String(36), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("params", postgresql.JSONB(), nullable=False),
        sa.Column("code", sa.Text(), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(36), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_strategy_versions"),
        _fk("strategy_id", "strategy_versions", "strategies"),
        _fk("created_by", "strategy_versions", "users"),
        sa.UniqueConstraint("strategy_id", "number", name="uq_strategy_versions_number"),
    )


def _backtest_columns() -> list[sa.Column]:
    return [
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("owner_id", sa.String(36), nullable=False),
        sa.Column("job_id", sa.String(36), nullable=True),
        sa.Column("strategy_id", sa.String(36), nullable=True),
        sa.Column("strategy_version_id", sa.String(36), nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("params", postgresql.JSONB(), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("interval", sa.String(8), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("initial_capital", MONEY, nullable=False),
        sa.Column("fee_bps", MONEY, nullable=False, server_default="0"),
        sa.Column("slippage_bps", MONEY, nullable=False, server_default="0"),
        sa.Column("allow_short", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("engine_version", sa.String(16), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("error_reason", sa.String(64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("bars_count", sa.Integer(), nullable=True),
        sa.Column("final_equity", MONEY, nullable=True),
        sa.Column("metrics", postgresql.JSONB(), nullable=True),
        sa.Column("equity_curve", postgresql.JSONB(), nullable=True),
        sa.Column("kline", postgresql.JSONB(), nullable=True),
        sa.Column("started_at", sa.BigInteger(), nullable=True),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
        *_stamps(),
    ]


def _create_backtests() -> None:
    op.create_table(
        "backtests",
        *_backtest_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_backtests"),
        _fk("owner_id", "backtests", "users"),
        _fk("job_id", "backtests", "jobs", "SET NULL"),
        _fk("strategy_id", "backtests", "strategies", "SET NULL"),
        _fk("strategy_version_id", "backtests", "strategy_versions", "SET NULL"),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'completed', 'failed', 'cancelled')", name="ck_backtests_status"
        ),
        sa.CheckConstraint("end_ms > start_ms", name="ck_backtests_range"),
    )
    op.create_index("ix_backtests_owner_created", "backtests", ["owner_id", "created_at"])
    op.create_index("ix_backtests_strategy_finished", "backtests", ["strategy_id", "finished_at"])
    op.create_index("ix_backtests_status_finished", "backtests", ["status", "finished_at"])
    op.create_index("ix_backtests_job_id", "backtests", ["job_id"])


def _create_trades() -> None:
    op.create_table(
        "backtest_trades",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("backtest_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("side", sa.String(5), nullable=False),
        sa.Column("entry_index", sa.Integer(), nullable=False),
        sa.Column("exit_index", sa.Integer(), nullable=False),
        sa.Column("entry_time", sa.BigInteger(), nullable=False),
        sa.Column("exit_time", sa.BigInteger(), nullable=False),
        *(
            sa.Column(name, MONEY, nullable=False)
            for name in ("entry_price", "exit_price", "quantity", "pnl", "fees", "return_pct")
        ),
        sa.Column("holding_ms", sa.BigInteger(), nullable=False),
        sa.Column("closed_at_end", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("id", name="pk_backtest_trades"),
        _fk("backtest_id", "backtest_trades", "backtests"),
        sa.CheckConstraint("side IN ('long', 'short')", name="ck_backtest_trades_side"),
    )
    op.create_index("ix_backtest_trades_backtest_seq", "backtest_trades", ["backtest_id", "seq"], unique=True)


def upgrade() -> None:
    _create_strategies()
    _create_backtests()
    _create_trades()


def downgrade() -> None:
    op.drop_table("backtest_trades")
    op.drop_table("backtests")
    op.drop_table("strategy_versions")
    op.drop_table("strategies")
