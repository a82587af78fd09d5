"""Signed webhooks: users' endpoints, and one delivery row per (event, endpoint).

``on_event`` is subscribed to ``core.events``: in the emitter's transaction it adds a delivery row
(status ``pending``) for each active endpoint of the event's owner that asked for its type, and
once that commits enqueues ``webhooks.deliver`` on the ``webhooks`` queue. ``attempts.py`` makes
each attempt (claim, check the URL again, signed POST, backoff); ``outbound.py`` holds the SSRF
rules and the bounded HTTP client.

Signature: ``X-QYQ-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``
(docs/webhooks.md has a receiver's check).
"""

from __future__ import annotations

import json
import logging
import secrets
import weakref
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.exc import SQLAlchemyError

from backend.core import crypto, events
from backend.core.changes import on_write
from backend.core.db import (
    execute_on_connection,
    get_owned_or_404,
    looks_like_id,
    new_id,
    now_ms,
    on_commit,
    transactional,
)
from backend.core.pagination import Page, paginate
from backend.extensions import db
from backend.modules.webhooks import attempts, outbound
from backend.modules.webhooks.errors import (
    DeliveryNotFound,
    InvalidWebhookUrl,
    TooManyWebhooks,
    WebhookInactive,
    WebhookNotFound,
)
from backend.modules.webhooks.models import (
    FAILED,
    PENDING,
    RETRYING,
    SENDING,
    SUCCEEDED,
    Webhook,
    WebhookDelivery,
)

logger = logging.getLogger(__name__)

# The events an endpoint may subscribe to (docs/webhooks.md). `ping` is sent only by the test call.
CATALOGUE: dict[str, str] = {
    "job.succeeded": "A job (backtest, sweep, reproduction, workflow run, audit) succeeded",
    "job.failed": "A job failed",
    "job.cancelled": "A job was cancelled",
    "bot.order": "A paper bot placed an order",
    "bot.fill": "A paper bot's order was filled",
    "bot.error": "A paper bot hit an error",
    "bot.status": "A paper bot changed status",
    "workflow.notify": "A workflow reached a notify action",
    "notification.created": "A notification was added to the notification centre",
}
PING = "ping"


@dataclass(frozen=True)
class WebhookView:
    """An endpoint as the API shows it; ``secret`` only right after creation or rotation."""

    id: str
    url: str
    events: list[str]
    active: bool
    description: str
    created_at: int
    updated_at: int
    secret: str | None = None


@dataclass(frozen=True)
class DeliveryView:
    """One delivery and its latest attempt."""

    id: str
    webhook_id: str
    event_id: str
    event_type: str
    status: str
    attempts: int
    response_code: int | None
    duration_ms: int | None
    error: str | None
    next_retry_at: int | None
    last_attempt_at: int | None
    delivered_at: int | None
    replay_of: str | None
    created_at: int


def _view(row: Webhook, secret: str | None = None) -> WebhookView:
    return WebhookView(
        row.id, row.url, list(row.events), row.active, row.description, row.created_at, row.updated_at, secret
    )


def _delivery_view(d: WebhookDelivery) -> DeliveryView:
    return DeliveryView(
        d.id,
        d.webhook_id,
        d.event_id,
        d.event_type,
        d.status,
        d.attempts,
        d.response_code,
        d.duration_ms,
        d.error,
        d.next_retry_at,
        d.last_attempt_at,
        d.delivered_at,
        d.replay_of,
        d.created_at,
    )


def _new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _checked_url(url: str) -> str:
    try:
        outbound.check_url(url, allow_private=bool(current_app.config["WEBHOOKS_ALLOW_PRIVATE"]))
    except outbound.Refused as exc:
        raise InvalidWebhookUrl(str(exc), fields={"url": [str(exc)]}) from exc
    return url


# --- Endpoints -------------------------------------------------------------------------------


def list_webhooks(*, actor_id: str, page: int, page_size: int) -> Page[WebhookView]:
    """Return the caller's endpoints, newest first."""
    stmt = select(Webhook).where(Webhook.owner_id == actor_id).order_by(Webhook.created_at.desc(), Webhook.id)
    result = paginate(stmt, page=page, page_size=page_size)
    return Page(items=[_view(w) for w in result.items], total=result.total)


def get_webhook(*, actor_id: str, webhook_id: str) -> WebhookView:
    """Return one of the caller's endpoints (without its secret)."""
    return _view(get_owned_or_404(Webhook, webhook_id, actor_id=actor_id, error=WebhookNotFound))


@transactional
def create_webhook(
    *, actor_id: str, url: str, events: list[str], active: bool = True, description: str = ""
) -> WebhookView:
    """Register an endpoint; its secret is generated here and returned this once."""
    url = _checked_url(url)  # DNS before any lock: a slow resolver holds no database lock
    limit = int(current_app.config["WEBHOOKS_MAX_PER_USER"])
    # Serialise the caller's creations so two at once cannot both pass the limit.
    db.session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"webhooks:{actor_id}"))))
    count = db.session.scalar(select(func.count()).select_from(Webhook).where(Webhook.owner_id == actor_id))
    if int(count or 0) >= limit:
        raise TooManyWebhooks(f"You can register at most {limit} webhooks.")
    secret = _new_secret()
    row = Webhook(
        id=new_id(),
        owner_id=actor_id,
        url=url,
        events=sorted(set(events)),
        active=active,
        description=description,
        secret_encrypted=crypto.encrypt(secret),
    )
    db.session.add(row)
    db.session.flush()
    return _view(row, secret)


@transactional
def update_webhook(*, actor_id: str, webhook_id: str, changes: dict[str, Any]) -> WebhookView:
    """Change an endpoint's URL, events, active flag or description."""
    url = _checked_url(changes["url"]) if "url" in changes else None  # DNS before the row lock
    row = get_owned_or_404(Webhook, webhook_id, actor_id=actor_id, error=WebhookNotFound, lock=True)
    if url is not None:
        row.url = url
    if "events" in changes:
        row.events = sorted(set(changes["events"]))
    for name in ("active", "description"):
        if name in changes:
            setattr(row, name, changes[name])
    db.session.flush()
    return _view(row)


@transactional
def delete_webhook(*, actor_id: str, webhook_id: str) -> None:
    """Delete an endpoint and its delivery log (queued attempts then find nothing to send)."""
    db.session.delete(get_owned_or_404(Webhook, webhook_id, actor_id=actor_id, error=WebhookNotFound))


@transactional
def rotate_secret(*, actor_id: str, webhook_id: str) -> WebhookView:
    """Replace an endpoint's secret; the new one is returned this once and signs every later attempt."""
    row = get_owned_or_404(Webhook, webhook_id, actor_id=actor_id, error=WebhookNotFound, lock=True)
    secret = _new_secret()
    row.secret_encrypted = crypto.encrypt(secret)
    db.session.flush()
    return _view(row, secret)


# --- Deliveries ------------------------------------------------------------------------------


def register() -> None:
    """Subscribe webhooks to the event bus and drop the endpoint memo on every write of endpoints
    (create_app calls this once; idempotent)."""
    events.subscribe(on_event)
    on_write(Webhook.__tablename__, _forget_hooks)


def _payload(event_id: str, event: events.Event) -> str:
    return json.dumps({"id": event_id, **event.wire()}, separators=(",", ":"), default=str)


def on_event(event: events.Event) -> None:
    """Add a delivery per subscribed active endpoint of the event's owner (in the emitter's transaction).

    The owner's endpoints are read without a savepoint of their own (most owners have none, and a
    savepoint costs two round trips, SAVEPOINT and RELEASE, per event): that read is one index
    lookup on the cause's connection and snapshot, so it fails only where the cause's transaction
    fails too (the connection or the server lost, the statement cancelled; no statement timeout
    is set), and its error then fails the cause as that transaction would. The writes, which can
    fail on their own (a delivery's INSERT, the trim), stay in a savepoint: logged, never failing
    the cause.
    """
    if event.type not in CATALOGUE or not event.user_id:
        return
    hooks = [webhook_id for webhook_id, types in _active_hooks(event.user_id) if event.type in types]
    if not hooks:
        return  # no endpoint of the owner asked for this type: no statement beyond the read
    try:
        with db.session.begin_nested():  # a failure here is logged and never fails the event's cause
            ids = _add_deliveries(event, hooks)
    except SQLAlchemyError:
        logger.exception("webhook deliveries of %s not stored", event.type)
        return
    on_commit(lambda: attempts.enqueue(ids))


def _add_deliveries(event: events.Event, hooks: list[str]) -> list[str]:
    event_id, ids = new_id(), []
    for webhook_id in hooks:
        ids.append(_add_delivery(webhook_id, event_id, event.type, _payload(event_id, event)))
    return ids


_HOOKS = "qyq_webhooks_of"  # session.info: (weak ref to the transaction, {owner: [(id, types)]})


def _memo() -> dict[str, list[tuple[str, list[str]]]]:
    """Return the owners' endpoints read in the session's current transaction (a new one: none)."""
    transaction = db.session().get_transaction()
    memo = db.session.info.get(_HOOKS)
    if transaction is None or memo is None or memo[0]() is not transaction:
        memo = (weakref.ref(transaction) if transaction is not None else lambda: None, {})
        db.session.info[_HOOKS] = memo
    hooks: dict[str, list[tuple[str, list[str]]]] = memo[1]
    return hooks


def _active_hooks(owner_id: str) -> list[tuple[str, list[str]]]:
    """Return the owner's active endpoints and the event types each asked for, read once per transaction.

    A transaction that tells several events of one owner (a job's success, then the notification it
    made) reads the endpoints once, and an event no endpoint asked for then costs no statement. The
    memo belongs to the session's transaction (a new one reads again), and any write to the
    ``webhooks`` table drops it, whoever makes it (``core.changes.on_write``, `register`). The
    memo answers as a query would: pending ORM changes are flushed first (autoflush), so an
    endpoint added, changed or deleted in this transaction but not yet flushed counts too.
    """
    hooks = _memo()
    if owner_id in hooks and db.session.autoflush:
        db.session.flush()  # as a query's autoflush: a pending endpoint write is noted, dropping the memo
        hooks = _memo()
    if owner_id not in hooks:
        rows = execute_on_connection(_ACTIVE_HOOKS, {"q_owner_id": owner_id})  # autoflushes as a query does
        hooks = _memo()  # the read began the session's transaction if none had: the memo of that one
        hooks[owner_id] = [(row.id, list(row.events)) for row in rows]
    return hooks[owner_id]


# ``_active_hooks``' read, built once (its cache key too); plain rows, so it runs on the session's connection.
_ACTIVE_HOOKS = select(Webhook.id, Webhook.events).where(
    Webhook.owner_id == bindparam("q_owner_id"), Webhook.active.is_(True)
)


def _forget_hooks(session: Any) -> None:
    """Drop the memo of ``_active_hooks`` (``changes.on_write``: the transaction wrote ``webhooks``)."""
    session.info.pop(_HOOKS, None)


def _add_delivery(
    webhook_id: str, event_id: str, event_type: str, payload: str, replay_of: str | None = None
) -> str:
    now = now_ms()
    delivery = WebhookDelivery(
        id=new_id(),
        webhook_id=webhook_id,
        event_id=event_id,
        event_type=event_type,
        payload=payload,
        status=PENDING,
        attempts=0,
        next_retry_at=now,
        replay_of=replay_of,
        created_at=now,
    )
    db.session.add(delivery)
    db.session.flush()
    _trim(webhook_id)
    return delivery.id


def _trim(webhook_id: str) -> None:
    keep = int(current_app.config["WEBHOOKS_DELIVERIES_KEPT"])
    oldest = (
        select(WebhookDelivery.id)
        .where(WebhookDelivery.webhook_id == webhook_id)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
        .offset(keep)
    )
    db.session.execute(delete(WebhookDelivery).where(WebhookDelivery.id.in_(oldest.scalar_subquery())))


def _owned_delivery(actor_id: str, webhook_id: str, delivery_id: str) -> tuple[Webhook, WebhookDelivery]:
    hook = get_owned_or_404(Webhook, webhook_id, actor_id=actor_id, error=WebhookNotFound)
    delivery = db.session.get(WebhookDelivery, delivery_id) if looks_like_id(delivery_id) else None
    if delivery is None or delivery.webhook_id != hook.id:
        raise DeliveryNotFound()
    return hook, delivery


def list_deliveries(*, actor_id: str, webhook_id: str, page: int, page_size: int) -> Page[DeliveryView]:
    """Return an endpoint's delivery log, newest first."""
    get_owned_or_404(Webhook, webhook_id, actor_id=actor_id, error=WebhookNotFound)
    stmt = (
        select(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == webhook_id)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
    )
    result = paginate(stmt, page=page, page_size=page_size)
    return Page(items=[_delivery_view(d) for d in result.items], total=result.total)


@transactional
def replay_delivery(*, actor_id: str, webhook_id: str, delivery_id: str) -> DeliveryView:
    """Send a past delivery's body again as a new delivery (same event id; signed anew)."""
    hook, original = _owned_delivery(actor_id, webhook_id, delivery_id)
    if not hook.active:
        raise WebhookInactive()
    new = _add_delivery(hook.id, original.event_id, original.event_type, original.payload, original.id)
    on_commit(lambda: attempts.enqueue([new]))
    return _delivery_view(db.session.get_one(WebhookDelivery, new))


@transactional
def ping(*, actor_id: str, webhook_id: str) -> DeliveryView:
    """Send a signed ``ping`` event to an endpoint now (the result appears in its delivery log)."""
    hook = get_owned_or_404(Webhook, webhook_id, actor_id=actor_id, error=WebhookNotFound)
    if not hook.active:
        raise WebhookInactive()
    event_id = new_id()
    event = events.Event(PING, "", actor_id, object_id=hook.id, data={"webhookId": hook.id})
    new = _add_delivery(hook.id, event_id, PING, _payload(event_id, event))
    on_commit(lambda: attempts.enqueue([new]))
    return _delivery_view(db.session.get_one(WebhookDelivery, new))


def deliver(*, delivery_id: str) -> str | None:
    """Make one attempt of a delivery if it is due; return its status afterwards (None: not due)."""
    return attempts.deliver(delivery_id=delivery_id)


def enqueue_due() -> int:
    """Enqueue every delivery whose retry is due (the beat's task); return how many."""
    return attempts.enqueue_due()


# --- health (the admin console's operations view) -------------------------------------------------


@dataclass(frozen=True)
class DeliveryHealth:
    """Deliveries of every user by status, and how late the oldest waiting one is."""

    endpoints: int
    active_endpoints: int
    by_status: dict[str, int]
    oldest_due_at: int | None  # the earliest next attempt among pending and retrying deliveries
    overdue_ms: int  # how far behind now that attempt is (0 when none is late)


def delivery_health() -> DeliveryHealth:
    """Return counts over the kept delivery log (two aggregate statements, the status index)."""
    endpoints, active = db.session.execute(
        select(func.count(), func.count().filter(Webhook.active.is_(True))).select_from(Webhook)
    ).one()
    counts = dict.fromkeys((PENDING, SENDING, RETRYING, SUCCEEDED, FAILED), 0)
    for status, n in db.session.execute(
        select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
    ):
        counts[str(status)] = int(n)
    oldest = db.session.scalar(
        select(func.min(WebhookDelivery.next_retry_at)).where(WebhookDelivery.status.in_((PENDING, RETRYING)))
    )
    overdue = max(0, now_ms() - int(oldest)) if oldest is not None else 0
    return DeliveryHealth(int(endpoints), int(active), counts, oldest, overdue)
