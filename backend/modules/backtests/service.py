"""Backtests: submit (validate, create the row and its job), the job's work, reads, cancel.

The request validates everything it can synchronously (strategy, parameters, range, bar limit)
so the job only fails for reasons found while running (no data). A backtest records its strategy
version, kind, parameters, data range and engine version, so `rebuild_run` reproduces it exactly.
Its status is its job's (``backend.core.jobs``); the schemas map it to the contract's enums.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from flask import current_app
from sqlalchemy import Select, bindparam, func, select, tuple_
from sqlalchemy.orm import defer

from backend.core import jobs
from backend.core.db import execute_on_connection, get_owned_or_404, looks_like_id, now_ms, transactional
from backend.core.jobs import Job
from backend.core.pagination import Page, paginate
from backend.domain.backtest import ENGINE_VERSION
from backend.domain.backtest.guardrails import SampleGap, gap_from_dict
from backend.domain.backtest.types import BacktestConfig, BacktestResult, Signals
from backend.domain.bars import Bars
from backend.domain.marketdata.intervals import floor_time, interval_ms
from backend.extensions import db
from backend.modules.backtests import reproduce, results, trade_store, walk_forward
from backend.modules.backtests.errors import (
    BacktestNotFound,
    InvalidBacktest,
    NotCancellable,
    TooManyBars,
)
from backend.modules.backtests.models import Backtest
from backend.modules.backtests.read_models import (
    BacktestView,
    EquityPoint,
    Fill,
    Summary,
    backtest_view,
    equity_of,
    fills_of,
    kpis_of,
    summary_of,
)
from backend.modules.backtests.schemas import KpisSchema
from backend.modules.strategies import service as strategies_service

logger = logging.getLogger(__name__)

JOB_KIND = "backtests.run"
DEFAULT_BARS = 1000


@dataclass(frozen=True)
class Submitted:
    """The ids a submit returns (HTTP 202)."""

    job_id: str
    backtest_id: str


@dataclass(frozen=True)
class Definition:
    """What will run: the strategy (optional), its pinned version, kind and parameters."""

    strategy_id: str | None
    version_id: str | None
    kind: str
    params: dict[str, Any]
    name: str
    symbol: str | None
    interval: str | None
    subject_id: str | None = None  # the strategy whose dashboard status the job drives (owner's runs)


def resolve_definition(
    actor_id: str, strategy_id: str | None, strategy: Mapping[str, Any] | None
) -> Definition:
    """Resolve ``strategy_id`` (owned or published, else 404) or an inline ``{kind, params}``."""
    if strategy_id:
        run = strategies_service.get_strategy_for_run(actor_id=actor_id, strategy_id=strategy_id)
        return Definition(
            run.strategy_id,
            run.version_id,
            run.kind,
            run.params,
            run.name,
            run.symbol,
            run.interval,
            run.strategy_id if run.owner_id == actor_id else None,
        )
    if strategy is None:  # pragma: no cover - the schema requires one of the two
        raise InvalidBacktest(fields={"strategy_id": ["Give exactly one of strategy_id or strategy."]})
    kind = strategy["kind"]
    params = strategies_service.validate_definition(kind, strategy.get("params") or {}, actor_id=actor_id)
    return Definition(None, None, kind, params, kind, None, None)


def check_range(interval: str, start: int | None, end: int | None) -> tuple[int, int]:
    """Return ``[start, end)`` in Unix ms (defaults: the last DEFAULT_BARS bars); enforce the bar limit."""
    step = interval_ms(interval)
    end = int(end) if end is not None else floor_time(now_ms(), interval)
    start = int(start) if start is not None else end - DEFAULT_BARS * step
    if end <= start:
        raise InvalidBacktest("The end must be after the start.", fields={"end": ["Must be after start."]})
    limit = int(current_app.config["BACKTEST_MAX_BARS"])
    bars = -(-(end - start) // step)
    if bars > limit:
        raise TooManyBars(
            f"The range holds {bars} {interval} bars; the limit BACKTEST_MAX_BARS is {limit}.",
            fields={"start": [f"At most {limit} bars (BACKTEST_MAX_BARS)."]},
            details={"limit": "BACKTEST_MAX_BARS", "max": limit, "requested": bars},
        )
    return start, end


def _check_active(actor_id: str) -> None:
    """Refuse a new run while the caller has BACKTEST_MAX_ACTIVE runs or reproductions active (429)."""
    reproduce.check_active(actor_id)


def _default_name(strategy_name: str, symbol: str, interval: str) -> str:
    """Return "<strategy> <symbol> <interval>", cut to the column's 200 characters."""
    suffix = f" {symbol} {interval}"
    return strategy_name[: 200 - len(suffix)] + suffix


def _new_row(
    *,
    actor_id: str,
    job: Job,
    d: Definition,
    symbol: str,
    interval: str,
    start: int,
    end: int,
    options: Mapping[str, Any],
) -> Backtest:
    """Return the backtest row of a run (its inputs; the result comes later)."""
    return Backtest(
        owner_id=actor_id,
        job_id=job.id,
        job=job,
        strategy_id=d.strategy_id,
        strategy_version_id=d.version_id,
        name=options.get("name") or _default_name(d.name, symbol, interval),
        kind=d.kind,
        params=d.params,
        symbol=symbol,
        interval=interval,
        start_ms=start,
        end_ms=end,
        provider=options.get("provider") or "auto",
        initial_capital=Decimal(options.get("initial_capital") or 10000),
        fee_bps=Decimal(options.get("fee_bps") or 0),
        slippage_bps=Decimal(options.get("slippage_bps") or 0),
        allow_short=bool(options.get("allow_short", False)),
        engine_version=ENGINE_VERSION,
    )


@transactional
def submit_backtest(
    *,
    actor_id: str,
    strategy_id: str | None = None,
    strategy: Mapping[str, Any] | None = None,
    symbol: str | None = None,
    interval: str | None = None,
    start: int | None = None,
    end: int | None = None,
    **options: Any,
) -> Submitted:
    """Validate the request, create the backtest and its job; the job is enqueued after commit."""
    d = resolve_definition(actor_id, strategy_id, strategy)
    return submit_definition(
        actor_id=actor_id, d=d, symbol=symbol, interval=interval, start=start, end=end, **options
    )


def submit_definition(
    *,
    actor_id: str,
    d: Definition,
    symbol: str | None,
    interval: str | None,
    start: int | None,
    end: int | None,
    **options: Any,
) -> Submitted:
    """Create the backtest of a resolved definition and its job, in the caller's transaction.

    ``submit_backtest`` resolves the definition from the request; a sweep resolves it from one of
    its runs (the pinned version with that run's parameters) to promote it.
    """
    symbol = symbol or d.symbol
    if not symbol:
        raise InvalidBacktest(
            "A symbol is required.", fields={"symbol": ["Missing data for required field."]}
        )
    symbol = strategies_service.known_symbol(symbol)
    interval = interval or d.interval or "1h"
    start, end = check_range(interval, start, end)
    payload = _walk_forward_payload(
        d, options.get("walk_forward"), -(-(end - start) // interval_ms(interval))
    )
    _check_active(actor_id)
    job = jobs.submit(JOB_KIND, owner_id=actor_id, subject_id=d.subject_id, payload=payload)
    row = _new_row(
        actor_id=actor_id,
        job=job,
        d=d,
        symbol=symbol,
        interval=interval,
        start=start,
        end=end,
        options=options,
    )
    db.session.add(row)
    db.session.flush()
    return Submitted(job_id=job.id, backtest_id=row.id)


def _walk_forward_payload(
    d: Definition, request: Mapping[str, Any] | None, bars: int
) -> dict[str, Any] | None:
    """Return the job payload of a walk-forward request (None without one); 422 when it cannot run."""
    if not request:
        return None
    return {"walk_forward": walk_forward.plan(kind=d.kind, params=d.params, request=request, bars=bars)}


@dataclass(frozen=True)
class _JobRow:
    """A job's backtest row and its strategy version's content hash (None: no version), read together."""

    row: Backtest
    pinned_hash: str | None


def _load_row(job_id: str) -> _JobRow:
    """Read the job's backtest row in the claim's transaction (the kind's ``load``)."""
    return _row_of_job(job_id)


# A backtest's steps take milliseconds and complete() refuses a cancelled job (its result rolls
# back), so progress() reads the status at most this often between its writes.
CANCEL_CHECK_EVERY_S = 0.1


@jobs.job_kind(JOB_KIND, load=_load_row, cancel_check_every_s=CANCEL_CHECK_EVERY_S)
def run_backtest(ctx: jobs.JobContext) -> None:
    """Load the bars, run the engine and store the result with the job's SUCCESS (one commit)."""
    loaded = ctx.loaded if isinstance(ctx.loaded, _JobRow) else _row_of_job(ctx.job_id)
    if ctx.loaded is None:
        db.session.commit()  # end the read; the work below takes long
    row = loaded.row
    bars = results.load_bars(row)
    done = results.compute(row, bars, progress=ctx.progress)
    if ctx.payload.get("walk_forward"):
        done = results.with_walk_forward(row, done, ctx.payload["walk_forward"], progress=ctx.progress)
    ctx.progress(95)
    _store(ctx, loaded, done)


# The version's hash (the fingerprint's) with the row: the store then makes no SELECT of it.
# Built once (its cache key too).
_ROW_OF_JOB = select(
    Backtest, strategies_service.version_content_hash_of(Backtest.strategy_version_id)
).where(Backtest.job_id == bindparam("q_job_id"))


def _row_of_job(job_id: str) -> _JobRow:
    found = db.session.execute(_ROW_OF_JOB, {"q_job_id": job_id}).first()
    if found is None:  # pragma: no cover - the row cascades with its job
        raise jobs.JobFailed("The backtest of this job no longer exists.", reason="backtest_missing")
    row, pinned = found
    db.session.expunge(row)  # keep its loaded values without a refresh when the read ends
    # ... and its job's (read with it): the session then holds no object of the job, so the store's
    # complete() runs its UPDATE built once on the session's connection (core.jobs.context._COMPLETE).
    db.session.expunge(row.job)
    return _JobRow(row, pinned)


@transactional
def _store(ctx: jobs.JobContext, loaded: _JobRow, done: results.Computed) -> None:
    # The row as read when the job started (unchanged since: the job owns its result columns),
    # attached again without a SELECT; the UPDATE writes only the columns the result sets.
    row = db.session.merge(loaded.row, load=False)
    # Trades can be stored already only by an earlier attempt of this job (requeued) or with a
    # committed result: otherwise there is nothing to DELETE first.
    replace = ctx.attempt > 1 or row.finished_at is not None
    results.store(row, done, replace_trades=replace, pinned_hash=loaded.pinned_hash)
    ctx.complete()  # refuses (and rolls the result back) if a cancel won the race


# --- reads -------------------------------------------------------------------------------------


def _completed() -> Select[Backtest]:
    """Select backtests whose job succeeded (those with a stored result)."""
    return select(Backtest).join(Job, Job.id == Backtest.job_id).where(Job.status == jobs.SUCCESS)


def _full_view(row: Backtest) -> BacktestView:
    """Return the view of a row with its result: summary, kline, equity curve and the first
    BACKTEST_POLL_TRADES_MAX fills (``trades_total`` counts them all)."""
    cap = int(current_app.config["BACKTEST_POLL_TRADES_MAX"])
    wanted = -(-cap // 2)
    trades, trips = trade_store.read(row.id, 0, wanted)
    return backtest_view(row, trades, trades_total=2 * trips, trades_max=cap)


def get_backtest(*, actor_id: str, backtest_id: str) -> BacktestView:
    """Return one of the caller's backtests with its full result."""
    row = get_owned_or_404(Backtest, backtest_id, actor_id=actor_id, error=BacktestNotFound)
    return _full_view(row)


def list_trades(*, actor_id: str, backtest_id: str, page: int, page_size: int) -> Page[Fill]:
    """Return one page of the fills of one of the caller's backtests, oldest first.

    A page is ``page_size`` fills (two per round trip), read as a range of the stored columns
    (trade_store.read), not OFFSET; a backtest that has not completed has none.
    """
    row = get_owned_or_404(Backtest, backtest_id, actor_id=actor_id, error=BacktestNotFound)
    offset = (page - 1) * page_size
    first = offset // 2  # the round trip holding the page's first fill
    trades, trips = trade_store.read(row.id, first, (offset + page_size + 1) // 2)
    total = 2 * trips
    if offset >= total:
        return Page(items=[], total=total)
    fills = fills_of(trade_store.stored_trades(row.id, trades, first), row.symbol)
    skip = offset - 2 * first
    return Page(items=fills[skip : skip + page_size], total=total)


def list_backtests(
    *,
    actor_id: str,
    page: int,
    page_size: int,
    symbol: str | None = None,
    strategy_id: str | None = None,
    status: str | None = None,
) -> Page[BacktestView]:
    """Return one page of the caller's backtests, newest first (optional filters; status is a job status)."""
    # A list shows the summary only: the chart columns (the bulk of a row's JSONB) stay unread.
    unread = (defer(Backtest.kline, raiseload=True), defer(Backtest.equity_curve, raiseload=True))
    stmt = select(Backtest).options(*unread).where(Backtest.owner_id == actor_id)
    for column, value in ((Backtest.symbol, symbol), (Backtest.strategy_id, strategy_id)):
        if value is not None:
            stmt = stmt.where(column == value)
    if status is not None:
        stmt = stmt.join(Job, Job.id == Backtest.job_id).where(Job.status == status)
    result = paginate(stmt.order_by(Backtest.created_at.desc(), Backtest.id), page=page, page_size=page_size)
    return Page(items=[backtest_view(r) for r in result.items], total=result.total)


def _latest(stmt: Select[Backtest]) -> Backtest | None:
    return db.session.scalars(stmt.order_by(Backtest.finished_at.desc(), Backtest.id).limit(1)).first()


def _latest_completed(actor_id: str | None, symbol: str | None) -> Backtest | None:
    base = _completed() if symbol is None else _completed().where(Backtest.symbol == symbol)
    row = _latest(base.where(Backtest.owner_id == actor_id)) if actor_id is not None else None
    if row is None:
        pairs = strategies_service.published_pairs()
        if pairs:
            row = _latest(base.where(tuple_(Backtest.strategy_id, Backtest.owner_id).in_(pairs)))
    return row


def latest_completed(*, actor_id: str | None, symbol: str | None = None) -> BacktestView | None:
    """Return the caller's latest completed backtest, else the latest published one (the showcase)."""
    row = _latest_completed(actor_id, symbol)
    return backtest_view(row) if row is not None else None


def get_latest(*, actor_id: str | None, symbol: str | None = None) -> BacktestView:
    """Return the BacktestLatestResponse of the caller's (or the showcase's) latest completed run."""
    row = _latest_completed(actor_id, symbol)
    if row is None:
        raise BacktestNotFound("No completed backtest yet.")
    return _full_view(row)


@dataclass(frozen=True)
class JobStatus:
    """A backtest job as GET /api/backtests/job/{job_id} shows it (status in the jobs vocabulary)."""

    job_id: str
    backtest_id: str
    status: str
    progress: int
    result: BacktestView | None
    error: dict[str, Any] | None
    reproduced: str | None = None  # a reproduce job's outcome: identical | different
    difference: dict[str, Any] | None = None  # the first difference when ``different``


# The poll's read: the job's state and its backtest's id in one statement built once (its cache
# key too), run on the session's connection as plain rows. A client polls while its job runs, so
# this is most of the endpoint's traffic: a queued or running job's answer needs nothing else.
_JOB_STATE = (
    select(
        Job.kind,
        Job.owner_id,
        Job.status,
        Job.progress,
        Job.error_reason,
        Job.error,
        Backtest.id.label("backtest_id"),
    )
    .outerjoin(Backtest, Backtest.job_id == Job.id)
    .where(Job.id == bindparam("q_job_id"))
)


def get_job_status(*, actor_id: str, job_id: str) -> JobStatus:
    """Return the status, progress and (on success) the result of one of the caller's backtest jobs.

    A reproduce job (``reproduce.JOB_KIND``) has no ``result``; on success it has ``reproduced``.
    Anything else (no such job, another owner's, another kind of job) is BacktestNotFound, as
    ``jobs.get_job`` decides it. One read (``_JOB_STATE``) answers a run that has not succeeded;
    a success then reads its backtest row (by its id) and result, a reproduce job its outcome.
    """
    state = execute_on_connection(_JOB_STATE, {"q_job_id": job_id}).first() if looks_like_id(job_id) else None
    if (
        state is None
        or (state.owner_id is not None and state.owner_id != actor_id)  # as jobs.get_job
        or state.kind not in (JOB_KIND, reproduce.JOB_KIND)
    ):
        raise BacktestNotFound("Backtest job not found.")
    if state.kind == reproduce.JOB_KIND:
        try:
            return _reproduction_status(jobs.get_job(job_id=job_id, owner_id=actor_id))
        except jobs.JobNotFound:  # deleted since the read
            raise BacktestNotFound("Backtest job not found.") from None
    result = None
    if state.status == jobs.SUCCESS:
        row = db.session.get(Backtest, state.backtest_id) if state.backtest_id is not None else None
        if row is None:  # deleted since the read (a backtest's job goes with it)
            raise BacktestNotFound("Backtest job not found.")
        result = _full_view(row)
    elif state.backtest_id is None:  # pragma: no cover - the row cascades with its job
        raise BacktestNotFound("Backtest job not found.")
    return JobStatus(
        job_id=job_id,
        backtest_id=state.backtest_id,
        status=state.status,
        progress=state.progress,
        result=result,
        error={"reason": state.error_reason, "message": state.error} if state.error_reason else None,
    )


def _reproduction_status(job: Job) -> JobStatus:
    """Return a reproduce job's status: the run fields, then ``reproduced`` and ``difference``."""
    rep = reproduce.reproduction_of(job)
    outcome = rep.outcome or {}
    return JobStatus(
        job_id=job.id,
        backtest_id=rep.backtest_id,
        status=job.status,
        progress=job.progress,
        result=None,
        error={"reason": job.error_reason, "message": job.error} if job.error_reason else None,
        reproduced=outcome.get("reproduced"),
        difference=outcome.get("difference"),
    )


@transactional
def cancel_backtest(*, actor_id: str, backtest_id: str) -> BacktestView:
    """Cancel one of the caller's queued or running backtests (409 once it finished)."""
    row = get_owned_or_404(Backtest, backtest_id, actor_id=actor_id, error=BacktestNotFound)
    if not jobs.cancel_job(job_id=row.job_id):  # locks the job row: ordered against the run's complete()
        raise NotCancellable()
    db.session.refresh(row.job)
    return backtest_view(row)


# --- for other modules (forum, strategies, agent, udf) --------------------------------------------


def _kpis(row: Backtest) -> dict[str, Any]:
    """Return the KPIs of a completed backtest as other modules store and show them (camelCase keys)."""
    kpis: dict[str, Any] = KpisSchema().dump(kpis_of(row))
    return kpis


def verified_kpis(*, actor_id: str, backtest_id: str) -> dict[str, Any] | None:
    """Return the KPIs of one of the caller's backtests (None until it has completed)."""
    row = get_owned_or_404(Backtest, backtest_id, actor_id=actor_id, error=BacktestNotFound)
    return _kpis(row) if row.job.status == jobs.SUCCESS else None


def strategy_kpis(*, strategy_id: str, owner_id: str) -> dict[str, Any] | None:
    """Return the KPIs of the owner's latest completed backtest of a strategy (None if none)."""
    row = _latest(_completed().where(Backtest.strategy_id == strategy_id, Backtest.owner_id == owner_id))
    return _kpis(row) if row is not None else None


@dataclass(frozen=True)
class VerifiedRun:
    """A completed backtest as a marketplace listing shows it: KPIs, a bounded equity curve, guardrails."""

    backtest_id: str
    strategy_version_id: str | None
    kpis: dict[str, Any]
    equity: list[EquityPoint]
    guardrails: dict[str, Any] | None


def verified_run(*, backtest_id: str, owner_id: str, max_points: int = 500) -> VerifiedRun | None:
    """Return a completed backtest of ``owner_id`` with at most ``max_points`` equity points
    (evenly spaced, the last point kept); None when it does not exist, is not theirs or has not
    completed. The caller decides who may see it (the marketplace: a published strategy's run)."""
    row = db.session.get(Backtest, backtest_id) if looks_like_id(backtest_id) else None
    if row is None or row.owner_id != owner_id or row.job.status != jobs.SUCCESS:
        return None
    points = equity_of(row.equity_curve)
    if len(points) > max_points > 1:
        step = (len(points) - 1) / (max_points - 1)
        points = [points[round(i * step)] for i in range(max_points)]
    return VerifiedRun(row.id, row.strategy_version_id, _kpis(row), points, row.guardrails)


@dataclass(frozen=True)
class RebuiltRun:
    """A completed backtest re-run from its recorded inputs (bars, signals, config, result)."""

    backtest_id: str
    symbol: str
    interval: str
    kind: str
    params: dict[str, Any]
    start_ms: int
    end_ms: int
    periods_per_year: float
    bars: Bars
    signals: Signals
    config: BacktestConfig
    result: BacktestResult
    metrics: dict[str, Any]
    summary: Summary | None
    in_out_gap: SampleGap | None = None  # the stored walk-forward degradation, when it ran one


def rebuild_run(*, actor_id: str, backtest_id: str) -> RebuiltRun:
    """Reload the bars of one of the caller's completed backtests and re-run it deterministically."""
    row = get_owned_or_404(Backtest, backtest_id, actor_id=actor_id, error=BacktestNotFound)
    if row.job.status != jobs.SUCCESS:
        raise InvalidBacktest(
            "Only a completed backtest can be rebuilt.",
            fields={"backtest_id": ["The backtest has not completed."]},
        )
    done = results.compute(row, results.load_bars(row))
    return RebuiltRun(
        backtest_id=row.id,
        symbol=row.symbol,
        interval=row.interval,
        kind=row.kind,
        params=dict(row.params),
        start_ms=row.start_ms,
        end_ms=row.end_ms,
        periods_per_year=results.periods_per_year(row.interval),
        bars=done.bars,
        signals=done.signals,
        config=done.config,
        result=done.result,
        metrics=done.metrics,
        summary=summary_of(done.metrics),
        in_out_gap=gap_from_dict((row.guardrails or {}).get("inOutSample")),
    )


_MARK_RUNS_PER_READ = 16  # runs whose trade times one query of trade_marks reads


def trade_marks(
    *, actor_id: str | None, symbol: str, start_ms: int, end_ms: int, limit: int = 500
) -> list[dict[str, Any]]:
    """Return fills ``{id, time, side, price, quantity}`` of the caller's completed backtests on a
    symbol with time in ``[start_ms, end_ms)`` (for the chart's UDF marks; newest runs first)."""
    if actor_id is None:
        return []
    runs = db.session.scalars(
        select(Backtest.id)
        .join(Job, Job.id == Backtest.job_id)
        .where(
            Backtest.owner_id == actor_id,
            Backtest.symbol == symbol,
            Job.status == jobs.SUCCESS,
            Backtest.start_ms < end_ms,  # a run's trades lie inside its range [start_ms, end_ms)
            Backtest.end_ms > start_ms,
        )
        .order_by(Backtest.finished_at.desc())
    ).all()
    rows: list[trade_store.StoredTrade] = []
    for at in range(0, len(runs), _MARK_RUNS_PER_READ):  # newest runs first, until the limit
        batch = runs[at : at + _MARK_RUNS_PER_READ]
        times = trade_store.read_times(batch)
        for run in batch:
            if run not in times or len(rows) >= limit:
                continue
            entry, exit_ = times[run]
            seqs = np.flatnonzero((exit_ >= start_ms) & (entry < end_ms))[: limit - len(rows)]
            if len(seqs):
                trades, _ = trade_store.read(run, int(seqs[0]), int(seqs[-1]) + 1)
                picked = trade_store.stored_trades(run, trades, int(seqs[0]))
                rows.extend(picked[i] for i in (seqs - seqs[0]).tolist())
        if len(rows) >= limit:
            break
    return [
        {"id": f.id, "time": f.timestamp, "side": f.side, "price": f.price, "quantity": f.quantity}
        for f in fills_of(rows, symbol)
        if start_ms <= f.timestamp < end_ms
    ]


@transactional
def run_backtest_sync(
    *, actor_id: str, strategy_id: str, interval: str, start: int, end: int, **options: Any
) -> str:
    """Run a backtest of a strategy in this process, without a worker (the demo seed); return its id."""
    d = resolve_definition(actor_id, strategy_id, None)
    ctx = jobs.start_inline(JOB_KIND, owner_id=actor_id, subject_id=d.subject_id)
    row = _new_row(
        actor_id=actor_id,
        job=db.session.get_one(Job, ctx.job_id),
        d=d,
        symbol=d.symbol or "",
        interval=interval,
        start=start,
        end=end,
        options=options,
    )
    db.session.add(row)
    db.session.flush()
    results.store(row, results.compute(row, results.load_bars(row)), replace_trades=False)  # a new row
    ctx.complete()
    return row.id


def count_backtests_since(*, since: int, owner_id: str | None) -> int:
    """Count the backtests submitted at or after ``since`` (Unix ms): the owner's, or with
    ``owner_id`` None those of published strategies (the dashboard showcase). One COUNT."""
    stmt = select(func.count()).select_from(Backtest).where(Backtest.created_at >= since)
    if owner_id is not None:
        stmt = stmt.where(Backtest.owner_id == owner_id)
    else:
        published = [sid for sid, _owner in strategies_service.published_pairs()]
        stmt = stmt.where(Backtest.strategy_id.in_(published))
    return int(db.session.scalar(stmt) or 0)
