"""Strategies: forks (marketplace copies) with attribution, and sealed copies whose code is hidden.

`forked_from_strategy_id` / `forked_from_author_id` say where a copy came from (NULL once that
strategy or user is gone); `code_hidden` marks a copy of a sealed python strategy (its code is
returned to no one). Every existing row is an original with visible code.

Revision ID: 0023_strategy_forks
Revises: 0022_backtest_trade_columns
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023_strategy_forks"
down_revision = "0022_backtest_trade_columns"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "strategies", sa.Column("code_hidden", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.alter_column("strategies", "code_hidden", server_default=None)
    op.add_column("strategies", sa.Column("forked_from_strategy_id", sa.String(36), nullable=True))
    op.add_column("strategies", sa.Column("forked_from_author_id", sa.String(36), nullable=True))
    op.create_foreign_key(
        "strategies_forked_from_strategy_id_fkey",
        "strategies",
        "strategies",
        ["forked_from_strategy_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_foreign_key(
        "strategies_forked_from_author_id_fkey",
        "strategies",
        "users",
        ["forked_from_author_id"],
        ["id"],
        ondelete="SET NULL",
    )


def downgrade() -> None:
    op.drop_constraint("strategies_forked_from_author_id_fkey", "strategies", type_="foreignkey")
    op.drop_constraint("strategies_forked_from_strategy_id_fkey", "strategies", type_="foreignkey")
    op.drop_column("strategies", "forked_from_author_id")
    op.drop_column("strategies", "forked_from_strategy_id")
    op.drop_column("strategies", "code_hidden")
