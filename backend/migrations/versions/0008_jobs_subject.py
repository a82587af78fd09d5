"""Jobs: what a job is about (subject_id) and its small inputs (payload).

The jobs row becomes the only status record of backtests, workflow runs and audits (ADR 0007);
``subject_id`` lets a module ask "is a job running on X?" in one indexed query.

Revision ID: 0008_jobs_subject
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008_jobs_subject"
down_revision = "0001_foundation"
branch_labels = ("core",)
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("subject_id", sa.String(36), nullable=True))
    op.add_column("jobs", sa.Column("payload", postgresql.JSONB(), nullable=True))
    op.create_index("ix_jobs_subject_id", "jobs", ["subject_id"])


def downgrade() -> None:
    op.drop_index("ix_jobs_subject_id", table_name="jobs")
    op.drop_column("jobs", "payload")
    op.drop_column("jobs", "subject_id")
