"""Read models of strategies: the contract's Strategy (built from strategy rows and their
latest-backtest snapshot) and its versions; snake_case, the wire names come from ``schemas.py``.

`returns`, `winRate`, `maxDrawdown` and `trades` come from the owner's latest completed backtest
of the strategy (0 when there is none yet), snapshotted on the row by `service.record_backtest`;
`lastUpdate` is that backtest's finish time, or the strategy's own update time. `status` is
``running`` while a job of it (an owner's backtest) is pending or running in the core jobs table,
``completed`` once it has a completed backtest, else ``stopped``.

`params_schema` is the parameter descriptor a client draws a form from: the `python` kind's
stored PARAMS, a built-in kind's own schema, None for kinds without one (workflows). `code` (the
`python` kind's source) is filled only when the viewer owns the strategy and the strategy is not
a sealed copy (``code_hidden``): a published strategy runs for anyone but shows its code to no one
else, and a copy of a sealed marketplace strategy shows it to no one at all (``sealed`` true).
`forked_from` attributes a copy: the strategy and author it came from (the author's current
display name, "deleted user" once the account is gone).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func

from backend.core import jobs
from backend.domain.backtest import strategies as domain_strategies
from backend.extensions import db
from backend.modules.strategies.models import Strategy, StrategyVersion
from backend.modules.users import service as users_service
from backend.sandbox import descriptor_json

# `last_update` in SQL: every list of strategies is ordered by it (newest first, then id).
LAST_UPDATE = func.coalesce(Strategy.latest_finished_at, Strategy.updated_at)
NEWEST_FIRST = (LAST_UPDATE.desc(), Strategy.id)


DELETED_AUTHOR = "deleted user"


@dataclass(frozen=True)
class ForkedFrom:
    """Where a copied strategy came from (ids are None once that strategy or account is gone)."""

    strategy_id: str | None
    author_id: str | None
    author_name: str


@dataclass(frozen=True)
class StrategyView:
    """A strategy as the API shows it."""

    id: str
    name: str
    symbol: str
    status: str
    returns: float
    win_rate: float
    max_drawdown: float
    tags: list[str]
    last_update: int
    trades: int
    kind: str
    interval: str
    description: str
    published: bool
    owner_id: str
    version: int
    version_id: str | None
    params: dict[str, Any] = field(default_factory=dict)
    created_at: int = 0
    latest_backtest_id: str | None = None
    metrics: dict[str, Any] | None = None
    params_schema: dict[str, Any] | None = None
    code: str | None = None
    sealed: bool = False
    forked_from: ForkedFrom | None = None


def code_visible(row: Strategy, viewer_id: str | None) -> bool:
    """Return whether ``viewer_id`` may read the code of ``row`` (its owner, unless a sealed copy)."""
    return viewer_id is not None and viewer_id == row.owner_id and not row.code_hidden


def params_schema(version: StrategyVersion | None) -> dict[str, Any] | None:
    """Return the parameter descriptor of a version (the PARAMS shape), or None when its kind has none."""
    if version is None:
        return None
    if version.params_schema is not None:
        return dict(version.params_schema)
    try:
        spec = domain_strategies.get_strategy(version.kind)
    except domain_strategies.UnknownStrategyError:
        return None
    return descriptor_json(spec.params)


def _num(metrics: dict[str, Any] | None, key: str) -> float:
    value = (metrics or {}).get(key)
    return float(value) if value is not None else 0.0


def _status(row: Strategy, active: bool) -> str:
    if active:
        return "running"
    return "completed" if row.latest_backtest_id is not None else "stopped"


def _view(
    row: Strategy,
    version: StrategyVersion | None,
    active: bool,
    viewer_id: str | None,
    forked_from: ForkedFrom | None,
) -> StrategyView:
    metrics = row.latest_metrics
    finished = row.latest_finished_at
    return StrategyView(
        id=row.id,
        name=row.name,
        symbol=row.symbol,
        status=_status(row, active),
        returns=_num(metrics, "totalReturn"),
        win_rate=_num(metrics, "winRate"),
        max_drawdown=_num(metrics, "maxDrawdown"),
        tags=list(row.tags or []),
        last_update=int(finished or row.updated_at),
        trades=int(_num(metrics, "totalTrades")),
        kind=row.kind,
        interval=row.interval,
        description=row.description or "",
        published=row.is_published,
        owner_id=row.owner_id,
        version=version.number if version is not None else 0,
        version_id=version.id if version is not None else None,
        params=dict(version.params) if version is not None else {},
        created_at=row.created_at,
        latest_backtest_id=row.latest_backtest_id,
        metrics=metrics,
        params_schema=params_schema(version),
        code=version.code if version is not None and code_visible(row, viewer_id) else None,
        sealed=row.code_hidden,
        forked_from=forked_from,
    )


def _forks(rows: Sequence[Strategy]) -> dict[str, ForkedFrom]:
    """Return the attribution of each forked row (one users query for the whole list)."""
    forked = [r for r in rows if r.forked_from_strategy_id or r.forked_from_author_id]
    if not forked:
        return {}
    authors = users_service.get_users(
        ids={r.forked_from_author_id for r in forked if r.forked_from_author_id}
    )
    out = {}
    for r in forked:
        user = authors.get(r.forked_from_author_id or "")
        name = (user.name or user.username) if user is not None else DELETED_AUTHOR
        out[r.id] = ForkedFrom(r.forked_from_strategy_id, r.forked_from_author_id, name)
    return out


def build_views(rows: Sequence[Strategy], *, viewer_id: str | None = None) -> list[StrategyView]:
    """Return views of ``rows`` as ``viewer_id`` sees them (two queries for the whole list, no N+1)."""
    if not rows:
        return []
    active = jobs.active_subject_ids([r.id for r in rows])
    version_ids = [r.current_version_id for r in rows if r.current_version_id]
    versions = (
        {
            v.id: v
            for v in db.session.scalars(db.select(StrategyVersion).where(StrategyVersion.id.in_(version_ids)))
        }
        if version_ids
        else {}
    )
    forks = _forks(rows)
    return [
        _view(r, versions.get(r.current_version_id), r.id in active, viewer_id, forks.get(r.id)) for r in rows
    ]


@dataclass(frozen=True)
class VersionView:
    """One immutable version of a strategy."""

    id: str
    number: int
    kind: str
    params: dict[str, Any]
    content_hash: str
    created_at: int


def version_view(version: StrategyVersion) -> VersionView:
    """Return the view of a version row."""
    return VersionView(
        id=version.id,
        number=version.number,
        kind=version.kind,
        params=dict(version.params),
        content_hash=version.content_hash,
        created_at=version.created_at,
    )
