"""Backtests: the job row is the only status record.

Backtests without a job (the demo seed ran them in-process) get one, with the backtest's id as
the job id; job kinds take their task's name (``backtest`` -> ``backtests.run``). Then the
mirrored columns go (status, error_reason, error_message, started_at) and ``job_id`` becomes a
required reference that cascades, so deleting a job (a submit the broker refused) deletes its row.

Revision ID: 0010_backtests_job_status
Revises: 0009_strategies_latest_backtest
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_backtests_job_status"
down_revision = "0009_strategies_latest_backtest"
branch_labels = None
depends_on = ("0008_jobs_subject",)

_JOB_STATUS = """CASE b.status WHEN 'queued' THEN 'PENDING' WHEN 'running' THEN 'RUNNING'
    WHEN 'completed' THEN 'SUCCESS' WHEN 'cancelled' THEN 'CANCELLED' ELSE 'FAILED' END"""


def upgrade() -> None:
    op.execute("UPDATE jobs SET kind = 'backtests.run' WHERE kind = 'backtest'")
    op.execute(f"""
        INSERT INTO jobs (id, kind, owner_id, subject_id, status, progress, attempts, error_reason, error,
                          created_at, started_at, heartbeat_at, finished_at)
        SELECT b.id, 'backtests.run', b.owner_id, b.strategy_id, {_JOB_STATUS},
               CASE WHEN b.status = 'completed' THEN 100 ELSE 0 END, 1, b.error_reason, b.error_message,
               b.created_at, b.started_at, b.finished_at, b.finished_at
        FROM backtests b WHERE b.job_id IS NULL""")
    op.execute("UPDATE backtests SET job_id = id WHERE job_id IS NULL")
    op.execute("UPDATE jobs j SET subject_id = b.strategy_id FROM backtests b WHERE b.job_id = j.id")
    op.drop_constraint(op.f("fk_backtests_job_id_jobs"), "backtests", type_="foreignkey")
    op.create_foreign_key(
        op.f("fk_backtests_job_id_jobs"), "backtests", "jobs", ["job_id"], ["id"], ondelete="CASCADE"
    )
    op.alter_column("backtests", "job_id", nullable=False)
    op.drop_index("ix_backtests_status_finished", table_name="backtests")
    for column in ("status", "error_reason", "error_message", "started_at"):  # its CHECK goes with it
        op.drop_column("backtests", column)


def downgrade() -> None:
    op.add_column("backtests", sa.Column("status", sa.String(12), nullable=False, server_default="queued"))
    op.add_column("backtests", sa.Column("error_reason", sa.String(64)))
    op.add_column("backtests", sa.Column("error_message", sa.Text()))
    op.add_column("backtests", sa.Column("started_at", sa.BigInteger()))
    op.execute("""
        UPDATE backtests b SET status = CASE j.status
               WHEN 'PENDING' THEN 'queued' WHEN 'RUNNING' THEN 'running'
               WHEN 'SUCCESS' THEN 'completed' WHEN 'CANCELLED' THEN 'cancelled' ELSE 'failed' END,
               error_reason = j.error_reason, error_message = j.error, started_at = j.started_at
        FROM jobs j WHERE j.id = b.job_id""")
    op.alter_column("backtests", "status", server_default=None)
    op.create_check_constraint(
        op.f("ck_backtests_status"),
        "backtests",
        "status IN ('queued', 'running', 'completed', 'failed', 'cancelled')",
    )
    op.create_index("ix_backtests_status_finished", "backtests", ["status", "finished_at"])
    op.alter_column("backtests", "job_id", nullable=True)
    op.drop_constraint(op.f("fk_backtests_job_id_jobs"), "backtests", type_="foreignkey")
    op.create_foreign_key(
        op.f("fk_backtests_job_id_jobs"), "backtests", "jobs", ["job_id"], ["id"], ondelete="SET NULL"
    )
    op.execute("UPDATE jobs SET kind = 'backtest' WHERE kind = 'backtests.run'")
