"""Backtests: a result's round trips as one columnar value (`backtest_trade_columns`, ADR 0009).

Replaces `backtest_trades` (one row per round trip). Existing rows move: each backtest's trades,
in ``seq`` order, become one `backtest_trade_columns` row holding the columns one after the other
(layout below, the same as ``backend.modules.backtests.trade_store.LAYOUT``; copied here so the
migration does not change when the module does). Money read back from NUMERIC(28,10) goes in as
the nearest float64, whose shortest repr is the stored decimal for values of up to 15 significant
digits (prices and amounts of the mock and exchange data). The round trip ids of moved rows
become the derived ones (backtest id prefix + seq), as rows written since the COPY path already had.
The downgrade writes the rows back.

Revision ID: 0022_backtest_trade_columns
Revises: 0018_backtest_fingerprint
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import sqlalchemy as sa
from alembic import op

revision = "0022_backtest_trade_columns"
down_revision = "0018_backtest_fingerprint"
branch_labels = None
depends_on = None

LAYOUT = (
    ("entry_index", "<i8"),
    ("exit_index", "<i8"),
    ("entry_time", "<i8"),
    ("exit_time", "<i8"),
    ("entry_price", "<f8"),
    ("exit_price", "<f8"),
    ("quantity", "<f8"),
    ("pnl", "<f8"),
    ("fees", "<f8"),
    ("return_pct", "<f8"),
    ("holding_ms", "<i8"),
    ("side", "i1"),
    ("closed_at_end", "u1"),
)
NAMES = [name for name, _ in LAYOUT]
MONEY = sa.Numeric(28, 10)
MONEY_NAMES = ("entry_price", "exit_price", "quantity", "pnl", "fees", "return_pct")


def _create_columns_table() -> None:
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
    # Uncompressed out-of-line storage: substring() then reads only the chunks a page needs.
    op.execute("ALTER TABLE backtest_trade_columns ALTER COLUMN data SET STORAGE EXTERNAL")


def _create_rows_table() -> None:
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
        *(sa.Column(name, MONEY, nullable=False) for name in MONEY_NAMES),
        sa.Column("holding_ms", sa.BigInteger(), nullable=False),
        sa.Column("closed_at_end", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("id", name="pk_backtest_trades"),
        sa.ForeignKeyConstraint(
            ["backtest_id"],
            ["backtests.id"],
            ondelete="CASCADE",
            name="fk_backtest_trades_backtest_id_backtests",
        ),
        sa.CheckConstraint("side IN ('long', 'short')", name="ck_backtest_trades_side"),
    )
    op.create_index("ix_backtest_trades_backtest_seq", "backtest_trades", ["backtest_id", "seq"], unique=True)


def upgrade() -> None:
    _create_columns_table()
    bind = op.get_bind()
    ids = bind.execute(sa.text("SELECT DISTINCT backtest_id FROM backtest_trades")).scalars().all()
    select_rows = sa.text(
        "SELECT side, entry_index, exit_index, entry_time, exit_time, entry_price, exit_price, quantity, "
        "pnl, fees, return_pct, holding_ms, closed_at_end FROM backtest_trades "
        "WHERE backtest_id = :id ORDER BY seq"
    )
    insert = sa.text("INSERT INTO backtest_trade_columns (backtest_id, count, data) VALUES (:id, :n, :data)")
    for backtest_id in ids:
        rows = bind.execute(select_rows, {"id": backtest_id}).mappings().all()
        columns = {
            **{name: [r[name] for r in rows] for name in NAMES},
            "side": [1 if r["side"] == "long" else -1 for r in rows],
            **{name: [float(r[name]) for r in rows] for name in MONEY_NAMES},
        }
        data = b"".join(np.asarray(columns[name], dtype=t).tobytes() for name, t in LAYOUT)
        bind.execute(insert, {"id": backtest_id, "n": len(rows), "data": data})
    op.drop_table("backtest_trades")


def downgrade() -> None:
    _create_rows_table()
    bind = op.get_bind()
    stored = bind.execute(sa.text("SELECT backtest_id, count, data FROM backtest_trade_columns")).all()
    insert = sa.text(
        "INSERT INTO backtest_trades (id, backtest_id, seq, side, entry_index, exit_index, entry_time, "
        "exit_time, entry_price, exit_price, quantity, pnl, fees, return_pct, holding_ms, closed_at_end) "
        "VALUES (:id, :backtest_id, :seq, :side, :entry_index, :exit_index, :entry_time, :exit_time, "
        ":entry_price, :exit_price, :quantity, :pnl, :fees, :return_pct, :holding_ms, :closed_at_end)"
    )
    for backtest_id, n, data in stored:
        view, at, columns = memoryview(bytes(data)), 0, {}
        for name, t in LAYOUT:
            size = np.dtype(t).itemsize * n
            columns[name] = np.frombuffer(view[at : at + size], dtype=t).tolist()
            at += size
        params = [
            {
                "id": f"{backtest_id[:24]}{seq:012x}",
                "backtest_id": backtest_id,
                "seq": seq,
                **{name: columns[name][seq] for name in NAMES},
                "side": "long" if columns["side"][seq] > 0 else "short",
                "closed_at_end": bool(columns["closed_at_end"][seq]),
                **{name: Decimal(repr(columns[name][seq])) for name in MONEY_NAMES},
            }
            for seq in range(n)
        ]
        if params:
            bind.execute(insert, params)
    op.drop_table("backtest_trade_columns")
