"""The `jobs` table, its statuses and the errors of the job pattern."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import new_id, now_ms
from backend.core.errors import NotFound
from backend.extensions import Model

PENDING, RUNNING, SUCCESS, FAILED, CANCELLED = "PENDING", "RUNNING", "SUCCESS", "FAILED", "CANCELLED"
ACTIVE = (PENDING, RUNNING)


class Job(Model):
    """A unit of background work and its observable state."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_owner_id", "owner_id"),
        Index("ix_jobs_status_heartbeat_at", "status", "heartbeat_at"),
        Index("ix_jobs_subject_id", "subject_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    owner_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("users.id", ondelete="CASCADE"))
    # What the job is about (e.g. the strategy a backtest runs), so "is anything running on X?"
    # is one indexed query in core, without the asking module knowing who runs jobs.
    subject_id: Mapped[str | None] = mapped_column(String(36))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONB)  # small inputs of the work, if any
    status: Mapped[str] = mapped_column(String(12), nullable=False, default=PENDING)
    progress: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    error_reason: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False, default=now_ms)
    started_at: Mapped[int | None] = mapped_column(BigInteger)
    heartbeat_at: Mapped[int | None] = mapped_column(BigInteger)
    finished_at: Mapped[int | None] = mapped_column(BigInteger)


class JobNotFound(NotFound):
    """Raise when a job id is unknown, of another kind, or belongs to someone else."""

    code = "jobs.not_found"
    default_message = "Job not found."


class JobCancelled(Exception):
    """Raised inside work when its job was cancelled; execute() records CANCELLED."""


class JobFailed(Exception):
    """Raise from work to fail the job with a stable reason and a human message."""

    def __init__(self, message: str, *, reason: str = "job_failed") -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
