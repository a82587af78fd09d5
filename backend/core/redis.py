"""The app's Redis client, key naming, and the bounds every Redis call runs under.

Redis is a cache and a broker here, never the record, so no request may wait long for it: every
client (this one, the rate limiter's storage, Celery's broker connection) connects and reads with
``REDIS_TIMEOUT_MS`` and does not retry. Callers that can do without Redis use `cached_call`,
which after a failure skips Redis in this process for ``REDIS_BACKOFF_S`` (one slow call per
outage and process, not one per request).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

import redis
from flask import Flask, current_app
from redis.backoff import NoBackoff
from redis.retry import Retry

logger = logging.getLogger(__name__)

# Pool size per process, well above the threads any process runs (4); not a setting.
MAX_CONNECTIONS = 64

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
    breaker: _Breaker = current_app.extensions["redis_breaker"]
    if breaker.is_open():
        return default
    try:
        return fn(get_redis())
    except redis.RedisError as exc:
        breaker.trip(current_app.config["REDIS_BACKOFF_S"])
        logger.warning(
            "redis unavailable, using the database for %ss: %s", current_app.config["REDIS_BACKOFF_S"], exc
        )
        return default


def lua(r: redis.Redis, source: str) -> Any:
    """Return the Lua script ``source`` registered with client ``r`` (run by EVALSHA, loaded again
    when Redis lost it); one registration per app, client and script."""
    scripts: dict[str, Any] = current_app.extensions.setdefault("lua_scripts", {})
    script = scripts.get(source)
    if script is None or script.registered_client is not r:
        script = scripts[source] = r.register_script(source)
    return script


def reset_backoff() -> None:
    """Forget a recent Redis failure in this process (tests that swap the client use this)."""
    current_app.extensions["redis_breaker"].reset()
