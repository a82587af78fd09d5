"""Signed webhooks: users' endpoints, one delivery row per (event, endpoint), attempts with backoff.

``on_event`` is subscribed to ``core.events``: in the emitter's transaction it adds a delivery row
(status ``pending``) for each active endpoint of the event's owner that asked for its type, and
once that commits enqueues ``webhooks.deliver`` on the ``webhooks`` queue. An attempt claims the
row (``pending``/``retrying`` -> ``sending``, so two copies of the task never both send), checks the
URL again, POSTs the signed body (``outbound.py``) and records the outcome: ``succeeded`` on a 2xx,
else ``retrying`` with ``next_retry_at`` = now + WEBHOOKS_RETRY_BASE_S * 2^(attempt-1) (at most
WEBHOOKS_RETRY_MAX_S), and ``failed`` after WEBHOOKS_MAX_ATTEMPTS. The beat's
``webhooks.enqueue_due`` enqueues due retries, deliveries whose first enqueue was lost (broker
down) and attempts a killed worker left ``sending``. The row is the record; the queue is a nudge.

Signature: ``X-QYQ-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``
(docs/webhooks.md has a receiver's check).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from backend.core import crypto, events
from backend.core.db import get_owned_or_404, looks_like_id, new_id, now_ms, on_commit, transactional
from backend.core.pagination import Page, paginate
from backend.extensions import db
from backend.modules.webhooks import outbound
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
SIGNATURE_HEADER = "X-QYQ-Signature"
STALE_SENDING_MS = 10 * 60 * 1000  # an attempt still "sending" after this was lost with its worker
FIRST_ENQUEUE_GRACE_MS = 30_000  # the beat leaves a new delivery to its own enqueue this long
DUE_BATCH = 500


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


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Return the ``X-QYQ-Signature`` value of ``body`` sent at ``timestamp`` (Unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


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
        url=_checked_url(url),
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
    row = get_owned_or_404(Webhook, webhook_id, actor_id=actor_id, error=WebhookNotFound, lock=True)
    if "url" in changes:
        row.url = _checked_url(changes["url"])
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
    """Subscribe webhooks to the event bus (create_app calls this once; idempotent)."""
    events.subscribe(on_event)


def _payload(event_id: str, event: events.Event) -> str:
    return json.dumps({"id": event_id, **event.wire()}, separators=(",", ":"), default=str)


def on_event(event: events.Event) -> None:
    """Add a delivery per subscribed active endpoint of the event's owner (in the emitter's transaction)."""
    if event.type not in CATALOGUE or not event.user_id:
        return
    try:
        with db.session.begin_nested():  # a failure here is logged and never fails the event's cause
            ids = _add_deliveries(event)
    except SQLAlchemyError:
        logger.exception("webhook deliveries of %s not stored", event.type)
        return
    if ids:
        on_commit(lambda: _enqueue(ids))


def _add_deliveries(event: events.Event) -> list[str]:
    hooks = db.session.scalars(
        select(Webhook.id).where(
            Webhook.owner_id == event.user_id, Webhook.active.is_(True), Webhook.events.contains([event.type])
        )
    ).all()
    event_id, ids = new_id(), []
    for webhook_id in hooks:
        ids.append(_add_delivery(webhook_id, event_id, event.type, _payload(event_id, event)))
    return ids


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


def _enqueue(ids: list[str]) -> None:
    task = current_app.extensions["celery"].tasks["webhooks.deliver"]
    for delivery_id in ids:
        try:
            task.apply_async(kwargs={"delivery_id": delivery_id}, retry=False)
        except Exception:  # noqa: BLE001 - the row is the record: the beat's enqueue_due sends it later
            logger.warning(
                "webhook delivery %s not enqueued; the beat will retry it", delivery_id, exc_info=True
            )


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
    on_commit(lambda: _enqueue([new]))
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
    on_commit(lambda: _enqueue([new]))
    return _delivery_view(db.session.get_one(WebhookDelivery, new))


@dataclass(frozen=True)
class _Claim:
    url: str
    secret: str
    payload: str
    event_id: str
    event_type: str
    attempts: int


@transactional
def _claim(delivery_id: str) -> _Claim | None:
    """Take the delivery for one attempt if it is due; None if another attempt has it or it is done."""
    now = now_ms()
    row = db.session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status.in_((PENDING, RETRYING)),
            or_(WebhookDelivery.next_retry_at.is_(None), WebhookDelivery.next_retry_at <= now),
        )
        .values(
            status=SENDING, attempts=WebhookDelivery.attempts + 1, last_attempt_at=now, next_retry_at=None
        )
        .returning(WebhookDelivery.webhook_id, WebhookDelivery.attempts)
    ).first()
    if row is None:
        return None
    hook = db.session.get(Webhook, row.webhook_id)
    delivery = db.session.get_one(WebhookDelivery, delivery_id)
    if hook is None or not hook.active:
        delivery.status, delivery.error = FAILED, "The endpoint is no longer active."
        return None
    return _Claim(
        hook.url,
        crypto.decrypt(hook.secret_encrypted),
        delivery.payload,
        delivery.event_id,
        delivery.event_type,
        row.attempts,
    )


def _headers(claim: _Claim, delivery_id: str, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "QYQuant-Webhooks/1",
        "X-QYQ-Event-Id": claim.event_id,
        "X-QYQ-Event-Type": claim.event_type,
        "X-QYQ-Delivery-Id": delivery_id,
        SIGNATURE_HEADER: sign(claim.secret, int(time.time()), body),
    }


def _limits() -> outbound.Limits:
    cfg = current_app.config
    return outbound.Limits(
        float(cfg["WEBHOOKS_CONNECT_TIMEOUT_S"]),
        float(cfg["WEBHOOKS_READ_TIMEOUT_S"]),
        int(cfg["WEBHOOKS_MAX_RESPONSE_BYTES"]),
    )


def deliver(*, delivery_id: str) -> str | None:
    """Make one attempt of a delivery if it is due; return its status afterwards (None: not due)."""
    claim = _claim(delivery_id)
    if claim is None:
        return None
    body = claim.payload.encode()
    started = time.monotonic()
    code: int | None = None
    error: str | None = None
    try:
        target = outbound.check_url(
            claim.url, allow_private=bool(current_app.config["WEBHOOKS_ALLOW_PRIVATE"])
        )
        code = outbound.post(target, body, _headers(claim, delivery_id, body), _limits()).status
        if not 200 <= code < 300:
            error = f"The receiver answered HTTP {code}" + (
                " (redirects are not followed)." if 300 <= code < 400 else "."
            )
    except outbound.Refused as exc:
        error = f"Refused: {exc}"
    except (OSError, http.client.HTTPException) as exc:  # unreachable, timed out, malformed
        error = f"{type(exc).__name__}: {exc}"[:1000]
    return _record(delivery_id, claim.attempts, code, int((time.monotonic() - started) * 1000), error)


def backoff_s(attempts: int) -> int:
    """Return the delay before the next attempt after ``attempts`` failed ones."""
    cfg = current_app.config
    return int(
        min(int(cfg["WEBHOOKS_RETRY_BASE_S"]) * 2 ** max(attempts - 1, 0), int(cfg["WEBHOOKS_RETRY_MAX_S"]))
    )


@transactional
def _record(
    delivery_id: str, attempts: int, code: int | None, duration_ms: int, error: str | None
) -> str | None:
    delivery = db.session.get(WebhookDelivery, delivery_id, with_for_update=True, populate_existing=True)
    if delivery is None:
        return None  # the endpoint was deleted meanwhile
    delivery.response_code, delivery.duration_ms, delivery.error = code, duration_ms, error
    if error is None:
        delivery.status, delivery.delivered_at, delivery.next_retry_at = SUCCEEDED, now_ms(), None
    elif attempts >= int(current_app.config["WEBHOOKS_MAX_ATTEMPTS"]):
        delivery.status, delivery.next_retry_at = FAILED, None
    else:
        delivery.status, delivery.next_retry_at = RETRYING, now_ms() + backoff_s(attempts) * 1000
    return delivery.status


@transactional
def _due_ids(now: int) -> list[str]:
    stale = (
        db.session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.status == SENDING, WebhookDelivery.last_attempt_at < now - STALE_SENDING_MS
            )
            .values(status=RETRYING, next_retry_at=now, error="The attempt was lost (worker stopped).")
            .returning(WebhookDelivery.id)
        )
        .scalars()
        .all()
    )
    due = db.session.scalars(
        select(WebhookDelivery.id)
        .where(
            or_(
                (WebhookDelivery.status == RETRYING) & (WebhookDelivery.next_retry_at <= now),
                (WebhookDelivery.status == PENDING)
                & (WebhookDelivery.next_retry_at <= now - FIRST_ENQUEUE_GRACE_MS),
            )
        )
        .order_by(WebhookDelivery.next_retry_at)
        .limit(DUE_BATCH)
    ).all()
    return list(dict.fromkeys([*stale, *due]))


def enqueue_due() -> int:
    """Enqueue every delivery whose retry is due (the beat's task); return how many."""
    ids = _due_ids(now_ms())
    _enqueue(ids)
    return len(ids)
