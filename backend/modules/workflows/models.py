"""Workflow tables: workflows, their immutable versions, runs, per-node run traces, notifications."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.core.db import new_id, now_ms
from backend.core.jobs import Job
from backend.extensions import Model

MANUAL, CRON = "manual", "cron"


class Workflow(Model):
    """A user's workflow: its name, current version and whether its cron triggers are enabled."""

    __tablename__ = "workflows"
    __table_args__ = (
        Index("ix_workflows_owner_updated", "owner_id", "updated_at"),
        Index("ix_workflows_enabled", "enabled"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    symbol: Mapped[str | None] = mapped_column(String(32))  # default for data/action nodes without one
    current_version_id: Mapped[str | None] = mapped_column(String(36))
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    enabled_at: Mapped[int | None] = mapped_column(BigInteger)  # cron runs are due only after this
    last_scheduled_at: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False, default=now_ms)
    updated_at: Mapped[int] = mapped_column(BigInteger, nullable=False, default=now_ms)


class WorkflowVersion(Model):
    """One saved graph; never updated (a save with a different content hash adds a version)."""

    __tablename__ = "workflow_versions"
    __table_args__ = (UniqueConstraint("workflow_id", "version", name="uq_workflow_versions_number"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workflow_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("workflows.id", ondelete="CASCADE"), nullable=False
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    graph: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False, default=now_ms)


class WorkflowRun(Model):
    """One run of a workflow version; a cron run is unique per (workflow, scheduled time)."""

    __tablename__ = "workflow_runs"
    __table_args__ = (
        UniqueConstraint("workflow_id", "scheduled_at", name="uq_workflow_runs_scheduled"),
        UniqueConstraint("job_id", name="uq_workflow_runs_job_id"),
        Index("ix_workflow_runs_workflow_created", "workflow_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workflow_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("workflows.id", ondelete="CASCADE"), nullable=False
    )
    version_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("workflow_versions.id", ondelete="CASCADE"), nullable=False
    )
    owner_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    # The job is the run's status record; deleting it (a submit the broker refused) deletes the run.
    # Nullable only because a cron run is inserted (unique per scheduled time) before its job.
    job_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("jobs.id", ondelete="CASCADE"))
    job: Mapped[Job | None] = relationship(Job, lazy="joined")
    trigger: Mapped[str] = mapped_column(String(12), nullable=False, default=MANUAL)
    scheduled_at: Mapped[int | None] = mapped_column(BigInteger)  # cron runs only (NULLs never collide)
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False, default=now_ms)
    started_at: Mapped[int | None] = mapped_column(BigInteger)
    finished_at: Mapped[int | None] = mapped_column(BigInteger)


class WorkflowNodeRun(Model):
    """The trace of one node in one run."""

    __tablename__ = "workflow_node_runs"
    __table_args__ = (UniqueConstraint("run_id", "node_id", name="uq_workflow_node_runs_node"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    run_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("workflow_runs.id", ondelete="CASCADE"), nullable=False
    )
    seq: Mapped[int] = mapped_column(Integer, nullable=False)  # position in the run order
    node_id: Mapped[str] = mapped_column(String(200), nullable=False)
    status: Mapped[str] = mapped_column(String(12), nullable=False)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    outputs: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    decision: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    error: Mapped[str | None] = mapped_column(Text)


class WorkflowNotification(Model):
    """A message recorded by a ``notify`` action (one per run and node)."""

    __tablename__ = "workflow_notifications"
    __table_args__ = (
        UniqueConstraint("run_id", "node_id", name="uq_workflow_notifications_node"),
        Index("ix_workflow_notifications_owner_created", "owner_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    workflow_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("workflows.id", ondelete="CASCADE"), nullable=False
    )
    run_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("workflow_runs.id", ondelete="CASCADE"), nullable=False
    )
    node_id: Mapped[str] = mapped_column(String(200), nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False, default=now_ms)
