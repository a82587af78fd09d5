"""Read models of the marketplace: listings as the API shows them, and the browse query.

Sorts (all by KPIs the server computed, or by counters of recorded rows), each with its
direction, then ``id`` ascending as the tiebreak, NULLs (a KPI the run could not compute, e.g.
a Sharpe ratio without trades) last:

- ``sharpe``, ``return``, ``trades``, ``followers``, ``copies``, ``newest``: highest first;
- ``drawdown``: shallowest first (drawdowns are negative percents, so also highest first).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, not_, or_, select

from backend.extensions import db
from backend.modules.marketplace.models import Copy, Follow, Listing
from backend.modules.users import service as users_service

SORTS: dict[str, Any] = {
    "sharpe": Listing.sharpe,
    "return": Listing.total_return,
    "drawdown": Listing.max_drawdown,
    "trades": Listing.total_trades,
    "followers": Listing.followers_count,
    "copies": Listing.copies_count,
    "newest": Listing.published_at,
}
DEFAULT_SORT = "sharpe"


@dataclass(frozen=True)
class Author:
    """The public fields of a listing's author."""

    id: str
    name: str
    avatar: str


@dataclass(frozen=True)
class ListingView:
    """A listed strategy with its verified KPIs and counters."""

    id: str
    name: str
    description: str
    symbol: str
    interval: str
    kind: str
    tags: list[str]
    sealed: bool
    author: Author
    kpis: dict[str, Any]
    copies: int
    followers: int
    published_at: int
    version_id: str
    backtest_id: str
    hidden: bool


@dataclass(frozen=True)
class EquityPoint:
    """One point of the verified backtest's equity curve."""

    time: int
    value: float


@dataclass(frozen=True)
class ListingDetail(ListingView):
    """A listing with its verified equity curve, guardrails and the caller's relation to it."""

    equity: list[EquityPoint]
    guardrails: dict[str, Any] | None
    following: bool
    copied: bool
    code: str | None


def visible_to_others() -> ColumnElement[bool]:
    """The listings anyone may see: published through the marketplace, still published, not hidden."""
    # written as the sort indexes' predicate (models.VISIBLE_SQL), so the planner can use them
    return and_(Listing.listed, not_(Listing.hidden))


def browse_query(
    *,
    q: str | None = None,
    symbol: str | None = None,
    kind: str | None = None,
    interval: str | None = None,
    tags: Sequence[str] | None = None,
    sort: str = DEFAULT_SORT,
) -> Select[Listing]:
    """Return the browse SELECT: visible listings, filtered, in the documented order."""
    stmt = select(Listing).where(visible_to_others())
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(Listing.name.ilike(pattern), Listing.description.ilike(pattern)))
    for column, value in ((Listing.symbol, symbol), (Listing.kind, kind), (Listing.interval, interval)):
        if value:
            stmt = stmt.where(column == value)
    if tags:
        stmt = stmt.where(Listing.tags.contains(list(tags)))
    return stmt.order_by(SORTS[sort].desc().nulls_last(), Listing.strategy_id)


def _authors(owner_ids: set[str]) -> dict[str, Author]:
    users = users_service.get_users(ids=owner_ids)
    return {uid: Author(uid, u.name or u.username, users_service.avatar_url(u)) for uid, u in users.items()}


def _view(row: Listing, author: Author | None) -> ListingView:
    return ListingView(
        id=row.strategy_id,
        name=row.name,
        description=row.description,
        symbol=row.symbol,
        interval=row.interval,
        kind=row.kind,
        tags=list(row.tags or []),
        sealed=row.sealed,
        author=author or Author(row.owner_id, "", users_service.default_avatar_url(row.owner_id)),
        kpis=dict(row.kpis),
        copies=row.copies_count,
        followers=row.followers_count,
        published_at=row.published_at,
        version_id=row.version_id,
        backtest_id=row.backtest_id,
        hidden=row.hidden,
    )


def listing_views(rows: Sequence[Listing]) -> list[ListingView]:
    """Return views of ``rows`` (one users query for the whole page)."""
    authors = _authors({r.owner_id for r in rows}) if rows else {}
    return [_view(r, authors.get(r.owner_id)) for r in rows]


def listing_detail(
    row: Listing,
    *,
    viewer_id: str | None,
    equity: list[EquityPoint],
    guardrails: dict[str, Any] | None,
    code: str | None,
) -> ListingDetail:
    """Return the detail view of ``row`` as ``viewer_id`` sees it."""
    base = listing_views([row])[0]
    following = copied = False
    if viewer_id is not None:
        following = (
            db.session.scalar(
                select(Follow.user_id).where(
                    Follow.strategy_id == row.strategy_id, Follow.user_id == viewer_id
                )
            )
            is not None
        )
        copied = (
            db.session.scalar(
                select(Copy.id).where(Copy.strategy_id == row.strategy_id, Copy.user_id == viewer_id).limit(1)
            )
            is not None
        )
    return ListingDetail(
        **base.__dict__, equity=equity, guardrails=guardrails, following=following, copied=copied, code=code
    )
