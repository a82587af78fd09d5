"""The transaction's memo of an owner's endpoints (`service._active_hooks`) is dropped by every
write of endpoints, whoever makes it: `core.changes.on_write` hears the `webhooks` table's
writes, so no writer calls anything by hand."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text, update

from backend.core import events
from backend.extensions import db
from backend.modules.webhooks import account, service
from backend.modules.webhooks.models import Webhook

URL = "http://127.0.0.1:9/hook"  # never called: allow_private lets a loopback URL be registered


def _unwrapped(func: Callable) -> Callable:
    """The service function without its @transactional: its writes then stay in the test's transaction."""
    return func.__wrapped__  # type: ignore[attr-defined,no-any-return]


def _endpoint(user_id: str, types: list[str]) -> str:
    view = _unwrapped(service.create_webhook)(actor_id=user_id, url=URL, events=types)
    return str(view.id)


def _read(user_id: str) -> dict[str, list[str]]:
    """What `on_event` sees: the memo, filled by this call if it had nothing for the owner."""
    return dict(service._active_hooks(user_id))


def _memo_holds(user_id: str) -> bool:
    memo = db.session.info.get(service._HOOKS)
    return memo is not None and user_id in memo[1]


@pytest.fixture
def ctx(app, user, allow_private):
    with app.app_context():
        try:
            first = _endpoint(user.id, ["bot.fill"])
            db.session.commit()
            yield user.id, first
        finally:
            db.session.rollback()


def _write_by_id(user_id: str, webhook_id: str, how: str) -> None:
    if how == "create":
        _endpoint(user_id, ["job.failed"])
    elif how == "update-events":
        _unwrapped(service.update_webhook)(
            actor_id=user_id, webhook_id=webhook_id, changes={"events": ["bot.order"]}
        )
    elif how == "disable":
        _unwrapped(service.update_webhook)(actor_id=user_id, webhook_id=webhook_id, changes={"active": False})
    elif how == "rotate-secret":
        _unwrapped(service.rotate_secret)(actor_id=user_id, webhook_id=webhook_id)
    elif how == "delete":  # no flush of its own: the memo's read flushes it, as a query would
        _unwrapped(service.delete_webhook)(actor_id=user_id, webhook_id=webhook_id)
    elif how == "account-deleted":  # another module path: the account deletion's subscriber
        account.on_account_deleted(events.Event("account.deleted", "", user_id, object_id=user_id))
    elif how == "orm-unflushed":  # a pending ORM change, never flushed by its writer
        db.session.get_one(Webhook, webhook_id).active = False
    elif how == "core-statement":
        db.session.execute(update(Webhook).where(Webhook.id == webhook_id).values(events=["bot.order"]))
    elif how == "textual-sql":  # names no tables: counts as a write of every table
        db.session.execute(text("UPDATE webhooks SET active = false WHERE id = :id"), {"id": webhook_id})


EXPECTED: dict[str, Callable[[str], dict[str, list[str]]]] = {
    "create": lambda first: {first: ["bot.fill"], "new": ["job.failed"]},
    "update-events": lambda first: {first: ["bot.order"]},
    "disable": lambda first: {},
    "rotate-secret": lambda first: {first: ["bot.fill"]},
    "delete": lambda first: {},
    "account-deleted": lambda first: {},
    "orm-unflushed": lambda first: {},
    "core-statement": lambda first: {first: ["bot.order"]},
    "textual-sql": lambda first: {},
}


@pytest.mark.parametrize("how", list(EXPECTED))
def test_every_write_of_endpoints_drops_the_memo(ctx, how):
    user_id, first = ctx
    assert _read(user_id) == {first: ["bot.fill"]} and _memo_holds(user_id)
    _write_by_id(user_id, first, how)  # same transaction, nothing committed
    got = _read(user_id)  # read again (the memo was dropped), not the first answer
    expected = EXPECTED[how](first)
    if "new" in expected:
        [new] = set(got) - {first}
        expected[new] = expected.pop("new")
    assert got == expected


def test_a_transaction_that_writes_no_endpoint_keeps_the_memo(ctx):
    user_id, first = ctx
    assert _read(user_id) == {first: ["bot.fill"]}
    db.session.execute(
        text("UPDATE jobs SET progress = 0 WHERE id = 'none'").execution_options(qyq_tables=("jobs",))
    )
    assert _memo_holds(user_id)


def test_no_writer_drops_the_memo_by_hand():
    backend = Path(__file__).resolve().parents[3] / "backend"
    assert not hasattr(service, "forget_hooks")
    by_hand = re.compile(r"(?<![\w])forget_hooks\b")  # the old helper; `_forget_hooks` is the listener
    assert not [p for p in backend.rglob("*.py") if by_hand.search(p.read_text())]
