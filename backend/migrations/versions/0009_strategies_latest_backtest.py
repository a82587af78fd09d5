"""Strategies keep a snapshot of their owner's latest completed backtest (the dashboard's KPIs).

The backtests module pushes each completed run down (`strategies.service.record_backtest`), so
strategies never read the backtests table. This revision adds the columns and backfills them from
the completed backtests that exist.

Revision ID: 0009_strategies_latest_backtest
Revises: 0003_strategies_backtests
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009_strategies_latest_backtest"
down_revision = "0003_strategies_backtests"
branch_labels = None
depends_on = None

BACKFILL = """
UPDATE strategies AS s
SET latest_backtest_id = b.id, latest_metrics = b.metrics, latest_finished_at = b.finished_at
FROM (
    SELECT DISTINCT ON (bt.strategy_id) bt.strategy_id, bt.id, bt.metrics, bt.finished_at
    FROM backtests AS bt
    JOIN strategies AS st ON st.id = bt.strategy_id AND st.owner_id = bt.owner_id
    WHERE bt.status = 'completed'
    ORDER BY bt.strategy_id, bt.finished_at DESC, bt.id
) AS b
WHERE s.id = b.strategy_id
"""


def upgrade() -> None:
    op.add_column("strategies", sa.Column("latest_backtest_id", sa.String(36), nullable=True))
    op.add_column("strategies", sa.Column("latest_metrics", postgresql.JSONB(), nullable=True))
    op.add_column("strategies", sa.Column("latest_finished_at", sa.BigInteger(), nullable=True))
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_column("strategies", "latest_finished_at")
    op.drop_column("strategies", "latest_metrics")
    op.drop_column("strategies", "latest_backtest_id")
