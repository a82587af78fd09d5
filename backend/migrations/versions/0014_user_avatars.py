"""Users: an uploaded avatar is a public file (files.public, users.avatar_file_id).

Revision ID: 0014_user_avatars
Revises: 0005_forum_files
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_user_avatars"
down_revision = "0005_forum_files"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("files", sa.Column("public", sa.Boolean, nullable=False, server_default=sa.false()))
    op.add_column("users", sa.Column("avatar_file_id", sa.String(36)))
    op.create_foreign_key(
        "fk_users_avatar_file_id_files", "users", "files", ["avatar_file_id"], ["id"], ondelete="SET NULL"
    )


def downgrade() -> None:
    op.drop_constraint("fk_users_avatar_file_id_files", "users", type_="foreignkey")
    op.drop_column("users", "avatar_file_id")
    op.drop_column("files", "public")
