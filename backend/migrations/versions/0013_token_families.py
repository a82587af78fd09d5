"""Core: token families, the record of login sessions and their revocations (ADR 0008).

Redis only caches these rows now; a token is accepted while its family row is live. Tokens issued
before this revision have no row and stop working: their users log in once more.

Revision ID: 0013_token_families
Revises: 0008_jobs_subject
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_token_families"
down_revision = "0008_jobs_subject"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "token_families",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column(
            "user_id",
            sa.String(36),
            sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_token_families_user_id_users"),
            nullable=False,
        ),
        sa.Column("refresh_jti", sa.String(36), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("revoked_at", sa.BigInteger),
        sa.Column("revoked_reason", sa.String(20)),
        sa.PrimaryKeyConstraint("id", name="pk_token_families"),
    )
    op.create_index("ix_token_families_user_id", "token_families", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_token_families_user_id", table_name="token_families")
    op.drop_table("token_families")
