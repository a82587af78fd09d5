"""Foundation: users, their encrypted API keys, and the jobs table.

Revision ID: 0001_foundation
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_foundation"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("email", sa.String(254)),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("avatar", sa.String(500)),
        sa.Column("level", sa.Integer, nullable=False, server_default="1"),
        sa.Column("is_admin", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_index("uq_users_username_lower", "users", [sa.text("lower(username)")], unique=True)
    op.create_index("uq_users_email_lower", "users", [sa.text("lower(email)")], unique=True)
    op.create_table(
        "user_api_keys",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "user_id",
            sa.String(36),
            sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_user_api_keys_user_id_users"),
            nullable=False,
        ),
        sa.Column("exchange", sa.String(40), nullable=False),
        sa.Column("label", sa.String(100)),
        sa.Column("key_ciphertext", sa.Text, nullable=False),
        sa.Column("secret_ciphertext", sa.Text),
        sa.Column("key_last4", sa.String(4), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("user_id", "exchange", name="uq_user_api_keys_user_id_exchange"),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column(
            "owner_id",
            sa.String(36),
            sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_jobs_owner_id_users"),
        ),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("progress", sa.Integer, nullable=False, server_default="0"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error_reason", sa.String(64)),
        sa.Column("error", sa.Text),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("started_at", sa.BigInteger),
        sa.Column("heartbeat_at", sa.BigInteger),
        sa.Column("finished_at", sa.BigInteger),
    )
    # The reaper scans RUNNING jobs by heartbeat; owners list their jobs.
    op.create_index("ix_jobs_status_heartbeat_at", "jobs", ["status", "heartbeat_at"])
    op.create_index("ix_jobs_owner_id", "jobs", ["owner_id"])


def downgrade() -> None:
    op.drop_table("jobs")
    op.drop_table("user_api_keys")
    op.drop_table("users")
