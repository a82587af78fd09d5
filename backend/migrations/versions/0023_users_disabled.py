"""Users: a disabled flag (`users.disabled_at`), set by the admin console.

A disabled user cannot log in or refresh; disabling also revokes every session (docs/admin.md).
Merge note: the accounts branch starts the `users` branch label (0019_users_account); once both
are in, this revision's down_revision becomes that one (no label of its own, so the two never clash).

Revision ID: 0023_users_disabled
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023_users_disabled"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("disabled_at", sa.BigInteger))


def downgrade() -> None:
    op.drop_column("users", "disabled_at")
