"""Users: profile fields (bio, timezone, locale), the onboarding flag and account tombstones.

Revision ID: 0019_users_account
Revises: 0001_foundation (a new branch, `users`)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_users_account"
down_revision = "0001_foundation"
branch_labels = ("users",)
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("bio", sa.String(500)))
    op.add_column("users", sa.Column("timezone", sa.String(64)))
    op.add_column("users", sa.Column("locale", sa.String(35)))
    op.add_column("users", sa.Column("onboarding_completed_at", sa.BigInteger))
    op.add_column("users", sa.Column("deleted_at", sa.BigInteger))


def downgrade() -> None:
    for column in ("deleted_at", "onboarding_completed_at", "locale", "timezone", "bio"):
        op.drop_column("users", column)
