"""notifications.service.create: its INSERT ... SELECT built once stores what the per-call one stored."""

from __future__ import annotations

import itertools
from dataclasses import asdict

from sqlalchemy import delete, literal, select
from sqlalchemy.dialects.postgresql import insert

from backend.core import changes
from backend.extensions import db
from backend.modules.notifications import service
from backend.modules.notifications.models import Notification, NotificationMute
from backend.modules.notifications.sources import Draft


def _per_call(draft: Draft, view: service.NotificationView, keep: int) -> str | None:
    """The statement ``create`` built on every call before it was built once (the oracle)."""
    values = {
        "user_id": draft.user_id,
        "dedupe_key": draft.dedupe_key and draft.dedupe_key[:200],
        **asdict(view),
    }
    columns = Notification.__table__.c
    muted = select(NotificationMute.type).where(
        NotificationMute.user_id == draft.user_id, NotificationMute.type == draft.type
    )
    unless_muted = select(*(literal(v, columns[k].type).label(k) for k, v in values.items())).where(
        ~muted.exists()
    )
    stmt = insert(Notification).from_select(list(values), unless_muted)
    if draft.dedupe_key:
        stmt = stmt.on_conflict_do_nothing(index_elements=["user_id", "dedupe_key"])
    created = stmt.returning(Notification.id).cte("created")
    oldest = (
        select(Notification.id)
        .where(Notification.user_id == draft.user_id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .offset(max(keep - 1, 0))
    )
    trimmed = (
        delete(Notification)
        .where(Notification.id.in_(oldest.scalar_subquery()), select(created.c.id).exists())
        .cte("trimmed")
    )
    return db.session.execute(select(created.c.id).add_cte(trimmed)).scalar()


def _rows(user_id: str) -> list[tuple]:
    return [
        tuple(r)
        for r in db.session.execute(
            select(
                Notification.type,
                Notification.title,
                Notification.body,
                Notification.link,
                Notification.object_id,
                Notification.read,
                Notification.created_at,
                Notification.dedupe_key,
            )
            .where(Notification.user_id == user_id)
            .order_by(Notification.created_at, Notification.title)
        )
    ]


def test_create_built_once_stores_mutes_dedupes_and_trims_as_the_per_call_statement(
    app, user, other_user, monkeypatch
):
    keep = 3
    monkeypatch.setitem(app.config, "NOTIFICATIONS_MAX_PER_USER", keep)
    clock = itertools.count(1_000)
    monkeypatch.setattr(service, "now_ms", lambda: next(clock))
    for uid in (user.id, other_user.id):
        db.session.add(NotificationMute(user_id=uid, type="forum.reply"))
    db.session.flush()
    long = "t" * 400
    drafts = [
        ("bot.fill", "one", "body", "/bots/1", "o" * 40, None),
        ("bot.fill", long, None, "/l" * 300, None, "k1"),
        ("bot.fill", "dup", "again", "/bots/1", None, "k1"),  # told already: nothing, no trim
        ("forum.reply", "muted", None, "/forum", None, None),  # muted: nothing, no trim
        ("job.failed", "two", "b2", "/jobs", "x", "k" * 250),
        ("job.failed", "three", "b3", "/jobs", "y", None),
        ("job.failed", "four", "b4", "/jobs", "z", "k2"),  # trims the oldest
    ]
    for type_, title, body, link, object_id, dedupe in drafts:
        mine = Draft(user.id, type_, title, body, link, object_id, dedupe)
        theirs = Draft(other_user.id, type_, title, body, link, object_id, dedupe)
        db.session.info.pop("qyq_changes", None)
        view = service.create(mine)
        assert db.session.info.get("qyq_changes") == ({"notifications": {changes.UNKNOWN}} if view else None)
        oracle_view = service.NotificationView(
            id=service.new_id(),
            type=type_,
            title=title[:300],
            body=body,
            link=link[:500],
            object_id=object_id[:36] if object_id else None,
            read=False,
            created_at=view.created_at if view else next(clock),
        )
        assert (view is None) == (_per_call(theirs, oracle_view, keep) is None)
    assert len(_rows(user.id)) == keep
    assert _rows(user.id) == _rows(other_user.id)
