"""Reproduce a completed backtest: re-run it from its recorded inputs as a job and compare.

Job kind ``backtests.reproduce`` (queue ``backtests``, like the runs). The submit creates the job
and a `backtest_reproductions` row; the work reloads the bars, runs the strategy and the engine
exactly as ``backtests.run`` did (``results.compute``) and compares, stopping at the first
difference, in the order a cause comes before its effects:

1. ``strategy_hash``   the content hash of what the row runs now vs the one stored with the result
2. ``bars_hash``       the bars loaded now vs those the result was computed from
3. ``engine_version``  the running engine vs the one that produced the result
4. ``trade``           trade N (by ``seq``), field by field, as stored (money as NUMERIC(28,10))
5. ``trade_count``     one run has more trades (the common ones being identical)
6. ``metric``          every metric by name, exact equality (as stored in JSONB)
7. ``final_equity``

The outcome, ``{"reproduced": "identical"}`` or ``{"reproduced": "different", "difference":
{...}}``, is stored with the job's SUCCESS. Results stored before fingerprints existed have no
hashes, so steps 1 and 2 are skipped for them (their trades and metrics still decide).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from flask import current_app
from sqlalchemy import func, select

from backend.core import jobs
from backend.core.db import get_owned_or_404, transactional
from backend.core.jobs import Job
from backend.domain.backtest import ENGINE_VERSION
from backend.extensions import db
from backend.modules.backtests import fingerprint, results, trade_store
from backend.modules.backtests.errors import BacktestNotFound, NotCompleted, TooManyActive
from backend.modules.backtests.models import Backtest, BacktestReproduction

logger = logging.getLogger(__name__)

JOB_KIND = "backtests.reproduce"
RUN_KIND = "backtests.run"  # service.JOB_KIND (service imports this module, not the reverse)
LIMITED_KINDS = (RUN_KIND, JOB_KIND)  # both count against BACKTEST_MAX_ACTIVE
IDENTICAL, DIFFERENT = "identical", "different"

# Trade columns compared, in order; money ones are compared as Postgres stores them.
TRADE_FIELDS = (
    "side",
    "entry_index",
    "exit_index",
    "entry_time",
    "exit_time",
    "entry_price",
    "exit_price",
    "quantity",
    "pnl",
    "fees",
    "return_pct",
    "holding_ms",
    "closed_at_end",
)
_MONEY_FIELDS = frozenset(trade_store.MONEY_FIELDS)

Trade = tuple[Any, ...]


@dataclass(frozen=True)
class Submitted:
    """The ids a reproduce submit returns (HTTP 202): its job and the backtest it re-runs."""

    job_id: str
    backtest_id: str


@dataclass(frozen=True)
class Reproduction:
    """A reproduce job's backtest and outcome (None until the job succeeded)."""

    backtest_id: str
    outcome: dict[str, Any] | None


def check_active(actor_id: str) -> None:
    """Refuse new work while the caller has BACKTEST_MAX_ACTIVE runs or reproductions queued or running."""
    limit = int(current_app.config["BACKTEST_MAX_ACTIVE"])
    active = (
        db.session.scalar(
            select(func.count())
            .select_from(Job)
            .where(Job.owner_id == actor_id, Job.kind.in_(LIMITED_KINDS), Job.status.in_(jobs.ACTIVE))
        )
        or 0
    )
    if active >= limit:
        raise TooManyActive(
            details={"limit": "BACKTEST_MAX_ACTIVE", "max": limit, "active": active},
            headers={"Retry-After": "5"},
        )


@transactional
def submit_reproduction(*, actor_id: str, backtest_id: str) -> Submitted:
    """Re-run one of the caller's completed backtests as a job (404 for others', 409 before it completed)."""
    row = get_owned_or_404(Backtest, backtest_id, actor_id=actor_id, error=BacktestNotFound)
    if row.job.status != jobs.SUCCESS:
        raise NotCompleted()
    check_active(actor_id)
    job = jobs.submit(JOB_KIND, owner_id=actor_id, payload={"backtest_id": row.id})
    db.session.add(BacktestReproduction(job_id=job.id, job=job, backtest_id=row.id))
    db.session.flush()
    return Submitted(job_id=job.id, backtest_id=row.id)


def reproduction_of(job: Job) -> Reproduction:
    """Return the backtest and outcome of a reproduce job (the caller checked its owner)."""
    rep = db.session.get_one(BacktestReproduction, job.id)
    return Reproduction(backtest_id=rep.backtest_id, outcome=rep.outcome)


@jobs.job_kind(JOB_KIND)
def reproduce_backtest(ctx: jobs.JobContext) -> None:
    """Re-run the backtest from its recorded inputs and store the first difference (or "identical")."""
    row, stored = _read(ctx.job_id)
    bars = results.load_bars(row)
    done = results.compute(row, bars, progress=ctx.progress)
    ctx.progress(90)
    difference = first_difference(row, stored, done)
    outcome = (
        {"reproduced": IDENTICAL}
        if difference is None
        else {"reproduced": DIFFERENT, "difference": difference}
    )
    _finish(ctx, outcome)


def _read(job_id: str) -> tuple[Backtest, list[Trade]]:
    """Return the job's backtest (detached) and its stored trades; end the read (the work is long)."""
    rep = db.session.get_one(BacktestReproduction, job_id)
    row = db.session.get_one(Backtest, rep.backtest_id)
    trades = trade_store.round_trips(row.id)
    stored = [tuple(getattr(t, name) for name in TRADE_FIELDS) for t in trades]
    db.session.expunge(row)
    db.session.commit()
    return row, stored


@transactional
def _finish(ctx: jobs.JobContext, outcome: dict[str, Any]) -> None:
    db.session.get_one(BacktestReproduction, ctx.job_id).outcome = outcome
    ctx.complete()  # refuses (and rolls the outcome back) if a cancel won the race


# --- comparison ---------------------------------------------------------------------------------


def _as_stored(value: float) -> Decimal:
    """Return an engine float as NUMERIC(28,10) holds it (results writes its shortest repr)."""
    return trade_store.money(value)


def engine_trades(trades: np.ndarray) -> list[Trade]:
    """Return the engine's trade records as stored rows would read back (TRADE_FIELDS order)."""
    columns: list[list[Any]] = []
    for name in TRADE_FIELDS:
        values = trades[name].tolist()
        if name == "side":
            columns.append(["long" if v > 0 else "short" for v in values])
        elif name in _MONEY_FIELDS:
            columns.append([_as_stored(v) for v in values])
        else:
            columns.append(values)
    return list(zip(*columns, strict=True)) if columns and len(trades) else []


def _jsonable(value: Any) -> Any:
    """Return ``value`` as JSON can hold it (Decimal as a number)."""
    return float(value) if isinstance(value, Decimal) else value


def _diff(what: str, stored: Any, reproduced: Any, message: str, **extra: Any) -> dict[str, Any]:
    return {
        "what": what,
        **extra,
        "stored": _jsonable(stored),
        "reproduced": _jsonable(reproduced),
        "message": message,
    }


def _fingerprint_difference(row: Backtest, bars_hash: str) -> dict[str, Any] | None:
    """Return the first difference of the inputs (strategy, bars, engine), None when they match."""
    if row.strategy_hash is not None:
        now = fingerprint.strategy_hash(row)
        if now != row.strategy_hash:
            return _diff("strategy_hash", row.strategy_hash, now, "The strategy's content hash differs.")
    if row.bars_hash is not None and bars_hash != row.bars_hash:
        return _diff(
            "bars_hash", row.bars_hash, bars_hash, "The bars loaded now differ from those the result used."
        )
    if row.engine_version != ENGINE_VERSION:
        return _diff("engine_version", row.engine_version, ENGINE_VERSION, "The engine version differs.")
    return None


def trade_difference(stored: list[Trade], reproduced: list[Trade]) -> dict[str, Any] | None:
    """Return the first differing trade (then a different count), None when every trade matches."""
    for seq, (old, new) in enumerate(zip(stored, reproduced, strict=False)):
        if old == new:
            continue
        field = next(name for name, a, b in zip(TRADE_FIELDS, old, new, strict=True) if a != b)
        at = TRADE_FIELDS.index(field)
        return _diff(
            "trade",
            old[at],
            new[at],
            f"Trade {seq} differs in {field}: stored {old[at]}, reproduced {new[at]}.",
            trade=seq,
            field=field,
        )
    if len(stored) != len(reproduced):
        return _diff(
            "trade_count",
            len(stored),
            len(reproduced),
            f"The stored result has {len(stored)} trades, the re-run {len(reproduced)}.",
        )
    return None


def metric_difference(stored: dict[str, Any], reproduced: dict[str, Any]) -> dict[str, Any] | None:
    """Return the first metric whose value differs (exactly), None when all are equal."""
    reproduced = json.loads(json.dumps(reproduced))  # as JSONB would give it back
    for name in [*reproduced, *(k for k in stored if k not in reproduced)]:
        old, new = stored.get(name), reproduced.get(name)
        if old != new or (name in stored) != (name in reproduced):
            return _diff(
                "metric", old, new, f"Metric {name} differs: stored {old}, reproduced {new}.", metric=name
            )
    return None


def first_difference(row: Backtest, stored: list[Trade], done: results.Computed) -> dict[str, Any] | None:
    """Return the first difference between the stored result and a re-run, None when identical."""
    found = _fingerprint_difference(row, fingerprint.bars_hash(done.bars))
    found = found or trade_difference(stored, engine_trades(done.result.trades))
    found = found or metric_difference(row.metrics or {}, done.metrics)
    if found is None and row.final_equity is not None:
        now = _as_stored(done.result.final_equity)
        if now != row.final_equity:
            found = _diff("final_equity", row.final_equity, now, "The final equity differs.")
    return found
