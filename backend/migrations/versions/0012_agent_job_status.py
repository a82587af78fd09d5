"""Agent audits: the job row is the only status record.

Audits without a job get one (the audit's id); then the mirrored ``status``, ``error_reason`` and
``error`` columns go and ``job_id`` becomes a required reference that cascades.

Revision ID: 0012_agent_job_status
Revises: 0007_agent
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_agent_job_status"
down_revision = "0007_agent"
branch_labels = None
depends_on = ("0008_jobs_subject",)


def upgrade() -> None:
    op.execute("""
        INSERT INTO jobs (id, kind, owner_id, subject_id, status, progress, attempts, error_reason, error,
                          created_at, started_at, heartbeat_at, finished_at)
        SELECT a.id, 'agent.audit', a.owner_id, a.target_id,
               CASE a.status WHEN 'queued' THEN 'PENDING' WHEN 'running' THEN 'RUNNING'
                             WHEN 'completed' THEN 'SUCCESS' ELSE 'FAILED' END,
               CASE WHEN a.status = 'completed' THEN 100 ELSE 0 END, 1, a.error_reason, a.error,
               a.created_at, NULL, a.finished_at, a.finished_at
        FROM agent_audits a WHERE a.job_id IS NULL""")
    op.execute("UPDATE agent_audits SET job_id = id WHERE job_id IS NULL")
    op.drop_constraint(op.f("fk_agent_audits_job_id_jobs"), "agent_audits", type_="foreignkey")
    op.create_foreign_key(
        op.f("fk_agent_audits_job_id_jobs"), "agent_audits", "jobs", ["job_id"], ["id"], ondelete="CASCADE"
    )
    op.alter_column("agent_audits", "job_id", nullable=False)
    for column in ("status", "error_reason", "error"):
        op.drop_column("agent_audits", column)


def downgrade() -> None:
    op.add_column("agent_audits", sa.Column("status", sa.String(12), nullable=False, server_default="queued"))
    op.add_column("agent_audits", sa.Column("error_reason", sa.String(64)))
    op.add_column("agent_audits", sa.Column("error", sa.Text()))
    op.execute("""
        UPDATE agent_audits a SET status = CASE j.status
               WHEN 'PENDING' THEN 'queued' WHEN 'RUNNING' THEN 'running'
               WHEN 'SUCCESS' THEN 'completed' ELSE 'failed' END,
               error_reason = j.error_reason, error = j.error
        FROM jobs j WHERE j.id = a.job_id""")
    op.alter_column("agent_audits", "status", server_default=None)
    op.create_check_constraint(
        "status", "agent_audits", "status IN ('queued', 'running', 'completed', 'failed')"
    )
    op.alter_column("agent_audits", "job_id", nullable=True)
    op.drop_constraint(op.f("fk_agent_audits_job_id_jobs"), "agent_audits", type_="foreignkey")
    op.create_foreign_key(
        op.f("fk_agent_audits_job_id_jobs"), "agent_audits", "jobs", ["job_id"], ["id"], ondelete="SET NULL"
    )
