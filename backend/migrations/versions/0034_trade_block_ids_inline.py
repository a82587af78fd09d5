"""Backtests: a trade block's ``backtest_id`` kept in its row (``STORAGE PLAIN``), never in TOAST.

A block row is ~8 KB (``data`` is ``STORAGE PLAIN``, ADR 0017), far above the 2 KB at which
Postgres tries to shrink a row. With ``data`` not movable, the toaster moved the next largest
movable value instead: the 36-character ``backtest_id`` (default ``EXTENDED`` storage), a TOAST
row and a TOAST index entry per block, each with its WAL record, for no gain (the row stays as
large). At 1M bars (~225 blocks) that was ~1.4 ms of the trades' COPY (7.1 -> 5.8 ms, 40 COPYs of
1.8 MB on the dev machine's PostgreSQL 15). ``SET STORAGE`` changes how new rows are stored; rows
written before keep their ids in TOAST and read as before (no rewrite: a table of every result's
trades can be large).

Revision ID: 0034_trade_block_ids_inline
Revises: 0033_backtest_trade_blocks
"""

from __future__ import annotations

from alembic import op

revision = "0034_trade_block_ids_inline"
down_revision = "0033_backtest_trade_blocks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE backtest_trade_blocks ALTER COLUMN backtest_id SET STORAGE PLAIN")


def downgrade() -> None:
    op.execute("ALTER TABLE backtest_trade_blocks ALTER COLUMN backtest_id SET STORAGE EXTENDED")
