"""Marketplace: listings of published strategies, follows, copies and abuse reports.

Revision ID: 0024_marketplace
Revises: 0001_foundation (depends on 0023_strategy_forks: the tables reference strategies)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0024_marketplace"
down_revision = "0001_foundation"
branch_labels = ("marketplace",)
depends_on = "0023_strategy_forks"


def _strategy_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["strategy_id"], ["strategies.id"], ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "marketplace_listings",
        sa.Column("strategy_id", sa.String(36), nullable=False),
        sa.Column("owner_id", sa.String(36), nullable=False),
        sa.Column("listed", sa.Boolean(), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("hidden_by", sa.String(36), nullable=True),
        sa.Column("hidden_at", sa.BigInteger(), nullable=True),
        sa.Column("sealed", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("interval", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("tags", postgresql.ARRAY(sa.String(32)), nullable=False),
        sa.Column("version_id", sa.String(36), nullable=False),
        sa.Column("backtest_id", sa.String(36), nullable=False),
        sa.Column("kpis", postgresql.JSONB(), nullable=False),
        sa.Column("sharpe", sa.Float(), nullable=True),
        sa.Column("total_return", sa.Float(), nullable=True),
        sa.Column("max_drawdown", sa.Float(), nullable=True),
        sa.Column("total_trades", sa.Integer(), nullable=True),
        sa.Column("copies_count", sa.Integer(), nullable=False),
        sa.Column("followers_count", sa.Integer(), nullable=False),
        sa.Column("published_at", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        _strategy_fk(),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["hidden_by"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("strategy_id"),
    )
    # one partial index per browse sort, in the browse order, over the visible listings only
    for name, column in (
        ("sharpe", "sharpe"),
        ("return", "total_return"),
        ("drawdown", "max_drawdown"),
        ("trades", "total_trades"),
        ("followers", "followers_count"),
        ("copies", "copies_count"),
        ("published", "published_at"),
    ):
        op.create_index(
            f"ix_marketplace_listings_{name}",
            "marketplace_listings",
            [sa.text(f"{column} DESC NULLS LAST"), "strategy_id"],
            postgresql_where=sa.text("listed AND NOT hidden"),
        )
    op.create_index("ix_marketplace_listings_owner", "marketplace_listings", ["owner_id"])
    op.create_table(
        "marketplace_follows",
        sa.Column("strategy_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        _strategy_fk(),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("strategy_id", "user_id"),
    )
    op.create_index("ix_marketplace_follows_user", "marketplace_follows", ["user_id"])
    op.create_table(
        "marketplace_copies",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("strategy_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("copy_id", sa.String(36), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        _strategy_fk(),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["copy_id"], ["strategies.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_marketplace_copies_strategy_user", "marketplace_copies", ["strategy_id", "user_id"])
    op.create_table(
        "marketplace_reports",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("strategy_id", sa.String(36), nullable=False),
        sa.Column("reporter_id", sa.String(36), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("resolved_at", sa.BigInteger(), nullable=True),
        sa.Column("resolved_by", sa.String(36), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        _strategy_fk(),
        sa.ForeignKeyConstraint(["reporter_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["resolved_by"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("strategy_id", "reporter_id", name="uq_marketplace_reports_once"),
    )
    op.create_index("ix_marketplace_reports_status_created", "marketplace_reports", ["status", "created_at"])


def downgrade() -> None:
    op.drop_table("marketplace_reports")
    op.drop_table("marketplace_copies")
    op.drop_table("marketplace_follows")
    op.drop_table("marketplace_listings")
