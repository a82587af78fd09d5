"""Agent: the memory erasures still owed to deleted accounts (retried until they succeed).

Revision ID: 0029_agent_memory_erasures
Revises: 0012_agent_job_status
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0029_agent_memory_erasures"
down_revision = "0012_agent_job_status"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_memory_erasures",
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_at", sa.BigInteger(), nullable=False),
        sa.Column("last_error", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_index("ix_agent_memory_erasures_next_at", "agent_memory_erasures", ["next_at"])


def downgrade() -> None:
    op.drop_index("ix_agent_memory_erasures_next_at", table_name="agent_memory_erasures")
    op.drop_table("agent_memory_erasures")
