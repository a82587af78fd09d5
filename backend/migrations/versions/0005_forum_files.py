"""Forum (posts, comments, likes, favorites, tips, follows) and files.

Revision ID: 0005_forum_files
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005_forum_files"
down_revision = "0001_foundation"
branch_labels = ("forum", "files")
depends_on = None

MONEY = sa.Numeric(28, 10)


def _user_fk(column: str, table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["users.id"], ondelete="CASCADE", name=f"fk_{table}_{column}_users"
    )


def _post_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["post_id"], ["posts.id"], ondelete="CASCADE", name=f"fk_{table}_post_id_posts"
    )


def upgrade() -> None:
    op.create_table(
        "posts",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("author_id", sa.String(36), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("tags", postgresql.ARRAY(sa.String(32)), nullable=False),
        sa.Column("likes_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("comments_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("tips_total", MONEY, nullable=False, server_default="0"),
        sa.Column("attachment_kind", sa.String(16), nullable=True),
        sa.Column("attachment_id", sa.String(36), nullable=True),
        sa.Column("attachment_kpis", postgresql.JSONB(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_posts"),
        _user_fk("author_id", "posts"),
        sa.CheckConstraint("likes_count >= 0", name="likes_nonneg"),
        sa.CheckConstraint("comments_count >= 0", name="comments_nonneg"),
        sa.CheckConstraint("tips_total >= 0", name="tips_nonneg"),
        sa.CheckConstraint("attachment_kind IN ('backtest', 'strategy')", name="attachment_kind"),
    )
    op.create_index("ix_posts_created_at", "posts", ["created_at"])
    op.create_index("ix_posts_author_created", "posts", ["author_id", "created_at"])
    op.create_index("ix_posts_tags", "posts", ["tags"], postgresql_using="gin")

    op.create_table(
        "comments",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("post_id", sa.String(36), nullable=False),
        sa.Column("author_id", sa.String(36), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_comments"),
        _post_fk("comments"),
        _user_fk("author_id", "comments"),
    )
    op.create_index("ix_comments_post_created", "comments", ["post_id", "created_at"])

    op.create_table(
        "likes",
        sa.Column("post_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("post_id", "user_id", name="pk_likes"),
        _post_fk("likes"),
        _user_fk("user_id", "likes"),
    )

    op.create_table(
        "favorites",
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("post_id", sa.String(36), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "post_id", name="pk_favorites"),
        _post_fk("favorites"),
        _user_fk("user_id", "favorites"),
    )
    op.create_index("ix_favorites_post_id", "favorites", ["post_id"])

    op.create_table(
        "tips",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("post_id", sa.String(36), nullable=False),
        sa.Column("tipper_id", sa.String(36), nullable=False),
        sa.Column("recipient_id", sa.String(36), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tips"),
        _post_fk("tips"),
        _user_fk("tipper_id", "tips"),
        _user_fk("recipient_id", "tips"),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
    )
    op.create_index("ix_tips_post_id", "tips", ["post_id"])

    op.create_table(
        "follows",
        sa.Column("follower_id", sa.String(36), nullable=False),
        sa.Column("followee_id", sa.String(36), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("follower_id", "followee_id", name="pk_follows"),
        _user_fk("follower_id", "follows"),
        _user_fk("followee_id", "follows"),
        sa.CheckConstraint("follower_id <> followee_id", name="not_self"),
    )
    op.create_index("ix_follows_followee_id", "follows", ["followee_id"])

    op.create_table(
        "files",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("owner_id", sa.String(36), nullable=False),
        sa.Column("original_name", sa.String(255), nullable=False),
        sa.Column("stored_name", sa.String(80), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_files"),
        _user_fk("owner_id", "files"),
        sa.UniqueConstraint("stored_name", name="uq_files_stored_name"),
    )
    op.create_index("ix_files_owner_created", "files", ["owner_id", "created_at"])


def downgrade() -> None:
    op.drop_table("files")
    op.drop_table("follows")
    op.drop_table("tips")
    op.drop_table("favorites")
    op.drop_table("likes")
    op.drop_table("comments")
    op.drop_table("posts")
