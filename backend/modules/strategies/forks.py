"""Publishing and forking strategies for the marketplace, and the ``strategy.changed`` event.

Each function joins the caller's transaction (the marketplace's service commits). A fork copies
one pinned version into a new strategy of the copier: version 1 with the same content, attribution
in ``forked_from_*``; ``hide_code`` makes it a sealed copy (``code_hidden``: its code is returned to
no one, its owner included; see ``read_models.code_visible``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from backend.core import events
from backend.core.db import get_readable_or_404, looks_like_id, now_ms
from backend.extensions import db
from backend.modules.strategies.errors import StrategyNotFound, StrategyVersionNotFound
from backend.modules.strategies.models import Strategy, StrategyVersion
from backend.modules.strategies.read_models import StrategyView, build_views
from backend.modules.strategies.versions import Content, add_version

STRATEGY_CHANGED = "strategy.changed"


def listing_state(row: Strategy) -> dict[str, Any]:
    """Return what a listing shows of a strategy: metadata, published (and live), current version."""
    return {
        "name": row.name,
        "description": row.description or "",
        "symbol": row.symbol,
        "interval": row.interval,
        "kind": row.kind,
        "tags": list(row.tags or []),
        "published": bool(row.is_published and row.deleted_at is None),
        "version_id": row.current_version_id,
    }


def emit_changed(row: Strategy) -> None:
    """Tell subscribers (the marketplace) the strategy's listed state now, in this transaction.

    A subscriber-only event (topic ``""``): it is never streamed to clients.
    """
    db.session.flush()
    events.emit(
        events.Event(
            type=STRATEGY_CHANGED, topic="", user_id=row.owner_id, object_id=row.id, data=listing_state(row)
        )
    )


def _owned_row(actor_id: str, strategy_id: str, *, lock: bool = False) -> Strategy:
    row = get_readable_or_404(
        Strategy,
        strategy_id,
        actor_id=actor_id,
        public_attr="is_published",
        error=StrategyNotFound,
        lock=lock,
    )
    if row.owner_id != actor_id:
        raise StrategyNotFound()  # someone else's published strategy: not the caller's to publish
    return row


def _owner_view(row: Strategy) -> StrategyView:
    return build_views([row], viewer_id=row.owner_id)[0]


def set_published(
    *,
    actor_id: str,
    strategy_id: str,
    published: bool,
    description: str | None = None,
    tags: list[str] | None = None,
) -> StrategyView:
    """Publish or unpublish one of the caller's strategies (optionally new description and tags)."""
    row = _owned_row(actor_id, strategy_id, lock=True)
    row.is_published = published
    if description is not None:
        row.description = description
    if tags is not None:
        row.tags = list(tags)
    row.updated_at = now_ms()
    emit_changed(row)
    return _owner_view(row)


def fork_strategy(*, actor_id: str, strategy_id: str, version_id: str, hide_code: bool) -> StrategyView:
    """Copy one version of a published strategy into a new strategy of the caller (version 1).

    The content (kind, parameters, code, descriptor, hash) is copied as is, not re-validated: it
    is the version that was verified. A copy of a sealed copy stays sealed.
    """
    row = db.session.get(Strategy, strategy_id) if looks_like_id(strategy_id) else None
    if row is None or row.deleted_at is not None or not (row.is_published or row.owner_id == actor_id):
        raise StrategyNotFound()
    version = db.session.get(StrategyVersion, version_id) if looks_like_id(version_id) else None
    if version is None or version.strategy_id != row.id:
        raise StrategyVersionNotFound()
    copy = Strategy(
        owner_id=actor_id,
        name=row.name,
        symbol=row.symbol,
        interval=row.interval,
        kind=version.kind,
        tags=list(row.tags or []),
        description=row.description or "",
        is_published=False,
        version_count=0,
        code_hidden=hide_code or row.code_hidden,
        forked_from_strategy_id=row.id,
        forked_from_author_id=row.owner_id,
    )
    db.session.add(copy)
    db.session.flush()
    content = Content(version.kind, dict(version.params), version.code, version.params_schema)
    add_version(copy, actor_id=actor_id, content=content)
    return _owner_view(copy)


def version_code(*, version_id: str) -> str | None:
    """Return the code of a version (None for kinds without code); the caller decides who may read it."""
    return db.session.scalar(select(StrategyVersion.code).where(StrategyVersion.id == version_id))
