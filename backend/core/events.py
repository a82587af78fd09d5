"""Events: what happened to a user's objects, told once to everything that listens.

One call site per fact. A service (or the job runtime) calls ``emit()`` inside its transaction:

- the in-process **subscribers** that modules registered at start-up (``subscribe``) run at once,
  in the caller's transaction, so what they write (a notification row, a webhook delivery row)
  commits or rolls back together with its cause;
- once the transaction has **committed**, the event is appended to its owner's Redis Stream
  (``XADD ... MAXLEN ~``), where every API process's ``/api/stream`` readers see it, whichever
  worker or process emitted it. A rolled-back cause publishes nothing. The events of one
  transaction are published together, in the order emitted, in the commit's one Redis round
  trip, after the caches' invalidations (`backend.core.changes.Batch`, which also states the
  failure rule: logged, the breaker opens, the commit stands).

``publish()`` is for facts with no record of their own and no subscribers (job progress, a new
market bar): straight to Redis, no transaction. Publishing is best effort: Postgres holds the
record (jobs, notifications, deliveries), a Redis outage loses only the live push, and a stream
client that reconnects reads the record again.

The event's wire form (an SSE ``data:`` line) is ``Event.wire()``: camelCase, times in Unix ms,
ids as strings, like every other body of the API.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import redis
from flask import current_app, has_app_context

from backend.core import changes
from backend.core.db import now_ms
from backend.core.redis import get_redis, rkey
from backend.extensions import db

logger = logging.getLogger(__name__)

# Topics a user's own events stream on; market events use "market:<SYMBOL>:<interval>". An event
# on any other topic (by convention "", e.g. ``forum.reply`` or ``account.deleted``) is for the
# in-process subscribers only: it is never published.
USER_TOPICS = frozenset({"jobs", "bots", "notifications"})

Subscriber = Callable[["Event"], None]
_subscribers: list[Subscriber] = []


@dataclass(frozen=True)
class Event:
    """One fact: ``type`` like ``job.succeeded``, the ``topic`` it streams on, its owner and object."""

    type: str
    topic: str
    user_id: str | None
    object_id: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    at: int = field(default_factory=now_ms)

    def wire(self) -> dict[str, Any]:
        """The JSON body a client receives (owner omitted: a stream only carries the reader's own)."""
        return {
            "type": self.type,
            "topic": self.topic,
            "objectId": self.object_id,
            "at": self.at,
            "data": dict(self.data),
        }


def subscribe(subscriber: Subscriber) -> None:
    """Register ``subscriber`` to run inside the emitter's transaction for every ``emit()`` (idempotent)."""
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)


def user_stream_key(user_id: str) -> str:
    """The Redis Stream holding one user's events (topics jobs, bots, notifications)."""
    return rkey("ev", "u", user_id)


def market_stream_key(symbol: str, interval: str) -> str:
    """The Redis Stream holding one market's snapshots (topic ``market:<SYMBOL>:<interval>``)."""
    return rkey("ev", "m", symbol, interval)


def stream_key(event: Event) -> str | None:
    """Where ``event`` is published, or None if it has no audience."""
    if event.topic.startswith("market:"):
        _, symbol, interval = event.topic.split(":", 2)
        return market_stream_key(symbol, interval)
    if event.topic in USER_TOPICS and event.user_id:
        return user_stream_key(event.user_id)
    return None


def emit(event: Event) -> None:
    """Tell the subscribers now (same transaction) and the stream readers after commit.

    The publish is queued before the subscribers run, so an event a subscriber emits in answer
    (``notification.created`` for a ``bot.fill``) reaches the stream after its cause.
    """

    _publish_after_commit(event)
    for subscriber in list(_subscribers):
        subscriber(event)


def _queue_publish(pipe: Any, batch: list[Event]) -> None:
    """Queue each event of ``batch`` onto its Redis Stream, in order: an ``XADD`` and the stream's TTL."""
    maxlen = int(current_app.config["EVENTS_STREAM_MAXLEN"])
    ttl = int(current_app.config["EVENTS_STREAM_TTL_S"])
    for event in batch:
        key = stream_key(event)
        if key is not None:  # always: only events with a stream are queued
            pipe.xadd(key, {"e": _payload(event)}, maxlen=maxlen, approximate=True)
            pipe.expire(key, ttl)


def _not_published(batch: list[Event]) -> str:
    return f"events {[event.type for event in batch]} not published (the record is in Postgres)"


# The transaction's events, published after its commit in the commit's one Redis round trip.
_PUBLISH = changes.Batch("events", _queue_publish, _not_published)


def _publish_after_commit(event: Event) -> None:
    """Queue ``event`` for its transaction's publish after commit (the commit's one pipeline, in order)."""
    if stream_key(event) is not None:
        _PUBLISH.add(db.session, event)


def _payload(event: Event) -> str:
    return json.dumps(event.wire(), separators=(",", ":"), default=str)


def publish(event: Event) -> str | None:
    """Append ``event`` to its Redis Stream now; return the entry id, or None if Redis failed."""
    key = stream_key(event)
    if key is None or not has_app_context():
        return None
    try:  # one round trip: the append and the stream's TTL in one pipeline (no MULTI)
        pipe = get_redis().pipeline(transaction=False)
        _queue_publish(pipe, [event])
        entry, _ = pipe.execute()
    except redis.RedisError as exc:
        logger.warning("event %s not published (the record is in Postgres): %s", event.type, exc)
        return None
    return str(entry)
