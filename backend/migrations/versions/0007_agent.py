"""Agent: audits (target, status, findings, cited narrative, memories used).

Revision ID: 0007_agent
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007_agent"
down_revision = "0001_foundation"
branch_labels = ("agent",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_audits",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("owner_id", sa.String(36), nullable=False),
        sa.Column("job_id", sa.String(36), nullable=True),
        sa.Column("target_kind", sa.String(16), nullable=False),
        sa.Column("target_id", sa.String(36), nullable=True),
        sa.Column("symbol", sa.String(32), nullable=True),
        sa.Column("question", sa.Text(), nullable=True),
        sa.Column("input", postgresql.JSONB(), nullable=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("findings", postgresql.JSONB(), nullable=True),
        sa.Column("metrics", postgresql.JSONB(), nullable=True),
        sa.Column("narrative", postgresql.JSONB(), nullable=True),
        sa.Column("narrative_source", sa.String(16), nullable=True),
        sa.Column("memories_used", postgresql.JSONB(), nullable=True),
        sa.Column("notes", postgresql.JSONB(), nullable=True),
        sa.Column("model", sa.String(64), nullable=True),
        sa.Column("error_reason", sa.String(64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_agent_audits"),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], ondelete="CASCADE", name="fk_agent_audits_owner_id_users"
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], ondelete="SET NULL", name="fk_agent_audits_job_id_jobs"
        ),
        sa.CheckConstraint("status IN ('queued', 'running', 'completed', 'failed')", name="status"),
        sa.CheckConstraint(
            "target_kind IN ('backtest', 'strategy', 'bot', 'statements', 'file')", name="target_kind"
        ),
        sa.CheckConstraint("score IS NULL OR (score >= 0 AND score <= 100)", name="score"),
    )
    op.create_index("ix_agent_audits_owner_created", "agent_audits", ["owner_id", "created_at"])
    op.create_index("ix_agent_audits_job_id", "agent_audits", ["job_id"])


def downgrade() -> None:
    op.drop_index("ix_agent_audits_job_id", table_name="agent_audits")
    op.drop_index("ix_agent_audits_owner_created", table_name="agent_audits")
    op.drop_table("agent_audits")
