"""Workflows: workflows, immutable versions, runs (unique per scheduled time), node traces, notifications.

Revision ID: 0006_workflows
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006_workflows"
down_revision = "0001_foundation"
branch_labels = ("workflows",)
depends_on = None


def _id() -> sa.Column:
    return sa.Column("id", sa.String(36), primary_key=True)


def _fk(column: str, table: str, target: str, ondelete: str = "CASCADE", nullable: bool = False) -> sa.Column:
    return sa.Column(
        column,
        sa.String(36),
        sa.ForeignKey(f"{target}.id", ondelete=ondelete, name=f"fk_{table}_{column}_{target}"),
        nullable=nullable,
    )


def upgrade() -> None:
    op.create_table(
        "workflows",
        _id(),
        _fk("owner_id", "workflows", "users"),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("symbol", sa.String(32)),
        sa.Column("current_version_id", sa.String(36)),
        sa.Column("version", sa.Integer, nullable=False, server_default="0"),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("enabled_at", sa.BigInteger),
        sa.Column("last_scheduled_at", sa.BigInteger),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_workflows_owner_updated", "workflows", ["owner_id", "updated_at"])
    op.create_index("ix_workflows_enabled", "workflows", ["enabled"])
    op.create_table(
        "workflow_versions",
        _id(),
        _fk("workflow_id", "workflow_versions", "workflows"),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("graph", postgresql.JSONB, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("workflow_id", "version", name="uq_workflow_versions_number"),
    )
    op.create_table(
        "workflow_runs",
        _id(),
        _fk("workflow_id", "workflow_runs", "workflows"),
        _fk("version_id", "workflow_runs", "workflow_versions"),
        _fk("owner_id", "workflow_runs", "users"),
        _fk("job_id", "workflow_runs", "jobs", ondelete="SET NULL", nullable=True),
        sa.Column("trigger", sa.String(12), nullable=False),
        sa.Column("scheduled_at", sa.BigInteger),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("started_at", sa.BigInteger),
        sa.Column("finished_at", sa.BigInteger),
        sa.UniqueConstraint("workflow_id", "scheduled_at", name="uq_workflow_runs_scheduled"),
        sa.UniqueConstraint("job_id", name="uq_workflow_runs_job_id"),
    )
    op.create_index("ix_workflow_runs_workflow_created", "workflow_runs", ["workflow_id", "created_at"])
    op.create_table(
        "workflow_node_runs",
        _id(),
        _fk("run_id", "workflow_node_runs", "workflow_runs"),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("node_id", sa.String(200), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("inputs", postgresql.JSONB, nullable=False),
        sa.Column("outputs", postgresql.JSONB, nullable=False),
        sa.Column("decision", sa.Text),
        sa.Column("duration_ms", sa.Float, nullable=False),
        sa.Column("error", sa.Text),
        sa.UniqueConstraint("run_id", "node_id", name="uq_workflow_node_runs_node"),
    )
    op.create_table(
        "workflow_notifications",
        _id(),
        _fk("owner_id", "workflow_notifications", "users"),
        _fk("workflow_id", "workflow_notifications", "workflows"),
        _fk("run_id", "workflow_notifications", "workflow_runs"),
        sa.Column("node_id", sa.String(200), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("run_id", "node_id", name="uq_workflow_notifications_node"),
    )
    op.create_index(
        "ix_workflow_notifications_owner_created", "workflow_notifications", ["owner_id", "created_at"]
    )


def downgrade() -> None:
    for table in (
        "workflow_notifications",
        "workflow_node_runs",
        "workflow_runs",
        "workflow_versions",
        "workflows",
    ):
        op.drop_table(table)
