"""Backtests: the kline and equity curve JSONB compressed with lz4 (where the server has it).

A finished backtest writes about 300 KB of kline and curve JSON; with the default pglz the UPDATE
spent most of its time compressing it (about 8 ms for 2,000 candles and points, against 4 ms with
lz4 at a similar stored size, measured on the dev machine's PostgreSQL 15), and every read of a
result decompresses it. `SET COMPRESSION` only changes how new values are stored (no rewrite;
older rows stay pglz and read as before). A server built without lz4 (the embedded PostgreSQL of
`make dev` on a fresh machine) keeps pglz: its ``default_toast_compression`` lists no lz4.

Revision ID: 0030_backtest_result_lz4
Revises: 0023_strategy_forks
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030_backtest_result_lz4"
down_revision = "0023_strategy_forks"
branch_labels = None
depends_on = None

COLUMNS = ("kline", "equity_curve")


def _has_lz4() -> bool:
    row = op.get_bind().execute(
        sa.text(
            "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"
        )
    )
    return row.first() is not None


def upgrade() -> None:
    if _has_lz4():
        clauses = ", ".join(f"ALTER COLUMN {c} SET COMPRESSION lz4" for c in COLUMNS)
        op.execute(f"ALTER TABLE backtests {clauses}")


def downgrade() -> None:
    if _has_lz4():
        clauses = ", ".join(f"ALTER COLUMN {c} SET COMPRESSION DEFAULT" for c in COLUMNS)
        op.execute(f"ALTER TABLE backtests {clauses}")
