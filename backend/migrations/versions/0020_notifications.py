"""Notifications: the centre's rows and muted types; workflow notify messages copied into the centre.

Revision ID: 0020_notifications
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_notifications"
down_revision = "0001_foundation"
branch_labels = ("notifications",)
depends_on = ("0006_workflows",)  # the data copy reads workflow_notifications


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "user_id",
            sa.String(36),
            sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_notifications_user_id_users"),
            nullable=False,
        ),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("body", sa.Text),
        sa.Column("link", sa.String(500), nullable=False),
        sa.Column("object_id", sa.String(36)),
        sa.Column("read", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("dedupe_key", sa.String(200)),
        sa.UniqueConstraint("user_id", "dedupe_key", name="uq_notifications_user_id"),
    )
    op.create_index("ix_notifications_user_created", "notifications", ["user_id", "created_at"])
    op.create_index(
        "ix_notifications_unread", "notifications", ["user_id"], postgresql_where=sa.text("NOT read")
    )
    op.create_table(
        "notification_mutes",
        sa.Column(
            "user_id",
            sa.String(36),
            sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_notification_mutes_user_id_users"),
            primary_key=True,
        ),
        sa.Column("type", sa.String(40), primary_key=True),
    )
    # The workflows' notify messages so far join the centre (read: they were shown by the old list).
    op.execute(
        """
        INSERT INTO notifications
            (id, user_id, type, title, body, link, object_id, read, created_at, dedupe_key)
        SELECT n.id, n.owner_id, 'workflow.notify', LEFT('Workflow ' || w.name, 300), n.message,
               '/workflows/runs/' || n.run_id, n.run_id, true, n.created_at,
               LEFT('workflow.notify:' || n.run_id || ':' || n.node_id, 200)
        FROM workflow_notifications n JOIN workflows w ON w.id = n.workflow_id
        ON CONFLICT DO NOTHING
        """
    )


def downgrade() -> None:
    op.drop_table("notification_mutes")
    op.drop_index("ix_notifications_unread", table_name="notifications")
    op.drop_index("ix_notifications_user_created", table_name="notifications")
    op.drop_table("notifications")
