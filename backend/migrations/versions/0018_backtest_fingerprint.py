"""Backtests: run fingerprints (strategy and bars hashes) and reproductions.

`backtests.strategy_hash` and `backtests.bars_hash` are written with each result from now on
(older results keep NULL: their bars cannot be hashed after the fact). `backtest_reproductions`
holds one row per `backtests.reproduce` job: which backtest it re-runs and the outcome.

Revision ID: 0018_backtest_fingerprint
Revises: 0017_backtest_sweeps
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0018_backtest_fingerprint"
down_revision = "0017_backtest_sweeps"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("backtests", sa.Column("strategy_hash", sa.String(64)))
    op.add_column("backtests", sa.Column("bars_hash", sa.String(64)))
    op.create_table(
        "backtest_reproductions",
        sa.Column(
            "job_id",
            sa.String(36),
            sa.ForeignKey("jobs.id", ondelete="CASCADE", name="fk_backtest_reproductions_job_id_jobs"),
            nullable=False,
        ),
        sa.Column(
            "backtest_id",
            sa.String(36),
            sa.ForeignKey(
                "backtests.id", ondelete="CASCADE", name="fk_backtest_reproductions_backtest_id_backtests"
            ),
            nullable=False,
        ),
        sa.Column("outcome", postgresql.JSONB),
        sa.PrimaryKeyConstraint("job_id", name="pk_backtest_reproductions"),
    )
    op.create_index("ix_backtest_reproductions_backtest_id", "backtest_reproductions", ["backtest_id"])


def downgrade() -> None:
    op.drop_index("ix_backtest_reproductions_backtest_id", table_name="backtest_reproductions")
    op.drop_table("backtest_reproductions")
    op.drop_column("backtests", "bars_hash")
    op.drop_column("backtests", "strategy_hash")
