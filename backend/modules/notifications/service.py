"""The notification centre: events become rows, users list, count and mark them read, and mute types.

``on_event`` is subscribed to ``core.events`` at start-up (``register``): it runs inside the
emitter's transaction, so a notification exists exactly when its cause committed. Each stored
notification is emitted again as ``notification.created`` (topic ``notifications``), which the
stream readers and webhook endpoints see after the commit.

The unread count is a ``COUNT(*)`` over a partial index of unread rows, not a counter: it is exact
under any concurrency, and cheap because each user keeps at most ``NOTIFICATIONS_MAX_PER_USER``
rows (the oldest are deleted when a new one arrives).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from flask import current_app
from sqlalchemy import CTE, ColumnElement, Delete, Integer, Select, bindparam, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import SQLAlchemyError

from backend.core import changes, events
from backend.core.db import execute_on_connection, new_id, now_ms, transactional
from backend.core.pagination import Page, paginate
from backend.core.schemas import camelize
from backend.extensions import db
from backend.modules.notifications.errors import UnknownNotificationType
from backend.modules.notifications.models import Notification, NotificationMute
from backend.modules.notifications.sources import TYPES, Draft, draft_for

logger = logging.getLogger(__name__)

CREATED = "notification.created"


@dataclass(frozen=True)
class NotificationView:
    """A notification as the API shows it."""

    id: str
    type: str
    title: str
    body: str | None
    link: str
    object_id: str | None
    read: bool
    created_at: int


def _view(n: Notification) -> NotificationView:
    return NotificationView(n.id, n.type, n.title, n.body, n.link, n.object_id, n.read, n.created_at)


def wire(view: NotificationView) -> dict[str, Any]:
    """Return the camelCase JSON form of a notification (as GET /api/notifications shows it)."""
    return {camelize(k): v for k, v in asdict(view).items()}


def register() -> None:
    """Subscribe the centre to the event bus (create_app calls this once; idempotent)."""
    events.subscribe(on_event)


def on_event(event: events.Event) -> None:
    """Store the notification ``event`` maps to, unless its type is muted (in the emitter's transaction)."""
    draft = draft_for(event)
    if draft is None:
        return
    # A savepoint: a notification that cannot be stored is logged, and never fails its cause.
    try:
        with db.session.begin_nested():
            create(draft)
    except SQLAlchemyError:
        logger.exception("notification %s for %s not stored", draft.type, draft.user_id)


def create(draft: Draft) -> NotificationView | None:
    """Store ``draft`` in the caller's transaction; None if muted or already told (same dedupe key).

    One statement: ``INSERT ... SELECT`` of the values where the user has not muted the type, and
    (in the same statement) the retention's DELETE of the user's older rows when it inserted. It is
    built once (``_CREATE``, ``_CREATE_DEDUPED``) and run on the session's connection: it needs no
    ORM feature (its rows are plain), and the write watch is told by hand as before.
    """
    view = NotificationView(
        id=new_id(),
        type=draft.type,
        title=draft.title[:300],
        body=draft.body,
        link=draft.link[:500],
        object_id=draft.object_id[:36] if draft.object_id else None,
        read=False,
        created_at=now_ms(),
    )
    params = {f"q_{k}": v for k, v in asdict(view).items()}
    params["q_user_id"] = draft.user_id
    params["q_dedupe_key"] = draft.dedupe_key and draft.dedupe_key[:200]
    params["q_offset"] = max(int(current_app.config["NOTIFICATIONS_MAX_PER_USER"]) - 1, 0)
    stmt = _CREATE_DEDUPED if draft.dedupe_key else _CREATE
    # A SELECT carrying the writes in CTEs: the write watch (core.changes) is told by hand, with
    # the owner unknown, as it noted the INSERT and DELETE statements of notifications before.
    if execute_on_connection(stmt, params).first() is None:
        return None
    changes.note(db.session, "notifications", [None])
    events.emit(events.Event(CREATED, "notifications", draft.user_id, object_id=view.id, data=wire(view)))
    return view


# The columns ``create`` inserts, in the INSERT's order (each value a bind named ``q_<column>``).
_CREATED_COLUMNS = (
    "user_id",
    "dedupe_key",
    "id",
    "type",
    "title",
    "body",
    "link",
    "object_id",
    "read",
    "created_at",
)


def _create_statement(*, deduped: bool) -> Select[Any]:
    """Return ``create``'s statement: the INSERT ... SELECT unless muted, and the retention's DELETE.

    Built once per shape (a dedupe key adds ``ON CONFLICT DO NOTHING``); the values are binds.
    """
    columns = Notification.__table__.c
    binds = {k: bindparam(f"q_{k}", type_=columns[k].type) for k in _CREATED_COLUMNS}
    muted = select(NotificationMute.type).where(
        NotificationMute.user_id == binds["user_id"], NotificationMute.type == binds["type"]
    )
    unless_muted = select(*(bind.label(k) for k, bind in binds.items())).where(~muted.exists())
    stmt = insert(Notification).from_select(list(binds), unless_muted)
    if deduped:
        stmt = stmt.on_conflict_do_nothing(index_elements=["user_id", "dedupe_key"])
    created = stmt.returning(Notification.id).cte("created")
    trimmed = _trim(binds["user_id"], created, bindparam("q_offset", type_=Integer)).cte("trimmed")
    return select(created.c.id).add_cte(trimmed)


def _trim(user_id: ColumnElement[str], created: CTE, offset: ColumnElement[int]) -> Delete:
    """Return the DELETE keeping the user's newest NOTIFICATIONS_MAX_PER_USER rows (retention).

    It runs in the statement that inserts ``created`` and sees the rows as they were before it:
    the new one and the newest ``keep - 1`` earlier ones stay (``offset``: ``keep - 1``), and
    nothing goes if nothing was inserted (muted, or told already).
    """
    oldest = (
        select(Notification.id)
        .where(Notification.user_id == user_id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .offset(offset)
    )
    return delete(Notification).where(
        Notification.id.in_(oldest.scalar_subquery()), select(created.c.id).exists()
    )


_CREATE = _create_statement(deduped=False)
_CREATE_DEDUPED = _create_statement(deduped=True)


def list_notifications(*, actor_id: str, unread: bool, page: int, page_size: int) -> Page[NotificationView]:
    """Return the caller's notifications, newest first (only unread ones if ``unread``)."""
    stmt = select(Notification).where(Notification.user_id == actor_id)
    if unread:
        stmt = stmt.where(Notification.read.is_(False))
    stmt = stmt.order_by(Notification.created_at.desc(), Notification.id.desc())
    result = paginate(stmt, page=page, page_size=page_size)
    return Page(items=[_view(n) for n in result.items], total=result.total)


def _unread(user_id: str) -> int:
    return int(
        db.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user_id, Notification.read.is_(False))
        )
        or 0
    )


def unread_count(*, actor_id: str) -> dict[str, int]:
    """Return how many of the caller's notifications are unread."""
    return {"count": _unread(actor_id)}


@transactional
def mark_read(*, actor_id: str, ids: list[str] | None = None, all_: bool = False) -> dict[str, int]:
    """Mark the caller's notifications ``ids`` (or all) read; ids of others or unknown ids are ignored."""
    stmt = update(Notification).where(Notification.user_id == actor_id, Notification.read.is_(False))
    if not all_:
        stmt = stmt.where(Notification.id.in_(ids or []))
    updated = db.session.execute(stmt.values(read=True).returning(Notification.id)).all()
    return {"updated": len(updated), "unread": _unread(actor_id)}


@dataclass(frozen=True)
class Preferences:
    """The caller's muted types and the catalogue of every type."""

    muted: list[str]
    types: list[dict[str, str]]


def _preferences(user_id: str) -> Preferences:
    muted = db.session.scalars(
        select(NotificationMute.type)
        .where(NotificationMute.user_id == user_id)
        .order_by(NotificationMute.type)
    ).all()
    return Preferences(muted=list(muted), types=[{"type": t, "description": d} for t, d in TYPES.items()])


def get_preferences(*, actor_id: str) -> Preferences:
    """Return the caller's notification preferences."""
    return _preferences(actor_id)


@transactional
def set_preferences(*, actor_id: str, muted: list[str]) -> Preferences:
    """Replace the caller's muted types (unknown types are a 422)."""
    unknown = sorted(set(muted) - set(TYPES))
    if unknown:
        raise UnknownNotificationType(
            f"Unknown notification type(s): {', '.join(unknown)}.",
            fields={"muted": [f"Unknown type(s): {', '.join(unknown)}."]},
        )
    db.session.execute(delete(NotificationMute).where(NotificationMute.user_id == actor_id))
    for type_ in sorted(set(muted)):
        db.session.add(NotificationMute(user_id=actor_id, type=type_))
    db.session.flush()
    return _preferences(actor_id)
