"""The app's Redis client, key naming, and the bounds every Redis call runs under.

Redis is a cache and a broker here, never the record, so no request may wait long for it: every
client (this one, the rate limiter's storage, Celery's broker connection) connects and reads with
``REDIS_TIMEOUT_MS`` and does not retry. Callers that can do without Redis use `cached_call`,
which after a failure skips Redis in this process for ``REDIS_BACKOFF_S`` (one slow call per
outage and process, not one per request). The single reads every request makes (the session
check, the caches' lookups) run on the client's `Lane`: same connection settings and bounds,
without redis-py's per-command pool checkout.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

import redis
from flask import Flask, current_app
from redis.backoff import NoBackoff
from redis.client import NEVER_DECODE
from redis.retry import Retry

logger = logging.getLogger(__name__)

# Pool size per process, well above the threads any process runs (4); not a setting.
MAX_CONNECTIONS = 64
# Connections of the fast lane (`Lane`) per client and process; beyond it calls use the pool.
MAX_LANE_CONNECTIONS = 16

T = TypeVar("T")


def client_options(app: Flask) -> dict[str, Any]:
    """Keyword arguments for any `redis.Redis` of this app: short timeouts and no retries."""
    timeout_s = app.config["REDIS_TIMEOUT_MS"] / 1000
    return {
        "socket_connect_timeout": timeout_s,
        "socket_timeout": timeout_s,
        "retry": Retry(NoBackoff(), 0),
        "health_check_interval": 0,
    }


def init_redis(app: Flask) -> None:
    """Create the client for this app (connections are opened lazily on first use).

    A blocking pool: under a burst, requests wait up to one timeout for a free connection instead
    of failing at once with "too many connections". Also hands the same bounds to flask-limiter's
    storage (`RATELIMIT_STORAGE_OPTIONS`), so call this before `limiter.init_app`.
    """
    options = client_options(app)
    pool = redis.BlockingConnectionPool.from_url(
        app.config["REDIS_URL"],
        max_connections=MAX_CONNECTIONS,
        timeout=options["socket_timeout"],
        decode_responses=True,
        **options,
    )
    app.extensions["redis"] = redis.Redis(connection_pool=pool)
    app.extensions["redis_breaker"] = _Breaker()
    app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", client_options(app))


def get_redis() -> redis.Redis:
    """Return the current app's Redis client."""
    return cast(redis.Redis, current_app.extensions["redis"])


def rkey(*parts: str) -> str:
    """Return a namespaced Redis key: ``<prefix><part>:<part>...``."""
    return str(current_app.config["REDIS_KEY_PREFIX"]) + ":".join(parts)


class _Breaker:
    """Process-local memory of the last Redis failure (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open_until = 0.0

    def is_open(self) -> bool:
        return time.monotonic() < self._open_until

    def trip(self, seconds: float) -> None:
        with self._lock:
            self._open_until = time.monotonic() + seconds

    def reset(self) -> None:
        with self._lock:
            self._open_until = 0.0


def cached_call(fn: Callable[[redis.Redis], T], default: T) -> T:
    """Run `fn` against Redis, or return `default` if Redis failed in this process recently.

    For optional work only (cache reads and writes): a failure returns `default`, logs a warning
    and makes the next ``REDIS_BACKOFF_S`` seconds of calls return `default` at once.
    """
    extensions = current_app.extensions
    breaker: _Breaker = extensions["redis_breaker"]
    if breaker.is_open():
        return default
    try:
        return fn(extensions["redis"])  # what `get_redis` returns
    except redis.RedisError as exc:
        breaker.trip(current_app.config["REDIS_BACKOFF_S"])
        logger.warning(
            "redis unavailable, using the database for %ss: %s", current_app.config["REDIS_BACKOFF_S"], exc
        )
        return default


class Lane:
    """Single commands on the request hot paths, over connections reused without the pool's checkout.

    redis-py's pool checkout (a lock, connection metrics, a poll of the socket for stray data) and
    its per-command wrappers cost the request several times what the round trip itself costs
    (docs/performance.md, section api). A lane connection is made with the pool's own settings
    (same server, timeouts, no retry), carries one command at a time for one thread, and goes
    back to the lane only after its whole reply was read; any failure closes it, so no stray
    reply can ever reach the next command. At most ``MAX_LANE_CONNECTIONS`` per process (more
    concurrent callers use the pool); a forked child starts with none of its parent's.

    Replies are Redis's own values (with the client's decoding; ``raw=True``: bytes, as Redis sent
    them), without redis-py's per-command response callbacks: meant for commands whose reply needs
    none, such as GET, HGET and the Lua scripts of the caches (`script`, the one way this app runs a
    script). The caches read their stored JSON raw: it goes into the response body as it is.
    """

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._pool = client.connection_pool
        self._lock = threading.Lock()
        self._free: list[Any] = []
        self._made = 0
        self._pid = os.getpid()

    def execute(self, *args: Any, raw: bool = False) -> Any:
        """Send one command and return its reply (redis-py's exceptions on failure; bytes if ``raw``)."""
        if self._pid != os.getpid():
            self._after_fork()
        try:
            conn = self._free.pop()
        except IndexError:
            conn = self._make()
            if conn is None:  # the lane is full: the pool's bounded wait, as any other call
                options = {NEVER_DECODE: True} if raw else {}
                return self._client.execute_command(*args, **options)  # type: ignore[no-untyped-call]
        try:
            conn.send_packed_command(conn.pack_command(*args), check_health=False)
            reply = conn.read_response(disable_decoding=raw)
        except redis.ResponseError:
            self._free.append(conn)  # an error reply was read whole: the connection is clean
            raise
        except BaseException:
            conn.disconnect()
            with self._lock:
                self._made -= 1
            raise
        self._free.append(conn)
        return reply

    def script(self, source: str, keys: tuple[str, ...], args: tuple[Any, ...], *, raw: bool = False) -> Any:
        """Run the Lua script ``source`` (EVALSHA; EVAL, which also loads it, when Redis lost it)."""
        try:
            return self.execute("EVALSHA", _sha1(source), len(keys), *keys, *args, raw=raw)
        except redis.exceptions.NoScriptError:
            return self.execute("EVAL", source, len(keys), *keys, *args, raw=raw)

    def size(self) -> tuple[int, int]:
        """Return (connections made and open, idle ones) (tests and health checks)."""
        return self._made, len(self._free)

    def _make(self) -> Any:
        with self._lock:
            if self._made >= MAX_LANE_CONNECTIONS:
                return None
            self._made += 1
        return self._pool.connection_class(**self._pool.connection_kwargs)

    def _after_fork(self) -> None:
        with self._lock:  # the parent's sockets are the parent's: forget them, never close them
            self._free, self._made, self._pid = [], 0, os.getpid()


_SHA1: dict[str, str] = {}


def _sha1(source: str) -> str:
    sha = _SHA1.get(source)
    if sha is None:
        sha = _SHA1[source] = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()
    return sha


def lane(r: redis.Redis | None = None) -> Lane:
    """Return the fast lane of client ``r`` (default: the current app's client)."""
    client = r if r is not None else get_redis()
    found = client.__dict__.get("_qyq_lane")
    if found is None:
        found = client.__dict__.setdefault("_qyq_lane", Lane(client))
    return cast(Lane, found)


def reset_backoff() -> None:
    """Forget a recent Redis failure in this process (tests that swap the client use this)."""
    current_app.extensions["redis_breaker"].reset()
