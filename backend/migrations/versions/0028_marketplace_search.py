"""Marketplace: trigram indexes for the browse search (`q` over name and description).

``q`` is a substring match (ILIKE '%q%'), which a b-tree cannot serve; pg_trgm's GIN operator class
can (patterns of three or more characters), so a search no longer reads every listing. pg_trgm is
a contrib extension shipped with PostgreSQL (and trusted since 13: a database owner may create it).

Revision ID: 0028_marketplace_search
Revises: 0024_marketplace
"""

from __future__ import annotations

from alembic import op

revision = "0028_marketplace_search"
down_revision = "0024_marketplace"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in ("name", "description"):
        op.create_index(
            f"ix_marketplace_listings_{column}_trgm",
            "marketplace_listings",
            [column],
            postgresql_using="gin",
            postgresql_ops={column: "gin_trgm_ops"},
        )


def downgrade() -> None:
    for column in ("name", "description"):
        op.drop_index(f"ix_marketplace_listings_{column}_trgm", table_name="marketplace_listings")
    # the extension stays: other objects may use it, and dropping it needs more rights than creating
