"""Backtests: the overfitting guardrails and the walk-forward analysis stored with each result.

Both are JSONB objects (camelCase keys, full precision), NULL until the run completes;
``walk_forward`` stays NULL for a run that did not ask for one.

Revision ID: 0016_backtest_guardrails
Revises: 0015_strategy_params_schema
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0016_backtest_guardrails"
down_revision = "0015_strategy_params_schema"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("backtests", sa.Column("guardrails", postgresql.JSONB(), nullable=True))
    op.add_column("backtests", sa.Column("walk_forward", postgresql.JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("backtests", "walk_forward")
    op.drop_column("backtests", "guardrails")
