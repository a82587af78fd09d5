"""Core: an index on token_families.expires_at, for the hourly purge of expired sessions.

Revision ID: 0031_token_families_expiry_index
Revises: 0013_token_families
"""

from __future__ import annotations

from alembic import op

revision = "0031_token_families_expiry_index"
down_revision = "0013_token_families"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_token_families_expires_at", "token_families", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_token_families_expires_at", table_name="token_families")
