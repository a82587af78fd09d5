"""Workflow runs: the job row is the only status record.

A run whose nodes failed used to be ``failed`` while its job was ``SUCCESS``; such jobs become
``FAILED`` with reason ``node_failed`` and the run's message. Runs without a job get one (the
run's id). Then the mirrored ``status`` and ``error`` columns go, and the job reference cascades.

Revision ID: 0011_workflows_job_status
Revises: 0006_workflows
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_workflows_job_status"
down_revision = "0006_workflows"
branch_labels = None
depends_on = ("0008_jobs_subject",)


def upgrade() -> None:
    op.execute("""
        INSERT INTO jobs (id, kind, owner_id, subject_id, status, progress, attempts, error_reason, error,
                          created_at, started_at, heartbeat_at, finished_at)
        SELECT r.id, 'workflows.run', r.owner_id, r.workflow_id,
               CASE r.status WHEN 'queued' THEN 'PENDING' WHEN 'running' THEN 'RUNNING'
                             WHEN 'succeeded' THEN 'SUCCESS' ELSE 'FAILED' END,
               CASE WHEN r.status = 'succeeded' THEN 100 ELSE 0 END, 1,
               CASE WHEN r.status = 'failed' THEN 'node_failed' END, r.error,
               r.created_at, r.started_at, r.finished_at, r.finished_at
        FROM workflow_runs r WHERE r.job_id IS NULL""")
    op.execute("UPDATE workflow_runs SET job_id = id WHERE job_id IS NULL")
    op.execute("""
        UPDATE jobs j SET status = 'FAILED', error_reason = 'node_failed', error = r.error
        FROM workflow_runs r WHERE r.job_id = j.id AND r.status = 'failed' AND j.status = 'SUCCESS'""")
    op.execute("UPDATE jobs j SET subject_id = r.workflow_id FROM workflow_runs r WHERE r.job_id = j.id")
    op.drop_constraint(op.f("fk_workflow_runs_job_id_jobs"), "workflow_runs", type_="foreignkey")
    op.create_foreign_key(
        "fk_workflow_runs_job_id_jobs", "workflow_runs", "jobs", ["job_id"], ["id"], ondelete="CASCADE"
    )
    op.drop_column("workflow_runs", "status")
    op.drop_column("workflow_runs", "error")


def downgrade() -> None:
    op.add_column(
        "workflow_runs", sa.Column("status", sa.String(12), nullable=False, server_default="queued")
    )
    op.add_column("workflow_runs", sa.Column("error", sa.Text()))
    op.execute("""
        UPDATE workflow_runs r SET status = CASE j.status
               WHEN 'PENDING' THEN 'queued' WHEN 'RUNNING' THEN 'running'
               WHEN 'SUCCESS' THEN 'succeeded' ELSE 'failed' END, error = j.error
        FROM jobs j WHERE j.id = r.job_id""")
    op.alter_column("workflow_runs", "status", server_default=None)
    op.drop_constraint(op.f("fk_workflow_runs_job_id_jobs"), "workflow_runs", type_="foreignkey")
    op.create_foreign_key(
        "fk_workflow_runs_job_id_jobs", "workflow_runs", "jobs", ["job_id"], ["id"], ondelete="SET NULL"
    )
