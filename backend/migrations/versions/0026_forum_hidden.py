"""Forum: moderators hide posts and comments (`hidden_at`); hidden rows vanish for everyone else.

Revision ID: 0026_forum_hidden
Revises: 0014_user_avatars
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026_forum_hidden"
down_revision = "0014_user_avatars"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("posts", sa.Column("hidden_at", sa.BigInteger))
    op.add_column("comments", sa.Column("hidden_at", sa.BigInteger))


def downgrade() -> None:
    op.drop_column("comments", "hidden_at")
    op.drop_column("posts", "hidden_at")
