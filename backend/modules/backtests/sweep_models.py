"""Sweep tables: `sweeps` (the inputs), `sweep_chunks` (the units of work) and `sweep_runs` (results).

A sweep's status is its job's (``backend.core.jobs``). Its runs are split into chunks of
SWEEP_CHUNK_RUNS; a chunk is claimed by one worker at a time (``claimed_at``, refreshed while it
runs), and its runs are written together with ``done_at`` in one transaction. ``sweep_runs`` is
keyed by (sweep, run index), so a chunk delivered twice never stores a run twice, and
``sweeps.chunks_done`` counts a chunk only when its ``done_at`` goes from NULL to set.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.core.db import Money, new_id, now_ms
from backend.core.jobs import Job
from backend.extensions import Model


class Sweep(Model):
    """One parameter sweep: the strategy, data range, broker settings, space and objective."""

    __tablename__ = "sweeps"
    __table_args__ = (
        Index("ix_sweeps_owner_created", "owner_id", "created_at"),
        Index("ix_sweeps_job_id", "job_id"),
        CheckConstraint("end_ms > start_ms", name="range"),
        CheckConstraint("method IN ('grid', 'random')", name="method"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    job_id: Mapped[str] = mapped_column(String(36), ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False)
    job: Mapped[Job] = relationship(Job, lazy="joined", innerjoin=True)
    strategy_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("strategies.id", ondelete="SET NULL")
    )
    strategy_version_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("strategy_versions.id", ondelete="SET NULL")
    )
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)  # the base
    symbol: Mapped[str] = mapped_column(String(32), nullable=False)
    interval: Mapped[str] = mapped_column(String(8), nullable=False)
    start_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    end_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    provider: Mapped[str] = mapped_column(String(16), nullable=False, default="auto")
    initial_capital: Mapped[Decimal] = mapped_column(Money, nullable=False)
    fee_bps: Mapped[Decimal] = mapped_column(Money, nullable=False, default=Decimal(0))
    slippage_bps: Mapped[Decimal] = mapped_column(Money, nullable=False, default=Decimal(0))
    allow_short: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    engine_version: Mapped[str] = mapped_column(String(16), nullable=False)
    space: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    method: Mapped[str] = mapped_column(String(8), nullable=False)
    samples: Mapped[int | None] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    objective: Mapped[str] = mapped_column(String(40), nullable=False)
    maximize: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    total_runs: Mapped[int] = mapped_column(Integer, nullable=False)
    chunk_runs: Mapped[int] = mapped_column(Integer, nullable=False)
    chunks_total: Mapped[int] = mapped_column(Integer, nullable=False)
    chunks_done: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    runs_done: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    guardrails: Mapped[dict[str, Any] | None] = mapped_column(JSONB)  # set when the last chunk completes
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False, default=now_ms)
    finished_at: Mapped[int | None] = mapped_column(BigInteger)


class SweepChunk(Model):
    """Runs ``[first, stop)`` of a sweep: sent, claimed (and heartbeated) by a worker, done."""

    __tablename__ = "sweep_chunks"

    sweep_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("sweeps.id", ondelete="CASCADE"), primary_key=True
    )
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    first: Mapped[int] = mapped_column(Integer, nullable=False)
    stop: Mapped[int] = mapped_column(Integer, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    sent_at: Mapped[int | None] = mapped_column(BigInteger)
    claimed_at: Mapped[int | None] = mapped_column(BigInteger)  # the running worker's heartbeat
    done_at: Mapped[int | None] = mapped_column(BigInteger)


class SweepRun(Model):
    """One run of a sweep: its parameters and every metric, or why it could not run."""

    __tablename__ = "sweep_runs"
    __table_args__ = (Index("ix_sweep_runs_objective", "sweep_id", "objective"),)

    sweep_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("sweeps.id", ondelete="CASCADE"), primary_key=True
    )
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    objective: Mapped[float | None] = mapped_column(Float)  # the sweep's objective KPI, for ordering
    error: Mapped[str | None] = mapped_column(Text)  # e.g. "fast: Must be below slow."
