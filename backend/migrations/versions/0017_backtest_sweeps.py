"""Backtests: parameter sweeps (`sweeps`, `sweep_chunks`, `sweep_runs`).

A sweep's status is its job's; `sweep_chunks` are the units of work (claimed, heartbeated, done
once) and `sweep_runs` is keyed by (sweep, run index), so a redelivered chunk stores nothing twice.

Revision ID: 0017_backtest_sweeps
Revises: 0016_backtest_guardrails
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0017_backtest_sweeps"
down_revision = "0016_backtest_guardrails"
branch_labels = None
depends_on = None

MONEY = sa.Numeric(28, 10)


def _fk(column: str, table: str, target: str, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], ondelete=ondelete, name=f"fk_{table}_{column}_{target}"
    )


def upgrade() -> None:
    op.create_table(
        "sweeps",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("owner_id", sa.String(36), nullable=False),
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("strategy_id", sa.String(36)),
        sa.Column("strategy_version_id", sa.String(36)),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("params", postgresql.JSONB(), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("interval", sa.String(8), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("initial_capital", MONEY, nullable=False),
        sa.Column("fee_bps", MONEY, nullable=False),
        sa.Column("slippage_bps", MONEY, nullable=False),
        sa.Column("allow_short", sa.Boolean(), nullable=False),
        sa.Column("engine_version", sa.String(16), nullable=False),
        sa.Column("space", postgresql.JSONB(), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("samples", sa.Integer()),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("objective", sa.String(40), nullable=False),
        sa.Column("maximize", sa.Boolean(), nullable=False),
        sa.Column("total_runs", sa.Integer(), nullable=False),
        sa.Column("chunk_runs", sa.Integer(), nullable=False),
        sa.Column("chunks_total", sa.Integer(), nullable=False),
        sa.Column("chunks_done", sa.Integer(), nullable=False),
        sa.Column("runs_done", sa.Integer(), nullable=False),
        sa.Column("guardrails", postgresql.JSONB()),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("finished_at", sa.BigInteger()),
        sa.PrimaryKeyConstraint("id", name="pk_sweeps"),
        _fk("owner_id", "sweeps", "users"),
        _fk("job_id", "sweeps", "jobs"),
        _fk("strategy_id", "sweeps", "strategies", "SET NULL"),
        _fk("strategy_version_id", "sweeps", "strategy_versions", "SET NULL"),
        sa.CheckConstraint("end_ms > start_ms", name="ck_sweeps_range"),
        sa.CheckConstraint("method IN ('grid', 'random')", name="ck_sweeps_method"),
    )
    op.create_index("ix_sweeps_owner_created", "sweeps", ["owner_id", "created_at"])
    op.create_index("ix_sweeps_job_id", "sweeps", ["job_id"])
    op.create_table(
        "sweep_chunks",
        sa.Column("sweep_id", sa.String(36), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("first", sa.Integer(), nullable=False),
        sa.Column("stop", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.BigInteger()),
        sa.Column("claimed_at", sa.BigInteger()),
        sa.Column("done_at", sa.BigInteger()),
        sa.PrimaryKeyConstraint("sweep_id", "idx", name="pk_sweep_chunks"),
        _fk("sweep_id", "sweep_chunks", "sweeps"),
    )
    op.create_table(
        "sweep_runs",
        sa.Column("sweep_id", sa.String(36), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("params", postgresql.JSONB(), nullable=False),
        sa.Column("metrics", postgresql.JSONB()),
        sa.Column("objective", sa.Float()),
        sa.Column("error", sa.Text()),
        sa.PrimaryKeyConstraint("sweep_id", "idx", name="pk_sweep_runs"),
        _fk("sweep_id", "sweep_runs", "sweeps"),
    )
    op.create_index("ix_sweep_runs_objective", "sweep_runs", ["sweep_id", "objective"])


def downgrade() -> None:
    op.drop_table("sweep_runs")
    op.drop_table("sweep_chunks")
    op.drop_table("sweeps")
