"""Backtests: round trips stored as inline blocks of about 8 KB (`backtest_trade_blocks`, ADR 0017).

Replaces `backtest_trade_columns` (one value per result, out of line in 2 KB TOAST chunks). Each
block holds up to ``BLOCK_TRADES`` consecutive round trips, column after column in the layout
below (the same as ``backend.modules.backtests.trade_store.LAYOUT`` and ``BLOCK_TRADES``; copied
here so the migration does not change when the module does), ``STORAGE PLAIN``: one block is one
heap tuple of at most ~8,000 bytes, so a result of n trades is ~n / 87 tuples instead of
~n / 22 TOAST chunks, each with its index entry and WAL record.

Existing values move in SQL: every block is the concatenation of its columns' ``substring``s of the
old value (Postgres reads only the TOAST chunks each covers). A result without round trips keeps
one empty block (``count`` 0), so it still reads as stored. The downgrade joins the blocks back
into one value per result, column by column in ``first`` order.

Revision ID: 0033_backtest_trade_blocks
Revises: 0032_resultio_result_wire_json
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0033_backtest_trade_blocks"
down_revision = "0032_resultio_result_wire_json"
branch_labels = None
depends_on = None

# (column, item size in bytes), in storage order: trade_store.LAYOUT as of this revision.
LAYOUT = (
    ("entry_index", 8),
    ("exit_index", 8),
    ("entry_time", 8),
    ("exit_time", 8),
    ("entry_price", 8),
    ("exit_price", 8),
    ("quantity", 8),
    ("pnl", 8),
    ("fees", 8),
    ("return_pct", 8),
    ("holding_ms", 8),
    ("side", 1),
    ("closed_at_end", 1),
)
BLOCK_TRADES = 7_900 // sum(size for _, size in LAYOUT)  # trade_store.BLOCK_TRADES: 87


def _offsets() -> list[tuple[int, int]]:
    """Return (bytes per trade before the column, item size) of each column."""
    out, before = [], 0
    for _, size in LAYOUT:
        out.append((before, size))
        before += size
    return out


def upgrade() -> None:
    op.create_table(
        "backtest_trade_blocks",
        sa.Column("backtest_id", sa.String(36), nullable=False),
        sa.Column("first", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("backtest_id", "first", name="pk_backtest_trade_blocks"),
        sa.ForeignKeyConstraint(
            ["backtest_id"],
            ["backtests.id"],
            ondelete="CASCADE",
            name="fk_backtest_trade_blocks_backtest_id_backtests",
        ),
    )
    # Inline and uncompressed: a block is one heap tuple, never TOASTed (it is below a page).
    op.execute("ALTER TABLE backtest_trade_blocks ALTER COLUMN data SET STORAGE PLAIN")
    # Block b of a value of n round trips: trades [b.first, b.first + k), k = least(K, n - first);
    # column c's part is `substring(data from n * before(c) + first * size(c) + 1 for k * size(c))`.
    k = f"least({BLOCK_TRADES}, c.count - b.first)"
    parts = " || ".join(
        f"substring(c.data from c.count * {before} + b.first * {size} + 1 for {k} * {size})"
        for before, size in _offsets()
    )
    op.execute(
        "INSERT INTO backtest_trade_blocks (backtest_id, first, count, total, data) "
        f"SELECT c.backtest_id, b.first, {k}, c.count, {parts} "
        "FROM backtest_trade_columns c "
        f"CROSS JOIN LATERAL generate_series(0, greatest(c.count - 1, 0), {BLOCK_TRADES}) AS b(first)"
    )
    op.drop_table("backtest_trade_columns")


def downgrade() -> None:
    op.create_table(
        "backtest_trade_columns",
        sa.Column("backtest_id", sa.String(36), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("backtest_id", name="pk_backtest_trade_columns"),
        sa.ForeignKeyConstraint(
            ["backtest_id"],
            ["backtests.id"],
            ondelete="CASCADE",
            name="fk_backtest_trade_columns_backtest_id_backtests",
        ),
    )
    op.execute("ALTER TABLE backtest_trade_columns ALTER COLUMN data SET STORAGE EXTERNAL")
    columns = " || ".join(
        f"string_agg(substring(data from count * {before} + 1 for count * {size}), ''::bytea ORDER BY first)"
        for before, size in _offsets()
    )
    op.execute(
        "INSERT INTO backtest_trade_columns (backtest_id, count, data) "
        f"SELECT backtest_id, max(total), {columns} FROM backtest_trade_blocks GROUP BY backtest_id"
    )
    op.drop_table("backtest_trade_blocks")
