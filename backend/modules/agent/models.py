"""Agent tables: one row per audit (its target and result; its status is its job's)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.core.db import new_id, now_ms
from backend.core.jobs import Job
from backend.extensions import Model

TARGET_KINDS = ("backtest", "strategy", "bot", "statements", "file")


class Audit(Model):
    """An audit of one target, owned by the user who asked for it."""

    __tablename__ = "agent_audits"
    __table_args__ = (
        Index("ix_agent_audits_owner_created", "owner_id", "created_at"),
        Index("ix_agent_audits_job_id", "job_id"),
        CheckConstraint(
            "target_kind IN ('backtest', 'strategy', 'bot', 'statements', 'file')", name="target_kind"
        ),
        CheckConstraint("score IS NULL OR (score >= 0 AND score <= 100)", name="score"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    # The job is the audit's status record; deleting it (a refused submit) deletes the audit.
    job_id: Mapped[str] = mapped_column(String(36), ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False)
    job: Mapped[Job] = relationship(Job, lazy="joined", innerjoin=True)
    target_kind: Mapped[str] = mapped_column(String(16), nullable=False)
    target_id: Mapped[str | None] = mapped_column(String(36))
    symbol: Mapped[str | None] = mapped_column(String(32))
    question: Mapped[str | None] = mapped_column(Text)
    input: Mapped[dict[str, Any] | None] = mapped_column(JSONB)  # statements, parsed at submit
    score: Mapped[int | None] = mapped_column(Integer)
    findings: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    narrative: Mapped[dict[str, Any] | None] = mapped_column(JSONB)  # {summary, recommendations} sentences
    narrative_source: Mapped[str | None] = mapped_column(String(16))  # llm | deterministic
    memories_used: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    notes: Mapped[list[str] | None] = mapped_column(JSONB)
    model: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False, default=now_ms)
    finished_at: Mapped[int | None] = mapped_column(BigInteger)


class MemoryErasure(Model):
    """A deleted account whose memories (in Mem0/Qdrant, outside Postgres) are still to be erased.

    Written in the account deletion's transaction, deleted once the erasure succeeded: so an
    erasure that fails (the store unreachable) is retried until it succeeds (`account.py`).
    """

    __tablename__ = "agent_memory_erasures"
    __table_args__ = (Index("ix_agent_memory_erasures_next_at", "next_at"),)

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)  # no FK: the user is gone
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False, default=now_ms)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_at: Mapped[int] = mapped_column(BigInteger, nullable=False)  # Unix ms: due from then
    last_error: Mapped[str | None] = mapped_column(String(200))
