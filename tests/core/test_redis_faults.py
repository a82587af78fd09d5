"""Redis faults against a real server: frozen (SIGSTOP) and killed, with the API in its own process.

A throwaway `redis-server` on a free loopback port backs an API server started as a subprocess
(same test database), so a frozen Redis freezes exactly what it would in production: the session
cache, the rate limiter's storage and the broker. Each request must come back within a bound,
/api/health must name the failing parts, nobody is logged out and a token revoked while Redis is
down stays revoked.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures import core_db

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server binary"),
]

ROOT = Path(__file__).resolve().parents[2]
BOUND_S = 2.0  # the figure: health and every request answer within 2 s


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


@dataclass
class Response:
    status: int
    body: dict
    headers: dict[str, str]
    seconds: float


@dataclass
class Api:
    base: str

    def call(self, method: str, path: str, body: dict | None = None, token: str | None = None) -> Response:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        start = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                status, raw, headers = resp.status, resp.read(), dict(resp.headers)
        except urllib.error.HTTPError as exc:
            status, raw, headers = exc.code, exc.read(), dict(exc.headers)
        return Response(status, json.loads(raw or b"{}"), headers, time.monotonic() - start)


@pytest.fixture
def redis_server() -> Iterator[subprocess.Popen[bytes]]:
    """A throwaway redis-server on a free loopback port (resumed and stopped in any case)."""
    port = _free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    proc.port = port  # type: ignore[attr-defined]
    try:
        _wait_for_port(port)
        yield proc
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)
            proc.terminate()
            proc.wait(timeout=10)


@pytest.fixture
def api(app, test_services, committed, redis_server) -> Iterator[Api]:
    """The API in its own process, on the test database, with `redis_server` as its Redis."""
    port = _free_port()
    env = {
        **os.environ,
        **core_db.test_env(test_services),
        "REDIS_URL": f"redis://127.0.0.1:{redis_server.port}/0",  # type: ignore[attr-defined]
        "STORAGE_ROOT": app.config["STORAGE_ROOT"],
    }
    code = (
        "from werkzeug.serving import run_simple\n"
        "from backend.app import create_app\n"
        f"run_simple('127.0.0.1', {port}, create_app(), threaded=True)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port, timeout_s=60)
        yield Api(f"http://127.0.0.1:{port}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _sessions(api: Api) -> tuple[dict, dict, dict]:
    """Register a user and open two more sessions; each is used once so Redis caches it as valid."""
    creds = {"username": f"fault{os.getpid()}{time.monotonic_ns() % 10**6}", "password": "s3cret-pass"}
    first = api.call("POST", "/api/auth/register", creds)
    assert first.status == 201, first.body
    kept = api.call("POST", "/api/auth/login", creds).body["data"]
    revoked = api.call("POST", "/api/auth/login", creds).body["data"]
    for session in (first.body["data"], kept, revoked):
        assert api.call("GET", "/api/users/me", token=session["access_token"]).status == 200
    return creds, kept, revoked


def _assert_redis_down_behaviour(api: Api, creds: dict, kept: dict, revoked: dict) -> None:
    health = api.call("GET", "/api/health")
    assert health.seconds < BOUND_S, f"health took {health.seconds:.2f} s"
    assert health.status == 503
    checks = health.body["details"]["checks"]
    assert checks["redis"]["ok"] is False and checks["redis"]["error"]
    assert checks["broker"]["ok"] is False
    assert checks["database"]["ok"] is True
    assert "redis" in health.body["message"]

    login = api.call("POST", "/api/auth/login", creds)
    assert login.status == 200 and login.seconds < BOUND_S, (login.status, login.seconds)

    logout = api.call("POST", "/api/auth/logout", token=revoked["access_token"])
    assert logout.status == 200 and logout.seconds < BOUND_S, (logout.status, logout.seconds)

    for _ in range(3):
        me = api.call("GET", "/api/users/me", token=kept["access_token"])
        assert me.status == 200 and me.seconds < BOUND_S, (me.status, me.seconds)  # nobody is logged out
        gone = api.call("GET", "/api/users/me", token=revoked["access_token"])
        assert gone.status == 401 and gone.body["details"]["reason"] == "token_revoked"
        assert gone.seconds < BOUND_S
        stale = api.call("POST", "/api/auth/refresh", token=revoked["refresh_token"])
        assert stale.status == 401 and stale.seconds < BOUND_S
    fresh = api.call("GET", "/api/users/me", token=login.body["data"]["access_token"])
    assert fresh.status == 200 and fresh.seconds < BOUND_S


def test_a_frozen_redis_neither_hangs_the_api_nor_logs_anybody_out(api, redis_server):
    creds, kept, revoked = _sessions(api)
    os.kill(redis_server.pid, signal.SIGSTOP)
    try:
        _assert_redis_down_behaviour(api, creds, kept, revoked)
    finally:
        os.kill(redis_server.pid, signal.SIGCONT)
    # Redis is back, holding the "valid" lease it cached for the revoked session before it froze:
    # the revocation made during the freeze still holds, and the API is healthy again.
    gone = api.call("GET", "/api/users/me", token=revoked["access_token"])
    assert gone.status == 401
    assert api.call("GET", "/api/users/me", token=kept["access_token"]).status == 200
    deadline = time.monotonic() + 10
    while api.call("GET", "/api/health").status != 200:
        assert time.monotonic() < deadline, "health did not recover after SIGCONT"
        time.sleep(0.2)


def test_a_killed_redis_neither_hangs_the_api_nor_logs_anybody_out(api, redis_server):
    creds, kept, revoked = _sessions(api)
    redis_server.kill()
    redis_server.wait(timeout=10)
    _assert_redis_down_behaviour(api, creds, kept, revoked)


def test_a_commit_while_redis_is_frozen_is_bounded_and_its_drop_lands_on_resume(
    app, user, redis_server, monkeypatch, caplog
):
    """The commit's one batch is sent before the read times out: the commit stands within the
    bound, and the frozen server applies the caches' drops (and the event) when it resumes, so
    no cache entry filled before the write is served afterwards."""
    import redis
    from sqlalchemy import update

    from backend.core import changes, events, personal
    from backend.core.db import transactional
    from backend.core.jobs import Job
    from backend.core.redis import client_options
    from backend.extensions import db

    frozen_redis = redis.Redis(
        connection_pool=redis.BlockingConnectionPool.from_url(
            f"redis://127.0.0.1:{redis_server.port}/0",  # type: ignore[attr-defined]
            max_connections=4,
            timeout=1,
            decode_responses=True,
            **client_options(app),
        )
    )
    monkeypatch.setitem(app.extensions, "redis", frozen_redis)

    @transactional
    def write() -> None:
        db.session.execute(
            update(Job).where(Job.id == "none").values(progress=0),
            execution_options={changes.OWNER_OPTION: user.id},
        )
        events.emit(events.Event("test.done", "jobs", user.id, object_id="j1"))

    breaker = app.extensions["redis_breaker"]
    with app.app_context():
        gen_key, stream = personal._user_gen_key(user.id), events.user_stream_key(user.id)
        assert frozen_redis.get(gen_key) is None
        os.kill(redis_server.pid, signal.SIGSTOP)
        try:
            start = time.monotonic()
            write()  # no error: the commit stands
            took = time.monotonic() - start
        finally:
            os.kill(redis_server.pid, signal.SIGCONT)
            breaker_was_open = breaker.is_open()
            breaker.reset()
        assert took < BOUND_S, f"the commit waited {took:.2f} s for a frozen Redis"
        assert breaker_was_open and "redis unavailable after a commit" in caplog.text
        deadline = time.monotonic() + 10
        while frozen_redis.get(gen_key) is None:  # the resumed server runs the batch it had received
            assert time.monotonic() < deadline, "the drop sent to the frozen Redis never landed"
            time.sleep(0.05)
        assert frozen_redis.get(gen_key) == "1"
        assert [json.loads(f["e"])["type"] for _id, f in frozen_redis.xrange(stream)] == ["test.done"]
