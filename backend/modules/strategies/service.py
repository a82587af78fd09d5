"""Strategies: CRUD with immutable versions, the dashboard showcase, and the run helpers.

Visibility: the owner sees and changes a strategy; anyone (even anonymous) may read a published
one; everyone else gets 404. A change of kind, parameters or code creates a new version (content
hash of ``{kind, params, code}``); an unchanged hash reuses the current version.

Kinds: the built-ins (``backend.domain.backtest.strategies``), kinds registered by upper modules
(``register_kind``: workflows) and ``python``, the user's own code (``python_kind.py``), which
runs only in the sandbox and whose code only its owner reads.

Forks (the marketplace's copies): ``fork_strategy`` copies one pinned version into a new strategy
of the copier (version 1, attribution in ``forked_from_*``). A copy of a sealed strategy has
``code_hidden``: it runs anywhere a strategy runs, but no read returns its code (its owner's
included), its sandbox tracebacks are withheld, and its code and kind cannot be changed.

Every change of a strategy's listing-relevant state (metadata, published, deleted) emits a
subscriber-only event ``strategy.changed`` (topic ``""``), so the marketplace keeps its listing in
step inside the same transaction without this module knowing it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnExpressionArgument,
    ScalarSelect,
    Update,
    and_,
    bindparam,
    func,
    or_,
    select,
    update,
)

from backend.core import changes
from backend.core.db import (
    execute_on_connection,
    get_readable_or_404,
    holds,
    looks_like_id,
    now_ms,
    transactional,
)
from backend.core.errors import AppError
from backend.core.pagination import Page, paginate
from backend.domain.backtest import strategies as domain_strategies
from backend.domain.backtest.types import Signals
from backend.domain.bars import Bars
from backend.extensions import db
from backend.modules.market import service as market_service
from backend.modules.strategies import python_kind
from backend.modules.strategies.errors import (
    InvalidStrategy,
    NotStrategyOwner,
    SandboxUnavailable,
    StrategyFailed,
    StrategyNotFound,
    StrategyVersionNotFound,
)
from backend.modules.strategies.forks import STRATEGY_CHANGED as STRATEGY_CHANGED
from backend.modules.strategies.forks import emit_changed
from backend.modules.strategies.forks import fork_strategy as fork_strategy
from backend.modules.strategies.forks import set_published as set_published
from backend.modules.strategies.forks import version_code as version_code
from backend.modules.strategies.models import Strategy, StrategyVersion
from backend.modules.strategies.python_kind import PYTHON, CheckResult
from backend.modules.strategies.read_models import (
    NEWEST_FIRST,
    StrategyView,
    VersionView,
    build_views,
    version_view,
)
from backend.modules.strategies.versions import Content, add_version
from backend.modules.strategies.versions import content_hash as content_hash
from backend.sandbox.templates import TEMPLATES, Template

logger = logging.getLogger(__name__)


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
    if kind.name == PYTHON or kind.name in {spec.kind for spec in domain_strategies.list_strategies()}:
        raise ValueError(f"{kind.name!r} is a built-in strategy kind.")
    _KINDS[kind.name] = kind


def kind_names() -> list[str]:
    """Return every strategy kind: the built-in ones, then those registered by upper modules."""
    return [*(spec.kind for spec in domain_strategies.list_strategies()), PYTHON, *_KINDS]


def validate_definition(kind: str, params: Mapping[str, Any] | None, *, actor_id: str) -> dict[str, Any]:
    """Return the parameters with defaults filled in, or raise InvalidStrategy naming each field.

    For a definition without code: a ``python`` strategy runs only once saved (its code is part of
    its version), so an inline ``python`` definition is refused.
    """
    if kind == PYTHON:
        raise InvalidStrategy(
            "A python strategy runs from a saved strategy: create it (POST /api/strategies) and run it "
            "by its id.",
            fields={"kind": ["A python strategy must be saved first; pass its strategy_id."]},
        )
    if kind in _KINDS:
        return _KINDS[kind].validate(params or {}, actor_id)
    try:
        return domain_strategies.validate_params(kind, params or {})
    except domain_strategies.UnknownStrategyError:
        known = ", ".join(kind_names())
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


def _content(
    kind: str,
    params: Mapping[str, Any] | None,
    code: str | None,
    *,
    actor_id: str,
    base: Mapping[str, Any] | None = None,
) -> Content:
    """Return the validated content of a version, or raise (422 per field, 503 without a sandbox).

    ``base``: a python strategy's current parameters, kept where its PARAMS still declares them.
    """
    if kind != PYTHON:
        if code is not None:
            raise InvalidStrategy(fields={"code": ["Only a python strategy has code."]})
        return Content(kind, validate_definition(kind, params, actor_id=actor_id))
    if code is None:
        raise InvalidStrategy(fields={"code": ["Required for a python strategy."]})
    defined = python_kind.define(code, params, base=base)
    return Content(kind, defined.params, code, defined.params_schema)


def _view(row: Strategy) -> StrategyView:
    """Return the view of ``row`` for its owner (the code included)."""
    return build_views([row], viewer_id=row.owner_id)[0]


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
    code: str | None = None,
) -> StrategyView:
    """Create a strategy and its first version (a ``python`` strategy's PARAMS read in the sandbox)."""
    content = _content(kind, params, code, actor_id=actor_id)
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
    add_version(row, actor_id=actor_id, content=content)
    return _view(row)


_META_FIELDS = ("name", "symbol", "tags", "description", "interval")


@transactional
def update_strategy(*, actor_id: str, strategy_id: str, changes: Mapping[str, Any]) -> StrategyView:
    """Change metadata; a change of kind, parameters or code creates a new version."""
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
    if row.code_hidden and {"code", "kind"} & set(changes):
        raise InvalidStrategy(
            "This is a copy of a sealed strategy: its code cannot be read or replaced.",
            fields={f: ["A sealed copy keeps its code and kind."] for f in ("code", "kind") if f in changes},
        )
    if "symbol" in changes:
        changes = {**changes, "symbol": known_symbol(changes["symbol"])}
    for field in _META_FIELDS:
        if field in changes:
            setattr(row, field, list(changes[field]) if field == "tags" else changes[field])
    if "published" in changes:
        row.is_published = bool(changes["published"])
    if {"kind", "params", "code"} & set(changes):
        add_version(row, actor_id=actor_id, content=_changed_content(row, changes, actor_id))
    row.updated_at = now_ms()
    emit_changed(row)
    return _view(row)


def _changed_content(row: Strategy, changes: Mapping[str, Any], actor_id: str) -> Content:
    """Return the content of the version ``changes`` make: new params merge into the current ones.

    Switching kind starts from the new kind's defaults. A python strategy keeps its code unless
    ``code`` is given; current parameters its (new) PARAMS no longer declares are dropped.
    """
    current = db.session.get(StrategyVersion, row.current_version_id)
    kind = changes.get("kind", row.kind)
    same = current if current is not None and kind == row.kind else None
    base = dict(same.params) if same is not None else {}
    given = changes.get("params", {})
    if kind == PYTHON:
        code = changes.get("code", same.code if same is not None else None)
        return _content(kind, given, code, actor_id=actor_id, base=base)
    return _content(kind, {**base, **given}, changes.get("code"), actor_id=actor_id)


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
    emit_changed(row)


def get_strategy(*, actor_id: str | None, strategy_id: str) -> StrategyView:
    """Return a strategy the caller owns or that is published (its code only for the owner)."""
    row = get_readable_or_404(
        Strategy, strategy_id, actor_id=actor_id, public_attr="is_published", error=StrategyNotFound
    )
    return build_views([row], viewer_id=actor_id)[0]


def list_strategies(*, actor_id: str, page: int, page_size: int) -> Page[StrategyView]:
    """Return one page of the caller's strategies, by ``lastUpdate`` descending, then id."""
    stmt = (
        select(Strategy)
        .where(Strategy.owner_id == actor_id, Strategy.deleted_at.is_(None))
        .order_by(*NEWEST_FIRST)
    )
    result = paginate(stmt, page=page, page_size=page_size)
    return Page(items=build_views(list(result.items), viewer_id=actor_id), total=result.total)


def list_recent(*, actor_id: str | None, limit: int) -> list[StrategyView]:
    """Return the caller's latest strategies by ``lastUpdate`` descending, then id; anonymous
    callers (or callers with none) get the showcase, in the same order."""
    live = select(Strategy).where(Strategy.deleted_at.is_(None))
    rows: list[Strategy] = []
    if actor_id is not None:
        rows = list(
            db.session.scalars(live.where(Strategy.owner_id == actor_id).order_by(*NEWEST_FIRST).limit(limit))
        )
    if rows:
        return build_views(rows)
    return _showcase(live, limit)


def list_published_by(*, owner_id: str, limit: int) -> tuple[list[StrategyView], int]:
    """Return ``owner_id``'s newest published strategies (up to ``limit``, as any visitor sees them)
    and how many are published in all (a public profile)."""
    published = (
        Strategy.owner_id == owner_id,
        Strategy.is_published.is_(True),
        Strategy.deleted_at.is_(None),
    )
    rows = list(db.session.scalars(select(Strategy).where(*published).order_by(*NEWEST_FIRST).limit(limit)))
    total = int(db.session.scalar(select(func.count()).select_from(Strategy).where(*published)) or 0)
    return build_views(rows), total


def _showcase(live, limit: int) -> list[StrategyView]:
    """Return up to ``limit`` published strategies, those with a completed backtest chosen first,
    ordered by ``lastUpdate`` descending, then id."""
    rows = db.session.scalars(
        live.where(Strategy.is_published.is_(True))
        .order_by(Strategy.latest_backtest_id.is_(None), *NEWEST_FIRST)
        .limit(limit)
    )
    return sorted(build_views(list(rows)), key=lambda v: (-v.last_update, v.id))


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
    """Return the strategy (owned or published) pinned to its current version.

    One statement reads both (a run's submit pays one round trip for them); the checks are
    `get_readable_or_404`'s: unknown, deleted, or private and someone else's is StrategyNotFound.
    """
    found = (
        db.session.execute(
            select(Strategy, StrategyVersion)
            .outerjoin(StrategyVersion, StrategyVersion.id == Strategy.current_version_id)
            .where(Strategy.id == strategy_id)
        ).first()
        if looks_like_id(strategy_id)
        else None
    )
    if found is None:
        raise StrategyNotFound()
    row, version = found
    if row.deleted_at is not None or (row.owner_id != actor_id and not row.is_published):
        raise StrategyNotFound()
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


_CODE_CACHE_MAX = 256
# version id -> (code, the strategy owner who may see its tracebacks, or "" for a sealed copy);
# versions are immutable and a strategy's ``code_hidden`` never changes after its creation.
_code_cache: dict[str, tuple[str, str]] = {}


def _code_of(version_id: str | None) -> tuple[str, str]:
    """Return (code, owner id or "" for a sealed copy) of a python version, else StrategyVersionNotFound."""
    hit = _code_cache.get(version_id or "")
    if hit is not None:
        return hit
    row = (
        db.session.execute(
            select(StrategyVersion.code, Strategy.owner_id, Strategy.code_hidden)
            .join(Strategy, Strategy.id == StrategyVersion.strategy_id)
            .where(StrategyVersion.id == version_id)
        ).first()
        if version_id is not None and looks_like_id(version_id)
        else None
    )
    if row is None or row.code is None:
        raise StrategyVersionNotFound("The python strategy's version (its code) was not found.")
    if len(_code_cache) >= _CODE_CACHE_MAX:
        _code_cache.clear()
    reader = "" if row.code_hidden else row.owner_id
    _code_cache[version_id or ""] = (row.code, reader)
    return row.code, reader


def compute_signals(
    *,
    kind: str,
    params: Mapping[str, Any],
    bars: Bars,
    version_id: str | None = None,
    actor_id: str | None = None,
) -> Signals:
    """Return the signals of strategy ``kind`` with ``params`` (a pinned version's) on ``bars``.

    Look-ahead free: a signal at bar t uses bars up to t (fills at t+1's open). A ``python``
    version (``version_id``) runs in the sandbox; its failures raise StrategyFailed with the
    sandbox's reason (a job records it), whose traceback lines (they quote the code) are kept only
    when ``actor_id`` owns the strategy and it is not a sealed copy; SandboxUnavailable when the
    machine cannot sandbox.
    """
    if kind == PYTHON:
        code, owner_id = _code_of(version_id)
        return python_kind.signals(code, params, bars, show_traceback=bool(owner_id) and actor_id == owner_id)
    if kind in _KINDS:
        return _KINDS[kind].signals(params, bars)
    spec = domain_strategies.get_strategy(kind)
    return spec.signals(bars, domain_strategies.validate_params(kind, params))


def run_failure_reason(exc: BaseException) -> str:
    """Return the stable reason a failed signal computation gives its bot (``strategy_error`` if unknown)."""
    if isinstance(exc, StrategyFailed | SandboxUnavailable):
        return exc.reason
    return "strategy_error"


DEFAULT_CHECK_SYMBOL, DEFAULT_CHECK_INTERVAL = "BTCUSDT", "1h"


def check_code(
    *, code: str, params: Mapping[str, Any] | None, symbol: str | None = None, interval: str | None = None
) -> CheckResult:
    """Compile ``code`` and run it in the sandbox on the latest CHECK_BARS bars of ``symbol``.

    Nothing is stored. Syntax and size errors are 422 with ``fields.code`` (line and column);
    parameters are checked against its PARAMS (422 per field); a failing run is a 422 with the
    sandbox's reason; 503 when the sandbox is unavailable.
    """
    python_kind.compile_check(code)  # before loading any bars
    bars = market_service.load_last_bars(
        symbol=known_symbol(symbol or DEFAULT_CHECK_SYMBOL),
        interval=interval or DEFAULT_CHECK_INTERVAL,
        count=python_kind.CHECK_BARS,
    )
    return python_kind.check(code, params, bars)


def list_templates() -> list[Template]:
    """Return the starter python strategies (SMA crossover, RSI, Bollinger breakout)."""
    return list(TEMPLATES)


def record_backtest(
    *, strategy_id: str, owner_id: str, backtest_id: str, metrics: dict[str, Any], finished_at: int
) -> bool:
    """Snapshot a completed backtest as the strategy's latest when its owner ran it and it is newer.

    Called by the backtests module when a run completes; joins the caller's transaction (the caller
    commits). "Newer" orders runs by finish time, then by id (the smallest wins a tie), as the
    backtests' own "latest completed" does. Return whether the snapshot changed.
    A session that holds the strategy's object gets it updated too (``synchronize_session="fetch"``
    through the ORM); otherwise there is nothing to update but the row, and the statement built
    once runs on the session's connection (``_RECORD``).
    """
    options = {changes.OWNER_OPTION: owner_id}
    if holds(Strategy, strategy_id):
        changed = db.session.scalars(
            _record_statement(strategy_id, owner_id, backtest_id, metrics, finished_at),
            execution_options=options,
        ).first()
    else:
        params = {
            "q_strategy_id": strategy_id,
            "q_owner_id": owner_id,
            "q_backtest_id": backtest_id,
            "q_metrics": metrics,
            "q_finished_at": finished_at,
        }
        changed = execute_on_connection(_RECORD, params, options=options).first()
    return changed is not None


def _record_statement(
    strategy_id: str, owner_id: str, backtest_id: str, metrics: dict[str, Any], finished_at: int
) -> Update:
    """``record_backtest``'s UPDATE with its values in it, synchronising the session's strategy object."""
    return (
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
    )


def _record_update() -> Update:
    finished_at = bindparam("q_finished_at", type_=Strategy.latest_finished_at.type)
    backtest_id = bindparam("q_backtest_id", type_=Strategy.latest_backtest_id.type)
    return (
        update(Strategy)
        .where(
            Strategy.id == bindparam("q_strategy_id"),
            Strategy.owner_id == bindparam("q_owner_id"),
            or_(
                Strategy.latest_finished_at.is_(None),
                Strategy.latest_finished_at < finished_at,
                and_(Strategy.latest_finished_at == finished_at, Strategy.latest_backtest_id > backtest_id),
            ),
        )
        .values(
            latest_backtest_id=backtest_id,
            latest_metrics=bindparam("q_metrics", type_=Strategy.latest_metrics.type),
            latest_finished_at=finished_at,
        )
        .returning(Strategy.id)
    )


# record_backtest's UPDATE, built once (its cache key too): the statement of a session without the
# strategy's object.
_RECORD = _record_update()


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


def version_content_hash_of(version_id: ColumnExpressionArgument[str | None]) -> ScalarSelect[str]:
    """Return ``version_content_hash`` as a column expression of another statement's ``version_id``
    (its value NULL without such a version): read with a row in one round trip."""
    return select(StrategyVersion.content_hash).where(StrategyVersion.id == version_id).scalar_subquery()


@dataclass(frozen=True)
class MetricAverages:
    """Averages of the server-computed KPIs of strategies' latest completed backtests."""

    strategies: int  # how many strategies have such a backtest
    win_rate: float | None  # percent
    avg_holding_days: float | None
    sharpe_ratio: float | None


def average_metrics(*, owner_id: str | None) -> MetricAverages:
    """Average win rate, holding time and Sharpe over the owner's live strategies (published ones
    when ``owner_id`` is None), from `latest_metrics`; an undefined KPI (null) is left out. One query."""
    m = Strategy.latest_metrics
    stmt = select(
        func.count(),
        func.avg(m["winRate"].as_float()),
        func.avg(m["avgHoldingDays"].as_float()),
        func.avg(m["sharpeRatio"].as_float()),
    ).where(
        Strategy.deleted_at.is_(None),
        Strategy.latest_backtest_id.is_not(None),
        Strategy.owner_id == owner_id if owner_id is not None else Strategy.is_published.is_(True),
    )
    count, win_rate, holding, sharpe = db.session.execute(stmt).one()

    def num(value: Any) -> float | None:
        return None if value is None else float(value)

    return MetricAverages(
        strategies=int(count), win_rate=num(win_rate), avg_holding_days=num(holding), sharpe_ratio=num(sharpe)
    )
