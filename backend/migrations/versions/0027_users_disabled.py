"""Users: a disabled flag (`users.disabled_at`), set by the admin console.

A disabled user cannot log in or refresh; disabling also revokes every session (docs/admin.md).

Revision ID: 0027_users_disabled
Revises: 0019_users_account
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027_users_disabled"
down_revision = "0019_users_account"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("disabled_at", sa.BigInteger))


def downgrade() -> None:
    op.drop_column("users", "disabled_at")
