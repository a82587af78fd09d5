"""Marketplace: publish verified strategies, browse, detail, trial, copy, follow, report; moderation.

Publishing (``publish_strategy``) needs the owner's latest completed backtest of the strategy's
current version, run by this server (``strategies.latest_backtest_id``); its KPIs become the
listing's sortable columns, so rankings never use a number a client sent. The strategy's own
``is_published`` stays the one switch of "others may read and run it": publishing sets it,
unpublishing (here, or ``published: false`` / DELETE on /api/strategies) clears it and the
listing follows through the ``strategy.changed`` event (``on_strategy_changed``).

A ``python`` strategy may be published ``sealed``: others trial it, copy it and run it, but no
endpoint returns its code to anyone but its owner; its copies are sealed for their owners too
(``strategies`` ``code_hidden``). An unsealed python listing shows its code in the detail.

For the admin console (module ``admin``), each joins no HTTP request and takes the actor:

- ``list_reports(status, page, page_size) -> Page[ReportView]``: abuse reports, oldest first
  (``created_at`` ascending, then id); ``status`` None for all, else open | resolved | dismissed;
- ``resolve_report(report_id, actor_id, resolution) -> ReportView``: close an open report as
  acted upon (409 ``marketplace.report_closed`` once closed; 404 unknown id);
- ``dismiss_report(report_id, actor_id, resolution=None) -> ReportView``: close it as unfounded;
- ``set_listing_hidden(strategy_id, hidden, actor_id) -> ListingView``: hide a listing from
  everyone but its owner (browse, detail, trial, copy, follow and report give others 404), or
  restore it; 404 for a strategy never published to the marketplace.
These do not check the admin role: the admin module's routes do.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert

from backend.core import events
from backend.core.db import looks_like_id, new_id, now_ms, transactional
from backend.core.pagination import Page, paginate
from backend.extensions import db
from backend.modules.backtests import service as backtests_service
from backend.modules.marketplace.errors import (
    AlreadyReported,
    ListingNotFound,
    NotPublishable,
    OwnStrategy,
    ReportClosed,
    ReportNotFound,
)
from backend.modules.marketplace.models import Copy, Follow, Listing, Report
from backend.modules.marketplace.read_models import (
    DEFAULT_SORT,
    EquityPoint,
    ListingDetail,
    ListingView,
    browse_query,
    listing_detail,
    listing_views,
)
from backend.modules.strategies import service as strategies_service
from backend.modules.users import service as users_service

logger = logging.getLogger(__name__)

EQUITY_POINTS = 500  # the detail's equity curve is at most this many points
PYTHON = "python"


@dataclass(frozen=True)
class FollowState:
    """Whether the caller follows the strategy, and its follower count."""

    following: bool
    followers: int


@dataclass(frozen=True)
class ReportView:
    """An abuse report."""

    id: str
    strategy_id: str
    reporter_id: str
    reason: str
    details: str
    status: str
    created_at: int
    resolved_at: int | None
    resolved_by: str | None
    resolution: str | None


def _report_view(r: Report) -> ReportView:
    return ReportView(
        r.id, r.strategy_id, r.reporter_id, r.reason, r.details, r.status, r.created_at,
        r.resolved_at, r.resolved_by, r.resolution,
    )  # fmt: skip


# --- publishing ------------------------------------------------------------------------------------


def _publishable_kinds() -> set[str]:
    """Kinds whose versions are self-contained (a copy runs for its new owner): built-ins and python."""
    return {k["kind"] for k in strategies_service.list_kinds()} | {PYTHON}


def _check_publishable(view: strategies_service.StrategyView, sealed: bool) -> backtests_service.VerifiedRun:
    if view.sealed:
        raise NotPublishable(
            "A copy of a sealed strategy cannot be published.", fields={"strategyId": ["Sealed copy."]}
        )
    if view.kind not in _publishable_kinds():
        raise NotPublishable(
            f"A {view.kind} strategy cannot be published to the marketplace.",
            fields={"strategyId": ["Only built-in kinds and python strategies can be published."]},
        )
    if sealed and view.kind != PYTHON:
        raise NotPublishable(fields={"sealed": ["Only a python strategy has code to seal."]})
    run = (
        backtests_service.verified_run(backtest_id=view.latest_backtest_id, owner_id=view.owner_id)
        if view.latest_backtest_id
        else None
    )
    if run is None:
        raise NotPublishable(
            "Run a backtest of this strategy first: the marketplace shows only results this server computed.",
            fields={"strategyId": ["No completed backtest."]},
        )
    if run.strategy_version_id != view.version_id:
        raise NotPublishable(
            f"The latest backtest ran an older version; backtest version {view.version} first.",
            fields={"strategyId": ["The latest backtest is not of the current version."]},
        )
    return run


def _kpi(kpis: dict[str, Any], key: str) -> float | None:
    value = kpis.get(key)
    return float(value) if value is not None else None


@transactional
def publish_strategy(
    *,
    actor_id: str,
    strategy_id: str,
    sealed: bool = False,
    description: str | None = None,
    tags: list[str] | None = None,
) -> ListingDetail:
    """Publish (or re-publish, refreshing its verified run) one of my strategies to the marketplace."""
    # set_published locks the strategy row first, so no edit slips between the check and the listing;
    # a refused publish rolls the whole transaction back
    view = strategies_service.set_published(
        actor_id=actor_id, strategy_id=strategy_id, published=True, description=description, tags=tags
    )
    run = _check_publishable(view, sealed)
    kpis = run.kpis
    values = {
        "owner_id": actor_id,
        "listed": True,
        "sealed": sealed,
        "name": view.name,
        "description": view.description,
        "symbol": view.symbol,
        "interval": view.interval,
        "kind": view.kind,
        "tags": list(view.tags),
        "version_id": view.version_id,
        "backtest_id": run.backtest_id,
        "kpis": kpis,
        "sharpe": _kpi(kpis, "sharpeRatio"),
        "total_return": _kpi(kpis, "totalReturn"),
        "max_drawdown": _kpi(kpis, "maxDrawdown"),
        "total_trades": int(kpis["totalTrades"]) if kpis.get("totalTrades") is not None else None,
        "updated_at": now_ms(),
    }
    db.session.execute(
        insert(Listing)
        .values(strategy_id=strategy_id, published_at=now_ms(), created_at=now_ms(), **values)
        .on_conflict_do_update(index_elements=[Listing.strategy_id], set_=values)
    )
    return _detail(_listing(strategy_id, actor_id), actor_id)


@transactional
def unpublish_strategy(*, actor_id: str, strategy_id: str) -> None:
    """Take one of my strategies out of the marketplace (it is no longer published at all)."""
    row = _listing(strategy_id, actor_id)
    if row.owner_id != actor_id:
        raise ListingNotFound()
    strategies_service.set_published(actor_id=actor_id, strategy_id=strategy_id, published=False)


def on_strategy_changed(event: events.Event) -> None:
    """Keep a listing's metadata in step with its strategy; unlist it once no longer published."""
    if event.type != strategies_service.STRATEGY_CHANGED or event.object_id is None:
        return
    state = event.data
    values: dict[str, Any] = {k: state[k] for k in ("name", "description", "symbol", "interval", "kind")}
    values["tags"] = list(state["tags"])
    if not state["published"]:
        values["listed"] = False
    db.session.execute(update(Listing).where(Listing.strategy_id == event.object_id).values(**values))


def init_app() -> None:
    """Subscribe the marketplace to strategy changes (called once from ``create_app``)."""
    events.subscribe(on_strategy_changed)


# --- reading -------------------------------------------------------------------------------------


def _listing(strategy_id: str, viewer_id: str | None, *, lock: bool = False) -> Listing:
    """Return the listing ``viewer_id`` may see: listed and not hidden, or listed and theirs."""
    row = (
        db.session.get(Listing, strategy_id, with_for_update=lock, populate_existing=lock)
        if looks_like_id(strategy_id)
        else None
    )
    if row is None or not row.listed or (row.hidden and row.owner_id != viewer_id):
        raise ListingNotFound()
    return row


def list_listings(
    *,
    page: int,
    page_size: int,
    q: str | None = None,
    symbol: str | None = None,
    kind: str | None = None,
    interval: str | None = None,
    tags: list[str] | None = None,
    sort: str = DEFAULT_SORT,
) -> Page[ListingView]:
    """Return one page of visible listings, filtered and sorted (read_models documents the orders)."""
    stmt = browse_query(q=q, symbol=symbol, kind=kind, interval=interval, tags=tags, sort=sort)
    result = paginate(stmt, page=page, page_size=page_size)
    return Page(items=listing_views(list(result.items)), total=result.total)


def _detail(row: Listing, viewer_id: str | None) -> ListingDetail:
    run = backtests_service.verified_run(
        backtest_id=row.backtest_id, owner_id=row.owner_id, max_points=EQUITY_POINTS
    )
    equity = [EquityPoint(p.time, p.value) for p in run.equity] if run is not None else []
    code = None
    if row.kind == PYTHON and (not row.sealed or viewer_id == row.owner_id):
        code = strategies_service.version_code(version_id=row.version_id)
    return listing_detail(
        row, viewer_id=viewer_id, equity=equity, guardrails=run.guardrails if run else None, code=code
    )


def get_listing(*, actor_id: str | None, strategy_id: str) -> ListingDetail:
    """Return a listing with its verified run, counters and the caller's follow/copy state."""
    return _detail(_listing(strategy_id, actor_id), actor_id)


# --- trial, copy, follow, report ----------------------------------------------------------------


@transactional
def trial_strategy(
    *,
    actor_id: str,
    strategy_id: str,
    symbol: str | None = None,
    interval: str | None = None,
    start: int | None = None,
    end: int | None = None,
    **options: Any,
) -> backtests_service.Submitted:
    """Backtest the listed version on my symbol or range, as my own backtest (nothing is copied)."""
    row = _listing(strategy_id, actor_id)
    run = strategies_service.get_version_for_run(
        actor_id=actor_id, strategy_id=strategy_id, version_id=row.version_id
    )
    d = backtests_service.Definition(
        run.strategy_id, run.version_id, run.kind, run.params, run.name, run.symbol, run.interval
    )
    return backtests_service.submit_definition(
        actor_id=actor_id, d=d, symbol=symbol, interval=interval, start=start, end=end, **options
    )


def _others(strategy_id: str, actor_id: str, *, lock: bool = False) -> Listing:
    row = _listing(strategy_id, actor_id, lock=lock)
    if row.owner_id == actor_id:
        raise OwnStrategy()
    return row


@transactional
def copy_strategy(*, actor_id: str, strategy_id: str) -> strategies_service.StrategyView:
    """Copy the listed version into my strategies (attributed; sealed stays sealed); count the copy."""
    row = _others(strategy_id, actor_id)
    copy = strategies_service.fork_strategy(
        actor_id=actor_id, strategy_id=strategy_id, version_id=row.version_id, hide_code=row.sealed
    )
    db.session.add(Copy(strategy_id=strategy_id, user_id=actor_id, copy_id=copy.id))
    db.session.execute(
        update(Listing)
        .where(Listing.strategy_id == strategy_id)
        .values(copies_count=Listing.copies_count + 1)
        .execution_options(synchronize_session=False)
    )
    _tell_author(row, "marketplace.copy", actor_id=actor_id, strategy_name=copy.name, copyId=copy.id)
    return copy


def _tell_author(row: Listing, type_: str, *, actor_id: str, strategy_name: str, **data: Any) -> None:
    """Emit a subscriber-only event (topic ""): the notification centre tells the listing's author."""
    actor = users_service.get_users(ids=[actor_id]).get(actor_id)
    data.update(
        strategyId=row.strategy_id,
        strategyName=strategy_name,
        actorId=actor_id,
        actorName=(actor.name or actor.username) if actor is not None else "",
    )
    events.emit(events.Event(type_, "", row.owner_id, object_id=row.strategy_id, data=data))


def _followers(strategy_id: str) -> int:
    return int(
        db.session.scalar(select(Listing.followers_count).where(Listing.strategy_id == strategy_id)) or 0
    )


def _bump_followers(strategy_id: str, delta: int) -> None:
    db.session.execute(
        update(Listing)
        .where(Listing.strategy_id == strategy_id)
        .values(followers_count=Listing.followers_count + delta)
        .execution_options(synchronize_session=False)
    )


@transactional
def follow_strategy(*, actor_id: str, strategy_id: str) -> FollowState:
    """Follow a listed strategy of someone else (following twice is a no-op)."""
    row = _others(strategy_id, actor_id)
    added = db.session.execute(
        insert(Follow)
        .values(strategy_id=strategy_id, user_id=actor_id, created_at=now_ms())
        .on_conflict_do_nothing()
        .returning(Follow.user_id)
    ).first()
    if added:
        _bump_followers(strategy_id, +1)
        name = strategies_service.get_strategy(actor_id=actor_id, strategy_id=strategy_id).name
        _tell_author(row, "marketplace.follow", actor_id=actor_id, strategy_name=name)
    return FollowState(following=True, followers=_followers(strategy_id))


@transactional
def unfollow_strategy(*, actor_id: str, strategy_id: str) -> FollowState:
    """Stop following a listed strategy (no-op if I did not follow it)."""
    _listing(strategy_id, actor_id)
    removed = db.session.execute(
        delete(Follow)
        .where(Follow.strategy_id == strategy_id, Follow.user_id == actor_id)
        .returning(Follow.user_id)
    ).first()
    if removed:
        _bump_followers(strategy_id, -1)
    return FollowState(following=False, followers=_followers(strategy_id))


@transactional
def report_strategy(*, actor_id: str, strategy_id: str, reason: str, details: str = "") -> ReportView:
    """Report a listed strategy of someone else for abuse, once (a second report is 409)."""
    _others(strategy_id, actor_id)
    report_id = db.session.scalar(
        insert(Report)
        .values(
            id=new_id(),
            strategy_id=strategy_id,
            reporter_id=actor_id,
            reason=reason,
            details=details,
            status="open",
            created_at=now_ms(),
        )
        .on_conflict_do_nothing(constraint="uq_marketplace_reports_once")
        .returning(Report.id)
    )
    if report_id is None:
        raise AlreadyReported()
    return _report_view(db.session.get_one(Report, report_id))


# --- moderation (the admin console calls these; see the module docstring) ------------------------


def list_reports(*, status: str | None, page: int, page_size: int) -> Page[ReportView]:
    """Return one page of abuse reports, oldest first (``created_at``, then id); all statuses when None."""
    stmt = select(Report)
    if status is not None:
        stmt = stmt.where(Report.status == status)
    result = paginate(stmt.order_by(Report.created_at, Report.id), page=page, page_size=page_size)
    return Page(items=[_report_view(r) for r in result.items], total=result.total)


def _close(report_id: str, actor_id: str, status: str, resolution: str | None) -> ReportView:
    row = db.session.get(Report, report_id, with_for_update=True) if looks_like_id(report_id) else None
    if row is None:
        raise ReportNotFound()
    if row.status != "open":
        raise ReportClosed()
    row.status, row.resolved_at, row.resolved_by, row.resolution = status, now_ms(), actor_id, resolution
    return _report_view(row)


@transactional
def resolve_report(*, report_id: str, actor_id: str, resolution: str) -> ReportView:
    """Close an open report as acted upon, with what was done (409 once closed)."""
    return _close(report_id, actor_id, "resolved", resolution)


@transactional
def dismiss_report(*, report_id: str, actor_id: str, resolution: str | None = None) -> ReportView:
    """Close an open report as unfounded (409 once closed)."""
    return _close(report_id, actor_id, "dismissed", resolution)


@transactional
def set_listing_hidden(*, strategy_id: str, hidden: bool, actor_id: str) -> ListingView:
    """Hide a listing from everyone but its owner, or restore it (404 if never published here)."""
    row = db.session.get(Listing, strategy_id, with_for_update=True) if looks_like_id(strategy_id) else None
    if row is None:
        raise ListingNotFound()
    row.hidden = hidden
    row.hidden_by, row.hidden_at = (actor_id, now_ms()) if hidden else (None, None)
    logger.info("listing %s hidden=%s by %s", strategy_id, hidden, actor_id)
    return listing_views([row])[0]
