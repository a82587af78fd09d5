"""Backtest tables: `backtests` (one run, its inputs and its stored result), `backtest_trade_blocks`
(its round trips, in columnar blocks of about 8 KB) and `backtest_reproductions`.

A row records everything needed to reproduce the run: strategy version, kind and parameters,
symbol, interval, data range ``[start_ms, end_ms)``, provider, broker settings and engine version.
The stored result is the metrics (JSONB, percents as numbers), the overfitting guardrails and an
optional walk-forward analysis (JSONB), a bounded equity curve and kline (see results.py for the
bounds; ``json`` text in their wire form, ADR 0012) and the round trips (`backtest_trade_blocks`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.core.db import JSONText, Money, TimestampMixin, new_id
from backend.core.jobs import Job
from backend.extensions import Model


class Backtest(TimestampMixin, Model):
    """One backtest run and, once completed, its result."""

    __tablename__ = "backtests"
    __table_args__ = (
        Index("ix_backtests_owner_created", "owner_id", "created_at"),
        Index("ix_backtests_strategy_finished", "strategy_id", "finished_at"),
        Index("ix_backtests_job_id", "job_id"),
        CheckConstraint("end_ms > start_ms", name="range"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    # The job is the run's status record (PENDING..SUCCESS, reason, timings); the row keeps the
    # inputs and the result. Deleting the job (a submit the broker refused) deletes the row.
    job_id: Mapped[str] = mapped_column(String(36), ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False)
    # No merge cascade: the job's work merges the row it read back into its session to store the
    # result (backtests.service._store), and the job's object need not come with it: the runtime
    # writes the job by statement (complete()), which with no object of the job in the session
    # runs built once on the session's connection (see core.jobs.context._COMPLETE).
    job: Mapped[Job] = relationship(Job, lazy="joined", innerjoin=True, cascade="save-update")
    strategy_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("strategies.id", ondelete="SET NULL")
    )
    strategy_version_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("strategy_versions.id", ondelete="SET NULL")
    )
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
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
    bars_count: Mapped[int | None] = mapped_column(Integer)
    final_equity: Mapped[Decimal | None] = mapped_column(Money)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # The chart of the result as the API sends it (JSON text, written once by results.store):
    # [{"time": ms, "value": v}, ...] and
    # [{"time", "open", "high", "low", "close", "volume"[, "signal"]}, ...].
    equity_curve: Mapped[str | None] = mapped_column(JSONText)
    kline: Mapped[str | None] = mapped_column(JSONText)
    finished_at: Mapped[int | None] = mapped_column(BigInteger)  # when the result was stored
    guardrails: Mapped[dict[str, Any] | None] = mapped_column(JSONB)  # PSR, bootstrap, in/out gap
    walk_forward: Mapped[dict[str, Any] | None] = mapped_column(JSONB)  # when the run asked for one
    # The run fingerprint's hashes (fingerprint.py), written with the result: sha256 hex digests.
    strategy_hash: Mapped[str | None] = mapped_column(String(64))
    bars_hash: Mapped[str | None] = mapped_column(String(64))


class BacktestTradeBlock(Model):
    """Consecutive round trips of a backtest's result, columnar (trade_store.py, ADRs 0009 and 0017).

    ``data`` holds round trips ``[first, first + count)``: the engine's trade record columns one
    after the other (``trade_store.LAYOUT``), each ``count`` little-endian values. It is stored
    inline and uncompressed (STORAGE PLAIN, set by the migration): a block is one heap tuple of at
    most ~8 KB. ``total`` is the result's number of round trips, the same on each of its blocks; a
    result without round trips has one empty block.
    """

    __tablename__ = "backtest_trade_blocks"

    backtest_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("backtests.id", ondelete="CASCADE"), primary_key=True
    )
    first: Mapped[int] = mapped_column(Integer, primary_key=True)  # seq of the block's first round trip
    count: Mapped[int] = mapped_column(Integer, nullable=False)  # round trips in the block
    total: Mapped[int] = mapped_column(Integer, nullable=False)  # round trips in the result
    data: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class BacktestReproduction(Model):
    """A re-run of a completed backtest (job kind ``backtests.reproduce``) and its outcome.

    ``outcome`` is ``{"reproduced": "identical"}`` or ``{"reproduced": "different", "difference":
    {...}}`` (reproduce.py), written with the job's SUCCESS; None until then.
    """

    __tablename__ = "backtest_reproductions"
    __table_args__ = (Index("ix_backtest_reproductions_backtest_id", "backtest_id"),)

    job_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True
    )
    job: Mapped[Job] = relationship(Job, lazy="joined", innerjoin=True)
    backtest_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("backtests.id", ondelete="CASCADE"), nullable=False
    )
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
