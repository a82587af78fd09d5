"""The app's Redis client and key naming (every key carries the configured prefix)."""

from __future__ import annotations

import redis
from flask import Flask, current_app

# Pool size per process, well above the threads any process runs (4); not a setting.
MAX_CONNECTIONS = 64


def init_redis(app: Flask) -> None:
    """Create the client for this app (connections are opened lazily on first use).

    A blocking pool: under a burst, requests wait up to 5 s for a free connection instead of
    failing with "too many connections" (which the blocklist check would turn into 503s).
    """
    pool = redis.BlockingConnectionPool.from_url(
        app.config["REDIS_URL"],
        max_connections=MAX_CONNECTIONS,
        timeout=5,
        socket_connect_timeout=2,
        socket_timeout=2,
        decode_responses=True,
    )
    app.extensions["redis"] = redis.Redis(connection_pool=pool)


def get_redis() -> redis.Redis:
    """Return the current app's Redis client."""
    return current_app.extensions["redis"]


def rkey(*parts: str) -> str:
    """Return a namespaced Redis key: ``<prefix><part>:<part>...``."""
    return current_app.config["REDIS_KEY_PREFIX"] + ":".join(parts)
