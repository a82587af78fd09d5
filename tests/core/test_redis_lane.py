"""The fast lane for single Redis commands on the hot paths (backend.core.redis.Lane).

Against the test Redis, and against loopback servers that misbehave (one that never answers,
one that answers late), so each failure rule is seen happening, not assumed.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis

from backend.core import redis as core_redis
from backend.core.redis import Lane, get_redis, lane
from tests.helpers.redis_wire import redis_commands

SCRIPT = "return {KEYS[1], ARGV[1], redis.call('GET', KEYS[1])}"


@pytest.fixture
def r(app) -> Iterator[redis.Redis]:
    with app.app_context():
        yield get_redis()


def _key(app, name: str) -> str:
    return f"{app.config['REDIS_KEY_PREFIX']}lane:{name}:{uuid.uuid4().hex}"


def test_replies_are_the_clients_replies(app, r):
    key, hkey = _key(app, "k"), _key(app, "h")
    r.set(key, "value é")
    r.hset(hkey, "f", "x")
    fast = Lane(r)
    assert fast.execute("GET", key) == r.get(key) == "value é"
    assert fast.execute("GET", key + ":missing") is None
    assert fast.execute("HGET", hkey, "f") == r.hget(hkey, "f") == "x"
    assert fast.script(SCRIPT, (key,), ("arg",)) == r.register_script(SCRIPT)(keys=[key], args=["arg"])


def test_raw_replies_are_the_bytes_redis_sent(app, r):
    key, hkey = _key(app, "k"), _key(app, "h")
    r.set(key, "value é")
    r.hset(hkey, "f", '{"a":1}')
    fast = Lane(r)
    assert fast.execute("GET", key, raw=True) == "value é".encode()
    assert fast.execute("GET", key + ":missing", raw=True) is None
    assert fast.execute("HGET", hkey, "f", raw=True) == b'{"a":1}'
    assert fast.script(SCRIPT, (key,), ("arg",), raw=True) == [key.encode(), b"arg", "value é".encode()]
    assert fast.execute("GET", key) == "value é"  # the same connection decodes again when asked to


def test_raw_replies_through_the_pool_when_the_lane_is_full(app, r, monkeypatch):
    key = _key(app, "k")
    r.set(key, "v é")
    monkeypatch.setattr(core_redis, "MAX_LANE_CONNECTIONS", 0)
    fast = Lane(r)
    assert fast.execute("GET", key, raw=True) == "v é".encode()
    assert fast.script(SCRIPT, (key,), ("x",), raw=True) == [key.encode(), b"x", "v é".encode()]
    assert fast.execute("GET", key) == "v é" and fast.size() == (0, 0)


def test_one_connection_is_reused_and_a_hit_is_one_command(app, r, monkeypatch):
    key = _key(app, "k")
    r.set(key, "v")
    fast = Lane(r)
    fast.execute("GET", key)
    with redis_commands(monkeypatch) as sent:
        for _ in range(5):
            assert fast.execute("GET", key) == "v"
    assert sent == ["GET"] * 5
    assert fast.size() == (1, 1)  # one connection made, idle again


def test_a_script_redis_does_not_know_is_loaded_by_eval(app, r, monkeypatch):
    source = f"return '{uuid.uuid4().hex}'"  # never loaded before
    fast = Lane(r)
    fast.execute("PING")  # connected (its handshake is not what is counted)
    with redis_commands(monkeypatch) as sent:
        first = fast.script(source, (), ())
        second = fast.script(source, (), ())
    assert first == second == source.split("'")[1]
    assert sent == ["EVALSHA", "EVAL", "EVALSHA"]  # NOSCRIPT, then EVAL loads it; then known


def test_an_error_reply_keeps_the_connection_clean(app, r):
    key = _key(app, "s")
    r.set(key, "a string")
    fast = Lane(r)
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        fast.execute("HGET", key, "f")
    assert fast.size() == (1, 1)
    assert fast.execute("GET", key) == "a string"  # the same connection, nothing stray on it
    assert fast.size() == (1, 1)


def test_the_lane_is_bounded_and_then_uses_the_pool(app, r, monkeypatch):
    key = _key(app, "k")
    r.set(key, "v")
    monkeypatch.setattr(core_redis, "MAX_LANE_CONNECTIONS", 0)
    fast = Lane(r)
    used: list[str] = []
    real = r.execute_command
    monkeypatch.setattr(r, "execute_command", lambda *a, **k: used.append(a[0]) or real(*a, **k))
    assert fast.execute("GET", key) == "v"
    assert used == ["GET"] and fast.size() == (0, 0)


def test_a_forked_child_never_uses_its_parents_connections(app, r, monkeypatch):
    key = _key(app, "k")
    r.set(key, "v")
    fast = Lane(r)
    fast.execute("GET", key)
    parents = list(fast._free)
    monkeypatch.setattr(core_redis.os, "getpid", lambda: -1)  # as seen in a child
    assert fast.execute("GET", key) == "v"
    assert fast._free and fast._free[0] is not parents[0]
    assert parents[0]._sock is not None  # the parent's socket was left alone, not closed


def test_the_apps_lane_is_one_per_client(app, r):
    with app.app_context():
        assert lane() is lane(r) is lane(get_redis())
        assert lane(redis.Redis()) is not lane(r)


@contextmanager
def _server(reply_after_s: float | None) -> Iterator[int]:
    """A loopback 'Redis' that answers every command with +late after ``reply_after_s`` (None: never)."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            while not stop.is_set():
                try:
                    if not conn.recv(65536):
                        return
                except OSError:
                    return
                if reply_after_s is None:
                    continue
                time.sleep(reply_after_s)
                try:
                    conn.sendall(b"+late\r\n")
                except OSError:
                    return

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        thread.join(2)
        listener.close()


def _client(port: int, timeout_s: float) -> redis.Redis:
    pool = redis.BlockingConnectionPool(
        host="127.0.0.1",
        port=port,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        decode_responses=True,
        retry=redis.retry.Retry(redis.backoff.NoBackoff(), 0),
    )
    return redis.Redis(connection_pool=pool)


def test_a_frozen_server_times_out_within_the_bound_and_the_connection_is_closed():
    with _server(reply_after_s=None) as port:
        fast = Lane(_client(port, 0.3))
        started = time.monotonic()
        with pytest.raises(redis.TimeoutError):
            fast.execute("GET", "k")
        assert time.monotonic() - started < 2.0
        assert fast.size() == (0, 0)  # closed and forgotten, never handed out again


def test_a_late_reply_never_reaches_the_next_command():
    with _server(reply_after_s=0.5) as port:
        fast = Lane(_client(port, 0.2))
        with pytest.raises(redis.TimeoutError):
            fast.execute("GET", "first")  # its reply comes after the bound...
        time.sleep(0.5)
        assert fast.size() == (0, 0)  # ...on a connection that is gone
        with pytest.raises(redis.TimeoutError):
            fast.execute("GET", "second")  # a new connection: waits for its own reply only
