"""Market data: market_candles (a TimescaleDB hypertable when available) and market_series.

Revision ID: 0002_market
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_market"
down_revision = "0001_foundation"
branch_labels = ("market",)
depends_on = None

MONEY = sa.Numeric(28, 10)
WEEK_MS = 7 * 86_400_000


def upgrade() -> None:
    op.create_table(
        "market_candles",
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("interval", sa.String(8), nullable=False),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.Column("open", MONEY, nullable=False),
        sa.Column("high", MONEY, nullable=False),
        sa.Column("low", MONEY, nullable=False),
        sa.Column("close", MONEY, nullable=False),
        sa.Column("volume", MONEY, nullable=False),
        sa.Column("source", sa.String(8), nullable=False, server_default="import"),
        # The primary key is the unique (symbol, interval, time) index every range query uses.
        sa.PrimaryKeyConstraint("symbol", "interval", "time", name="pk_market_candles"),
        sa.CheckConstraint("source IN ('import', 'mock')", name="source"),
        sa.CheckConstraint("low <= high", name="low_high"),
    )
    op.create_table(
        "market_series",
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("interval", sa.String(8), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("first_time", sa.BigInteger(), nullable=False),
        sa.Column("last_time", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("symbol", "interval", "source", name="pk_market_series"),
    )
    _make_hypertable_if_possible()


def _make_hypertable_if_possible() -> None:
    """Partition by time with TimescaleDB when the server offers it; plain Postgres otherwise."""
    bind = op.get_bind()
    # CREATE EXTENSION only works when the library is preloaded, so check both before trying.
    available = bind.execute(
        sa.text(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb' "
            "AND current_setting('shared_preload_libraries') LIKE '%timescaledb%'"
        )
    ).scalar()
    if not available:
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    op.execute(
        sa.text(
            "SELECT create_hypertable('market_candles', 'time', chunk_time_interval => :chunk, "
            "migrate_data => true)"
        ).bindparams(chunk=WEEK_MS)
    )


def downgrade() -> None:
    op.drop_table("market_series")
    op.drop_table("market_candles")
