"""One delivery attempt: claim the row, check the URL again, POST the signed body, record the outcome.

An attempt claims its row (``pending``/``retrying`` and due -> ``sending``, attempts + 1) in one
``UPDATE``, so two copies of the task never both send; it records ``succeeded`` on a 2xx, else
``retrying`` with ``next_retry_at`` = now + WEBHOOKS_RETRY_BASE_S * 2^(attempt-1) (at most
WEBHOOKS_RETRY_MAX_S), and ``failed`` after WEBHOOKS_MAX_ATTEMPTS. The beat's ``enqueue_due``
enqueues due retries, deliveries whose first enqueue was lost (broker down) and attempts a killed
worker left ``sending``. The row is the record; the queue is a nudge.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import logging
import time
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import or_, select, update

from backend.core import crypto
from backend.core.db import now_ms, transactional
from backend.extensions import db
from backend.modules.webhooks import outbound
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

SIGNATURE_HEADER = "X-QYQ-Signature"
STALE_SENDING_MS = 10 * 60 * 1000  # an attempt still "sending" after this was lost with its worker
FIRST_ENQUEUE_GRACE_MS = 30_000  # the beat leaves a new delivery to its own enqueue this long
DUE_BATCH = 500


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Return the ``X-QYQ-Signature`` value of ``body`` sent at ``timestamp`` (Unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def enqueue(ids: list[str]) -> None:
    """Enqueue one ``webhooks.deliver`` per delivery id (best effort: the beat catches up)."""
    task = current_app.extensions["celery"].tasks["webhooks.deliver"]
    for delivery_id in ids:
        try:
            task.apply_async(kwargs={"delivery_id": delivery_id}, retry=False)
        except Exception:  # noqa: BLE001 - the row is the record: the beat's enqueue_due sends it later
            logger.warning(
                "webhook delivery %s not enqueued; the beat will retry it", delivery_id, exc_info=True
            )


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
    enqueue(ids)
    return len(ids)
