"""Strategies: CRUD with immutable versions, the dashboard showcase, and the run helpers.

Visibility: the owner sees and changes a strategy; anyone (even anonymous) may read a published
one; everyone else gets 404. A change of kind or parameters creates a new version (content hash
of ``{kind, params, code}``); an unchanged hash reuses the current version.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select, update

from backend.core.db import get_readable_or_404, looks_like_id, now_ms, transactional
from backend.core.errors import AppError
from backend.core.pagination import Page, paginate
from backend.domain.backtest import strategies as domain_strategies
from backend.domain.backtest.types import Signals
from backend.domain.bars import Bars
from backend.extensions import db
from backend.modules.market import service as market_service
from backend.modules.strategies.errors import (
    InvalidStrategy,
    NotStrategyOwner,
    StrategyNotFound,
    StrategyVersionNotFound,
)
from backend.modules.strategies.models import Strategy, StrategyVersion
from backend.modules.strategies.read_models import StrategyView, VersionView, build_views, version_view

logger = logging.getLogger(__name__)

SHOWCASE_CANDIDATES = 100


@dataclass(frozen=True)
class StrategyRun:
    """Everything a run needs from a strategy: the strategy and one pinned, immutable version."""

    strategy_id: str
    version_id: str
    version_number: int
    owner_id: str
    name: str
    symbol: str
    interval: str
    kind: str
    params: dict[str, Any]
    published: bool

    @property
    def id(self) -> str:
        """Return the strategy id (for callers that treat this as the strategy)."""
        return self.strategy_id


def content_hash(kind: str, params: Mapping[str, Any], code: str | None = None) -> str:
    """Return the SHA-256 hex digest of the canonical JSON of ``{kind, params, code}``."""
    payload = json.dumps(
        {"kind": kind, "params": dict(params), "code": code}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass(frozen=True)
class StrategyKind:
    """A strategy kind defined by an upper module (e.g. ``workflow``), registered at app start.

    ``validate(params, actor_id)`` returns the clean parameters or raises InvalidStrategy naming
    each field; ``signals(params, bars)`` computes the kind's signals (look-ahead free).
    """

    name: str
    validate: Callable[[Mapping[str, Any], str], dict[str, Any]]
    signals: Callable[[Mapping[str, Any], Bars], Signals]


_KINDS: dict[str, StrategyKind] = {}


def register_kind(kind: StrategyKind) -> None:
    """Register (or replace) a strategy kind; upper modules call this from ``create_app``."""
    if kind.name in {spec.kind for spec in domain_strategies.list_strategies()}:
        raise ValueError(f"{kind.name!r} is a built-in strategy kind.")
    _KINDS[kind.name] = kind


def validate_definition(kind: str, params: Mapping[str, Any] | None, *, actor_id: str) -> dict[str, Any]:
    """Return the parameters with defaults filled in, or raise InvalidStrategy naming each field."""
    if kind in _KINDS:
        return _KINDS[kind].validate(params or {}, actor_id)
    try:
        return domain_strategies.validate_params(kind, params or {})
    except domain_strategies.UnknownStrategyError:
        known = ", ".join([*(spec.kind for spec in domain_strategies.list_strategies()), *_KINDS])
        raise InvalidStrategy(
            f"Unknown strategy kind {kind!r}.", fields={"kind": [f"Must be one of: {known}."]}
        ) from None
    except domain_strategies.ParamError as exc:
        raise InvalidStrategy(fields={f"params.{k}": v for k, v in exc.fields.items()}) from None


def known_symbol(symbol: str) -> str:
    """Return the market's spelling of ``symbol``; 422 when no market data source serves it."""
    try:
        return market_service.find_symbol(symbol).info.symbol
    except AppError as exc:
        if exc.http_status != 404:
            raise
        raise InvalidStrategy(f"Unknown symbol {symbol!r}.", fields={"symbol": ["Unknown symbol."]}) from None


def list_kinds() -> list[dict[str, Any]]:
    """Return the built-in strategy kinds with their parameter schemas."""
    return [
        {
            "kind": spec.kind,
            "title": spec.title,
            "params": [
                {
                    "name": name,
                    "type": p.type,
                    "default": p.default,
                    "min": p.min,
                    "max": p.max,
                    "description": p.description,
                }
                for name, p in spec.params.items()
            ],
        }
        for spec in domain_strategies.list_strategies()
    ]


def _add_version(row: Strategy, *, actor_id: str, kind: str, params: dict[str, Any]) -> StrategyVersion:
    """Append a version to ``row`` unless its content equals the current version's."""
    digest = content_hash(kind, params)
    current = db.session.get(StrategyVersion, row.current_version_id) if row.current_version_id else None
    if current is not None and current.content_hash == digest:
        return current
    row.version_count += 1
    version = StrategyVersion(
        strategy_id=row.id,
        number=row.version_count,
        kind=kind,
        params=params,
        content_hash=digest,
        created_by=actor_id,
        created_at=now_ms(),
    )
    db.session.add(version)
    db.session.flush()
    row.kind, row.current_version_id = kind, version.id
    return version


def _view(row: Strategy) -> StrategyView:
    return build_views([row])[0]


@transactional
def create_strategy(
    *,
    actor_id: str,
    name: str,
    symbol: str,
    kind: str,
    params: Mapping[str, Any] | None = None,
    tags: list[str] | None = None,
    description: str = "",
    interval: str = "1h",
    published: bool = False,
) -> StrategyView:
    """Create a strategy and its first version."""
    clean = validate_definition(kind, params, actor_id=actor_id)
    row = Strategy(
        owner_id=actor_id,
        name=name,
        symbol=known_symbol(symbol),
        kind=kind,
        tags=list(tags or []),
        description=description,
        interval=interval,
        is_published=published,
        version_count=0,
    )
    db.session.add(row)
    db.session.flush()
    _add_version(row, actor_id=actor_id, kind=kind, params=clean)
    return _view(row)


_META_FIELDS = ("name", "symbol", "tags", "description", "interval")


@transactional
def update_strategy(*, actor_id: str, strategy_id: str, changes: Mapping[str, Any]) -> StrategyView:
    """Change metadata; a change of kind or parameters creates a new version."""
    row = get_readable_or_404(  # locked: concurrent edits number versions one by one
        Strategy,
        strategy_id,
        actor_id=actor_id,
        public_attr="is_published",
        error=StrategyNotFound,
        lock=True,
    )
    if row.owner_id != actor_id:
        raise NotStrategyOwner()  # visible (published) but not theirs
    if "symbol" in changes:
        changes = {**changes, "symbol": known_symbol(changes["symbol"])}
    for field in _META_FIELDS:
        if field in changes:
            setattr(row, field, list(changes[field]) if field == "tags" else changes[field])
    if "published" in changes:
        row.is_published = bool(changes["published"])
    if "kind" in changes or "params" in changes:
        current = db.session.get(StrategyVersion, row.current_version_id)
        kind = changes.get("kind", row.kind)
        base = current.params if (current is not None and kind == row.kind) else {}
        params = {**base, **changes["params"]} if "params" in changes else base
        clean = validate_definition(kind, params, actor_id=actor_id)
        _add_version(row, actor_id=actor_id, kind=kind, params=clean)
    row.updated_at = now_ms()
    return _view(row)


@transactional
def delete_strategy(*, actor_id: str, strategy_id: str) -> None:
    """Soft-delete a strategy (its versions stay, so past backtests and bots remain reproducible)."""
    row = get_readable_or_404(
        Strategy, strategy_id, actor_id=actor_id, public_attr="is_published", error=StrategyNotFound
    )
    if row.owner_id != actor_id:
        raise NotStrategyOwner()  # visible (published) but not theirs
    row.deleted_at = now_ms()
    row.is_published = False


def get_strategy(*, actor_id: str | None, strategy_id: str) -> StrategyView:
    """Return a strategy the caller owns or that is published."""
    return _view(
        get_readable_or_404(
            Strategy, strategy_id, actor_id=actor_id, public_attr="is_published", error=StrategyNotFound
        )
    )


def list_strategies(*, actor_id: str, page: int, page_size: int) -> Page[StrategyView]:
    """Return one page of the caller's strategies, most recently updated first."""
    stmt = (
        select(Strategy)
        .where(Strategy.owner_id == actor_id, Strategy.deleted_at.is_(None))
        .order_by(Strategy.updated_at.desc(), Strategy.id)
    )
    result = paginate(stmt, page=page, page_size=page_size)
    return Page(items=build_views(list(result.items)), total=result.total)


def list_recent(*, actor_id: str | None, limit: int) -> list[StrategyView]:
    """Return the caller's latest strategies; anonymous callers (or callers with none) get the showcase."""
    live = select(Strategy).where(Strategy.deleted_at.is_(None))
    rows: list[Strategy] = []
    if actor_id is not None:
        rows = list(
            db.session.scalars(
                live.where(Strategy.owner_id == actor_id)
                .order_by(Strategy.updated_at.desc(), Strategy.id)
                .limit(limit)
            )
        )
    if rows:
        return build_views(rows)
    return _showcase(live, limit)


def _showcase(live, limit: int) -> list[StrategyView]:
    """Return the newest published strategies, those with a completed backtest first."""
    rows = list(
        db.session.scalars(
            live.where(Strategy.is_published.is_(True))
            .order_by(Strategy.updated_at.desc(), Strategy.id)
            .limit(min(SHOWCASE_CANDIDATES, limit * 5))
        )
    )
    views = build_views(rows)
    return sorted(views, key=lambda v: v.latest_backtest_id is None)[:limit]  # stable: newest first within


def list_versions(*, actor_id: str | None, strategy_id: str) -> list[VersionView]:
    """Return every version of a visible strategy, newest first."""
    get_readable_or_404(
        Strategy, strategy_id, actor_id=actor_id, public_attr="is_published", error=StrategyNotFound
    )
    versions = db.session.scalars(
        select(StrategyVersion)
        .where(StrategyVersion.strategy_id == strategy_id)
        .order_by(StrategyVersion.number.desc())
    )
    return [version_view(v) for v in versions]


def _run_of(row: Strategy, version: StrategyVersion) -> StrategyRun:
    return StrategyRun(
        strategy_id=row.id,
        version_id=version.id,
        version_number=version.number,
        owner_id=row.owner_id,
        name=row.name,
        symbol=row.symbol,
        interval=row.interval,
        kind=version.kind,
        params=dict(version.params),
        published=row.is_published,
    )


def get_strategy_for_run(*, actor_id: str | None, strategy_id: str) -> StrategyRun:
    """Return the strategy (owned or published) pinned to its current version."""
    row = get_readable_or_404(
        Strategy, strategy_id, actor_id=actor_id, public_attr="is_published", error=StrategyNotFound
    )
    version = db.session.get(StrategyVersion, row.current_version_id)
    if version is None:  # pragma: no cover - every strategy is created with a version
        raise StrategyVersionNotFound()
    return _run_of(row, version)


def get_version_for_run(*, actor_id: str | None, strategy_id: str, version_id: str) -> StrategyRun:
    """Return one pinned version of a strategy the caller owns or that is published.

    A deleted strategy's versions stay readable by its owner, so a running bot keeps working.
    """
    row = db.session.get(Strategy, strategy_id) if looks_like_id(strategy_id) else None
    if row is None or (row.owner_id != actor_id and (not row.is_published or row.deleted_at)):
        raise StrategyNotFound()
    version = db.session.get(StrategyVersion, version_id) if looks_like_id(version_id) else None
    if version is None or version.strategy_id != row.id:
        raise StrategyVersionNotFound()
    return _run_of(row, version)


def compute_signals(*, kind: str, params: Mapping[str, Any], bars: Bars) -> Signals:
    """Return the signals of strategy ``kind`` with ``params`` (a pinned version's) on ``bars``.

    Look-ahead free: a signal at bar t uses bars up to t (fills at t+1's open).
    """
    if kind in _KINDS:
        return _KINDS[kind].signals(params, bars)
    spec = domain_strategies.get_strategy(kind)
    return spec.signals(bars, domain_strategies.validate_params(kind, params))


def record_backtest(
    *, strategy_id: str, owner_id: str, backtest_id: str, metrics: dict[str, Any], finished_at: int
) -> bool:
    """Snapshot a completed backtest as the strategy's latest when its owner ran it and it is newer.

    Called by the backtests module when a run completes; joins the caller's transaction (the caller
    commits). "Newer" orders runs by finish time, then by id (the smallest wins a tie), as the
    backtests' own "latest completed" does. Return whether the snapshot changed.
    """
    changed = db.session.scalars(
        update(Strategy)
        .where(
            Strategy.id == strategy_id,
            Strategy.owner_id == owner_id,
            or_(
                Strategy.latest_finished_at.is_(None),
                Strategy.latest_finished_at < finished_at,
                and_(Strategy.latest_finished_at == finished_at, Strategy.latest_backtest_id > backtest_id),
            ),
        )
        .values(latest_backtest_id=backtest_id, latest_metrics=metrics, latest_finished_at=finished_at)
        .returning(Strategy.id)
        .execution_options(synchronize_session="fetch")
    ).first()
    return changed is not None


def published_pairs() -> list[tuple[str, str]]:
    """Return ``(strategy_id, owner_id)`` of every published strategy (the showcase)."""
    rows = db.session.execute(
        select(Strategy.id, Strategy.owner_id).where(
            Strategy.is_published.is_(True), Strategy.deleted_at.is_(None)
        )
    )
    return [(sid, owner) for sid, owner in rows]


def version_content_hash(*, version_id: str) -> str | None:
    """Return the content hash of a strategy version (None if there is no such version)."""
    return db.session.scalar(select(StrategyVersion.content_hash).where(StrategyVersion.id == version_id))
