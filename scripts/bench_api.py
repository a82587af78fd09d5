"""Benchmark the API against a bare-Flask ceiling in one run; write the `api` section of docs/performance.md.

What runs (all on loopback, bounded in time and requests):

1. A scratch stack: database ``qyq_bench_api_<pid>`` on the test Postgres, migrated
   (``flask db upgrade heads``) and seeded (``flask seed``), its own Redis key prefix, a temp
   storage root; all removed at the end. The project runs with ``APP_ENV=production`` settings
   (random secrets, a Fernet key, strong password hashing) so nothing test-only is on the path.
2. Two gunicorn servers with the SAME configuration (``--worker-class``, ``--workers``,
   ``--threads``; default gthread 2x4): a bare Flask app whose one endpoint returns the same
   envelope shape (``{code, message, data, request_id}``) for a small JSON payload, and the
   project (``backend.wsgi:app``). ``admin`` logs in once for the authenticated endpoints.
3. ``scripts/loadgen.py`` (asyncio, keep-alive, 32 connections) loads each endpoint right after
   the bare endpoint, in ``--rounds`` rounds, so every ratio compares two figures measured seconds
   apart on this shared machine. Reported: req/s, p50/p95/p99, and the ratio to bare Flask.
4. A sweep of gunicorn configurations (``--sweep``: sync vs gthread, workers per core) over a few
   endpoints, each configuration with its own bare baseline.
5. An in-process profile (``--profile-requests``): cProfile over N Flask-test-client requests per
   endpoint against the same seeded database, split into where the time goes (JWT decode, the
   revocation check, pool pre-ping, rollbacks, SQL, ORM, marshmallow, envelope).

Usage: ``.venv/bin/python -m scripts.bench_api [--workers 2 --threads 4] [--rounds 2]
[--duration 3] [--sweep "gthread:2x4,sync:5"] [--profile-requests 200] [--endpoints /api/users/me,...]
[--no-write]``; a quick look: ``--rounds 1 --sweep "" --profile-requests 0 --no-write``
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import os
import platform
import pstats
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts import loadgen  # noqa: E402
from scripts import services as svc  # noqa: E402
from scripts.perfdoc import update_section  # noqa: E402

ANONYMOUS = ("/api/strategies/recent", "/api/backtests/latest", "/api/bots/recent", "/api/forum/hot")
AUTHENTICATED = ("/api/users/me", "/api/strategies", "/api/backtests", "/api/bots")
BARE_PATH = "/api/bare"
# A bare endpoint sending a pre-encoded body of ``?bytes=N`` bytes: the ceiling for a large body
# (`backtests/latest` carries the contract's kline, curve and first fills: ~160 KB).
BARE_LARGE_PATH = "/api/bare-large"
LARGE_ENDPOINTS = ("/api/backtests/latest",)
DEFAULT_SWEEP = "gthread:2x4,gthread:1x8,gthread:4x2,gthread:4x4,sync:4,sync:5"
SWEEP_ENDPOINTS = ("/api/strategies/recent", "/api/forum/hot", "/api/users/me")


# --- the bare-Flask ceiling ----------------------------------------------------------------------


def bare_app() -> Any:
    """Return a bare Flask app: one JSON endpoint in the project's success envelope (the ceiling)."""
    from flask import Flask, Response, jsonify, request

    app = Flask("bare")
    payload = [{"id": str(uuid.UUID(int=i)), "name": f"item {i}", "value": i * 1.5} for i in range(3)]

    @app.get(BARE_PATH)
    def bare() -> Any:
        return jsonify({"code": 0, "message": "ok", "data": payload, "request_id": uuid.uuid4().hex})

    bodies: dict[int, bytes] = {}

    @app.get(BARE_LARGE_PATH)
    def bare_large() -> Any:
        size = min(max(int(request.args.get("bytes", "0")), 0), 16 << 20)
        body = bodies.get(size)
        if body is None:  # the envelope around one string, padded to exactly ``size`` bytes
            head = b'{"code":0,"message":"ok","data":"'
            tail = b'","request_id":"' + uuid.uuid4().hex.encode() + b'"}\n'
            body = bodies[size] = head + b"x" * max(size - len(head) - len(tail), 0) + tail
        return Response(body, mimetype="application/json")

    return app


# --- the scratch stack ---------------------------------------------------------------------------


@dataclass
class Stack:
    """A migrated, seeded scratch database and the environment of the project's processes."""

    env: dict[str, str]
    database_url: str
    redis_url: str
    redis_prefix: str
    storage: str


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def _flask(env: dict[str, str], *args: str, root: Path = ROOT) -> None:
    cmd = [sys.executable, "-m", "flask", "--app", "backend.app:create_app", *args]
    done = subprocess.run(cmd, cwd=root, env={**os.environ, **env}, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")


def _drop_database(url: str) -> None:
    import psycopg2
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    admin = psycopg2.connect(svc.with_database(url, "postgres").replace("+psycopg2", ""))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def _clear_redis(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    for i in range(0, len(keys), 500):
        client.delete(*keys[i : i + 500])


@contextlib.contextmanager
def scratch_stack(
    name: str, extra_env: dict[str, str] | None = None, *, seed: bool = True, root: Path = ROOT
) -> Iterator[Stack]:
    """Create, migrate and (optionally) seed database ``qyq_<name>_<pid>``; drop it afterwards.

    ``root``: the source tree whose migrations and seed run (another checkout, for a benchmark
    comparing trees whose schemas differ).
    """
    services = svc.resolve(mode="test")
    url = svc.with_database(services.database_url, f"qyq_{name}_{os.getpid()}")
    _drop_database(url)
    svc.ensure_database(url)
    prefix = f"qyqbench:{name}:{os.getpid()}:"
    storage = tempfile.mkdtemp(prefix=f"qyq-{name}-")
    env = {
        "APP_ENV": "production",
        "DATABASE_URL": url,
        "REDIS_URL": services.redis_url,
        "REDIS_KEY_PREFIX": prefix,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "FERNET_KEYS": _fernet_key(),
        "JWT_ACCESS_TOKEN_EXPIRES_S": "7200",
        "STORAGE_ROOT": storage,
        "LOG_LEVEL": "WARNING",
        "QDRANT_PATH": os.path.join(storage, "qdrant"),
        **(extra_env or {}),
    }
    try:
        _flask(env, "db", "upgrade", "heads", root=root)
        if seed:
            _flask(env, "seed", root=root)
        yield Stack(
            env=env, database_url=url, redis_url=services.redis_url, redis_prefix=prefix, storage=storage
        )
    finally:
        _drop_database(url)
        _clear_redis(services.redis_url, prefix)
        shutil.rmtree(storage, ignore_errors=True)


# --- gunicorn ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerConfig:
    """A gunicorn configuration: worker class, workers, threads per worker."""

    worker_class: str = "gthread"
    workers: int = 2
    threads: int = 4

    @classmethod
    def parse(cls, text: str) -> ServerConfig:
        """Parse ``gthread:2x4`` or ``sync:5``."""
        kind, _, shape = text.strip().partition(":")
        workers, _, threads = shape.partition("x")
        if kind not in {"gthread", "sync"} or not workers.isdigit():
            raise ValueError(f"bad server config {text!r} (use gthread:WxT or sync:W)")
        return cls(kind, int(workers), int(threads or 1) if kind == "gthread" else 1)

    @property
    def label(self) -> str:
        """Return ``gthread 2x4`` / ``sync 5``."""
        return (
            f"{self.worker_class} {self.workers}x{self.threads}"
            if self.worker_class == "gthread"
            else (f"sync {self.workers}")
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Gunicorn:
    """A gunicorn subprocess on a free loopback port (its own process group; stopped on exit)."""

    def __init__(self, app_spec: str, config: ServerConfig, env: dict[str, str], ready_path: str) -> None:
        self.app_spec, self.config, self.env, self.ready_path = app_spec, config, env, ready_path
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = Path(tempfile.mkstemp(prefix="qyq-bench-gunicorn-", suffix=".log")[1])

    @property
    def url(self) -> str:
        """Return the base URL."""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Gunicorn:
        c = self.config
        cmd = [
            sys.executable, "-m", "gunicorn", "--chdir", str(ROOT), "--bind", f"127.0.0.1:{self.port}",
            "--worker-class", c.worker_class, "--workers", str(c.workers), "--threads", str(c.threads),
            "--log-level", "warning", "--timeout", "120", self.app_spec,
        ]  # fmt: skip
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self._wait_ready()
        return self

    def _wait_ready(self, timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        ready = 0
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log.read_text(errors='replace')[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + self.ready_path, timeout=5) as resp:
                    ready = ready + 1 if resp.status == 200 else 0
            except OSError:
                ready = 0
            if ready >= 2 * self.config.workers:  # likely every worker has booted and answered
                return
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn not ready:\n{self.log.read_text(errors='replace')[-3000:]}")

    def cpu_seconds(self) -> float:
        """Return user + system CPU seconds used so far by the master and its live workers."""
        assert self.proc is not None
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(entry.name) == self.proc.pid or int(fields[1]) == self.proc.pid:  # fields[1]: ppid
                total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / tick

    def __exit__(self, *_exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        # What the server logged at WARNING or above (e.g. "redis unavailable, using the database"),
        # which explains a measurement that fell for no reason seen from outside.
        with contextlib.suppress(OSError):
            lines = [line for line in self.log.read_text(errors="replace").splitlines() if line.strip()]
            if lines:
                print(f"server log ({self.app_spec}), last {min(len(lines), 20)} of {len(lines)} lines:")
                print("\n".join(f"  {line}" for line in lines[-20:]), flush=True)
        self.log.unlink(missing_ok=True)


def http_json(method: str, url: str, body: Any = None, token: str | None = None) -> tuple[int, Any, int]:
    """Send one JSON request (loopback only); return (status, decoded body, body bytes)."""
    loadgen.check_loopback(urllib.parse.urlsplit(url).hostname or "")
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw), len(raw)
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, json.loads(raw or b"null"), len(raw)


def login(base_url: str, username: str = "admin", password: str = "admin123") -> str:
    """Log in through the API and return the access token."""
    status, body, _ = http_json(
        "POST", base_url + "/api/auth/login", {"username": username, "password": password}
    )
    if status != 200:
        raise RuntimeError(f"login failed: {status} {body}")
    return str(body["data"]["access_token"])


# --- measuring -----------------------------------------------------------------------------------


@dataclass
class Pair:
    """One endpoint measured right after the bare endpoint, with each server's CPU per response."""

    bare: loadgen.Result
    project: loadgen.Result
    bare_cpu_ms: float
    project_cpu_ms: float

    @property
    def ratio(self) -> float:
        """Return project req/s over bare req/s."""
        return self.project.rps / self.bare.rps if self.bare.rps else 0.0


@dataclass
class Measured:
    """Every pair of one endpoint over the rounds."""

    path: str
    auth: bool
    pairs: list[Pair] = field(default_factory=list)

    def _merged(self, pick: Callable[[Pair], loadgen.Result]) -> loadgen.Result:
        merged = loadgen.Result(name=self.path, connections=pick(self.pairs[0]).connections)
        for p in self.pairs:
            r = pick(p)
            merged.latencies_ms += r.latencies_ms
            merged.seconds += r.seconds
            merged.errors += r.errors
            for status, n in r.statuses.items():
                merged.statuses[status] = merged.statuses.get(status, 0) + n
            merged.body_bytes += r.body_bytes
        return merged

    @property
    def project(self) -> loadgen.Result:
        """Return the project's results merged over the rounds."""
        return self._merged(lambda p: p.project)

    @property
    def bare(self) -> loadgen.Result:
        """Return the paired bare results merged over the rounds."""
        return self._merged(lambda p: p.bare)

    @property
    def ratio(self) -> float:
        """Return the median over the rounds of the paired ratio."""
        return statistics.median(p.ratio for p in self.pairs)

    @property
    def cpu_ms(self) -> tuple[float, float]:
        """Return the median server CPU ms per response: (project, bare)."""
        return (
            statistics.median(p.project_cpu_ms for p in self.pairs),
            statistics.median(p.bare_cpu_ms for p in self.pairs),
        )


# What a browser sends (Chrome, Firefox): the project gzips the showcase's large cached entries
# for it (`core/compression.py`); the bare endpoints ignore it.
BROWSER_ACCEPT_ENCODING = "gzip, deflate, br, zstd"


def _target(path: str, token: str | None, accept_encoding: str | None = None) -> loadgen.Target:
    headers: tuple[tuple[str, str], ...] = (("Authorization", f"Bearer {token}"),) if token else ()
    if accept_encoding:
        headers += (("Accept-Encoding", accept_encoding),)
    return loadgen.Target(name=path, path=path, headers=headers)


def _load(server: Gunicorn, target: loadgen.Target, load: dict[str, Any]) -> tuple[loadgen.Result, float]:
    """Load one endpoint; return the result and the server's CPU ms per response (warm-up included)."""
    cpu0 = server.cpu_seconds()
    result = loadgen.run(server.url, target, **load)
    cpu = (server.cpu_seconds() - cpu0) * 1000 / max(1, result.all_responses)
    return result, cpu


def measure(
    bare: Gunicorn,
    project: Gunicorn,
    endpoints: list[tuple[str, bool]],
    token: str,
    *,
    rounds: int,
    load: dict[str, Any],
    bare_path: Callable[[str], str] = lambda _path: BARE_PATH,
    accept_encoding: str | None = None,
) -> list[Measured]:
    """Measure every endpoint right after the bare endpoint (``bare_path(path)``), ``rounds`` times;
    both sides' requests carry ``accept_encoding`` (if any)."""
    out = [Measured(path, auth) for path, auth in endpoints]
    for r in range(rounds):
        for m in out:
            b, b_cpu = _load(bare, _target(bare_path(m.path), None, accept_encoding), load)
            p, p_cpu = _load(project, _target(m.path, token if m.auth else None, accept_encoding), load)
            m.pairs.append(Pair(b, p, b_cpu, p_cpu))
            print(
                f"  round {r + 1}: {p.summary()}, {p_cpu:.2f} CPU ms/req | bare {b.rps:,.0f} req/s, "
                f"{b_cpu:.2f} CPU ms/req, ratio {m.pairs[-1].ratio:.1%}",
                flush=True,
            )
    return out


BARE_SPEC = "scripts.bench_api:bare_app()"


# --- the cross-check with wrk (an independent load generator written in C) ----------------------


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run reported: req/s, latency percentiles (ms), non-2xx and socket errors."""

    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    errors: int
    cpu_ms: float  # the server's CPU per response (from /proc), as for loadgen runs


def _wrk_ms(text: str) -> float:
    units = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
    for unit in ("us", "ms", "s", "m"):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * units[unit]
    return float(text)


def parse_wrk(out: str) -> tuple[float, float, float, int, int, int]:
    """Return (req/s, p50 ms, p99 ms, non-2xx, socket errors, requests) from wrk --latency output."""
    rps = p50 = p99 = 0.0
    non_2xx = errors = requests = 0
    for line in out.splitlines():
        words = line.split()
        if line.startswith("Requests/sec:"):
            rps = float(words[1])
        elif len(words) == 2 and words[0] == "50%":
            p50 = _wrk_ms(words[1])
        elif len(words) == 2 and words[0] == "99%":
            p99 = _wrk_ms(words[1])
        elif line.strip().startswith("Non-2xx or 3xx responses:"):
            non_2xx = int(words[-1])
        elif line.strip().startswith("Socket errors:"):
            errors = sum(int(w.rstrip(",")) for w in words[3::2])
        elif "requests in" in line:
            requests = int(words[0])
    return rps, p50, p99, non_2xx, errors, requests


def wrk_load(
    server: Gunicorn,
    path: str,
    token: str | None,
    *,
    connections: int,
    duration_s: float,
    accept_encoding: str | None = None,
) -> WrkResult:
    """Load one endpoint with wrk (2 threads, keep-alive); return its figures."""
    cmd = [
        "wrk",
        "-t2",
        f"-c{connections}",
        f"-d{max(1, round(duration_s))}s",
        "--latency",
        "--timeout",
        "5s",
    ]
    if token:
        cmd += ["-H", f"Authorization: Bearer {token}"]
    if accept_encoding:
        cmd += ["-H", f"Accept-Encoding: {accept_encoding}"]
    cpu0 = server.cpu_seconds()
    out = subprocess.run(
        [*cmd, server.url + path], capture_output=True, text=True, timeout=duration_s + 60, check=True
    ).stdout
    rps, p50, p99, non_2xx, errors, requests = parse_wrk(out)
    cpu = (server.cpu_seconds() - cpu0) * 1000 / max(1, requests)
    return WrkResult(rps, p50, p99, non_2xx, errors, cpu)


def measure_wrk(
    bare: Gunicorn,
    project: Gunicorn,
    endpoints: list[tuple[str, bool]],
    token: str,
    *,
    rounds: int,
    load: dict[str, Any],
    accept_encoding: str | None = None,
) -> list[tuple[str, list[tuple[WrkResult, WrkResult]]]]:
    """Like `measure`, with wrk: each endpoint right after the bare endpoint, ``rounds`` times."""
    out: list[tuple[str, list[tuple[WrkResult, WrkResult]]]] = [(path, []) for path, _ in endpoints]
    kw: dict[str, Any] = {
        "connections": load["connections"],
        "duration_s": load["duration_s"],
        "accept_encoding": accept_encoding,
    }
    for _ in range(rounds):
        for (path, auth), (_, pairs) in zip(endpoints, out, strict=True):
            b = wrk_load(bare, BARE_PATH, None, **kw)
            p = wrk_load(project, path, token if auth else None, **kw)
            pairs.append((b, p))
            print(
                f"  wrk {path}: {p.rps:,.0f} req/s | bare {b.rps:,.0f} req/s, ratio {p.rps / b.rps:.1%}",
                flush=True,
            )
    return out


def _wrk_table(rows: list[tuple[str, list[tuple[WrkResult, WrkResult]]]], load: dict[str, Any]) -> list[str]:
    lines = [
        "### Cross-check with wrk",
        "",
        f"The same servers and endpoints loaded by [wrk](https://github.com/wg/wrk) (C, 2 threads, "
        f"{load['connections']} keep-alive connections, {max(1, round(load['duration_s']))} s per "
        "measurement), "
        "each endpoint right after the bare endpoint; ratio = median of the paired ratios. wrk needs far "
        "less CPU than the Python load generator, so both servers get more of the two cores and absolute "
        "req/s are higher; the ratios are the comparison.",
        "",
        "| endpoint | req/s | p50 ms | p99 ms | bare req/s (paired) | **ratio to bare** "
        "| server CPU ms/req (bare) | CPU ratio | non-2xx / socket errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for path, pairs in rows:
        ratio = statistics.median(p.rps / b.rps for b, p in pairs if b.rps)
        bares, projects = [b for b, _ in pairs], [p for _, p in pairs]
        bare_cpu, cpu = (statistics.median(x.cpu_ms for x in side) for side in (bares, projects))
        p50 = statistics.median(x.p50_ms for x in projects)
        p99 = max(x.p99_ms for x in projects)
        rps, bare_rps = (statistics.median(x.rps for x in side) for side in (projects, bares))
        lines.append(
            f"| `{path}` | {rps:,.0f} | {p50:.1f} | {p99:.1f} | {bare_rps:,.0f} | **{ratio:.1%}** "
            f"| {cpu:.2f} ({bare_cpu:.2f}) | {bare_cpu / cpu:.1%} "
            f"| {sum(x.non_2xx for x in projects)} / {sum(x.errors for x in projects)} |"
        )
    return lines


def run_project(
    stack: Stack,
    config: ServerConfig,
    bare: Gunicorn,
    endpoints: list[tuple[str, bool]],
    *,
    rounds: int,
    load: dict[str, Any],
    wrk_rounds: int = 0,
    accept_encoding: str | None = BROWSER_ACCEPT_ENCODING,
) -> tuple[
    list[Measured], list[tuple[str, list[tuple[WrkResult, WrkResult]]]], list[Measured], list[Measured]
]:
    """Start the project under ``config``, log in, and measure ``endpoints`` paired with ``bare``,
    every request carrying ``accept_encoding``.

    With ``wrk_rounds`` the same pairs are then loaded by wrk too (the second list). The endpoints
    in ``LARGE_ENDPOINTS`` are also measured without ``Accept-Encoding``: paired with the bare
    endpoint (the third list) and with the bare endpoint sending a body of their size (the fourth).
    """
    with Gunicorn("backend.wsgi:app", config, stack.env, "/api/health") as project:
        token = login(project.url)
        for path, auth in endpoints:  # one request each: they must answer 200 before they are timed
            status, body, _ = http_json("GET", project.url + path, token=token if auth else None)
            if status != 200:
                raise RuntimeError(f"{path} answered {status}: {body}")
        measured = measure(
            bare, project, endpoints, token, rounds=rounds, load=load, accept_encoding=accept_encoding
        )
        by_wrk = (
            measure_wrk(
                bare, project, endpoints, token, rounds=wrk_rounds, load=load, accept_encoding=accept_encoding
            )
            if wrk_rounds
            else []
        )
        large = [(path, auth) for path, auth in endpoints if path in LARGE_ENDPOINTS]
        sizes = {
            path: http_json("GET", project.url + path, token=token if auth else None)[2]
            for path, auth in large
        }
        identity = measure(bare, project, large, token, rounds=rounds, load=load) if accept_encoding else []
        same_size = measure(
            bare,
            project,
            large,
            token,
            rounds=rounds,
            load=load,
            bare_path=lambda path: f"{BARE_LARGE_PATH}?bytes={sizes[path]}",
        )
        return measured, by_wrk, identity, same_size


def run_sweep(
    stack: Stack,
    configs: list[ServerConfig],
    bare: Gunicorn,
    endpoints: list[tuple[str, bool]],
    *,
    rounds: int,
    load: dict[str, Any],
    accept_encoding: str | None = BROWSER_ACCEPT_ENCODING,
) -> list[tuple[ServerConfig, list[Measured]]]:
    """Measure the project under each config, round-robin ``rounds`` times, against one bare server."""
    merged = {c: [Measured(path, auth) for path, auth in endpoints] for c in configs}
    for r in range(rounds):
        for c in configs:
            print(f"sweep round {r + 1}: {c.label}", flush=True)
            got, _, _, _ = run_project(
                stack, c, bare, endpoints, rounds=1, load=load, accept_encoding=accept_encoding
            )
            for into, new in zip(merged[c], got, strict=True):
                into.pairs += new.pairs
    return list(merged.items())


# --- the in-process profile ----------------------------------------------------------------------

# Inclusive cost of named operations: (label, file fragment, function name). Time is cumulative
# (callees included) and the rows overlap (the revocation check is inside the JWT verification).
PROBES: tuple[tuple[str, str, str], ...] = (
    (
        "JWT verify (decode + revocation check)",
        "flask_jwt_extended/view_decorators.py",
        "verify_jwt_in_request",
    ),
    (
        "  JWT decode (flask-jwt-extended + pyjwt)",
        "flask_jwt_extended/jwt_manager.py",
        "_decode_jwt_from_config",
    ),
    ("  revocation check (Redis EXISTS)", "backend/core/auth.py", "is_revoked"),
    ("pool checkout", "sqlalchemy/pool/base.py", "_checkout"),
    ("  pre-ping (SELECT 1 on checkout)", "sqlalchemy/engine/default.py", "_do_ping_w_event"),
    ("session teardown (remove: rollback + checkin)", "flask_sqlalchemy/extension.py", "_teardown_session"),
    ("  DBAPI rollbacks", "sqlalchemy/engine/default.py", "do_rollback"),
    ("ORM statements (session execute, incl. SQL)", "sqlalchemy/orm/session.py", "_execute_internal"),
    ("  SQL round trips (cursor.execute)", "sqlalchemy/engine/default.py", "do_execute"),
    ("  row fetch incl. JSONB decode (psycopg2 fetch*)", "~", "<method 'fetch*"),
    ("marshmallow Schema.dump", "marshmallow/schema.py", "dump"),
    ("marshmallow Schema.load (query args)", "marshmallow/schema.py", "load"),
    ("JSON encoding of the response", "flask/json/provider.py", "response"),
    ("envelope (success_body)", "backend/core/envelope.py", "success_body"),
    ("request id hooks", "backend/core/logging.py", "_assign_request_id"),
    ("input guard (NUL check)", "backend/core/input_guard.py", "_reject_nul"),
)

# Exclusive (self) time by layer: the first matching fragment of a frame's file wins.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Postgres wire (psycopg2 C calls)", ("psycopg2",)),
    ("Redis (client + socket)", ("redis/", "_socket.socket", "socket.py")),
    ("SQLAlchemy ORM", ("sqlalchemy/orm/",)),
    ("SQLAlchemy Core/engine/pool", ("sqlalchemy/",)),
    ("marshmallow + webargs", ("marshmallow/", "webargs/")),
    ("flask-smorest", ("flask_smorest/",)),
    ("JWT (pyjwt, flask-jwt-extended, crypto)", ("jwt/", "flask_jwt_extended/", "cryptography/", "hmac")),
    ("Flask + Werkzeug", ("flask/", "werkzeug/", "flask_cors/", "flask_limiter/", "limits/")),
    ("JSON (response encode, JSONB decode)", ("json/", "orjson")),
    ("backend (project code)", ("backend/",)),
)


@dataclass
class Profiled:
    """Per-request time of one endpoint in-process, and the profile's split."""

    path: str
    requests: int  # per timing (fewer for slow endpoints, so each profile stays a few seconds)
    ms_per_request: float  # unprofiled wall time per request
    cpu_ms_per_request: float  # unprofiled CPU time of this process per request
    profiled_ms: float  # per request, under cProfile (inflated by the profiler)
    probes: list[tuple[str, float, float]]  # label, ms/request (profiled), calls/request
    layers: list[tuple[str, float]]  # label, share of the profiled total


def _frame_file(key: tuple[str, int, str]) -> str:
    filename, _line, func = key
    return f"{filename}:{func}" if filename != "~" else func


def _split(
    stats: pstats.Stats, n: int
) -> tuple[float, list[tuple[str, float, float]], list[tuple[str, float]]]:
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    total = sum(tt for (_cc, _nc, tt, _ct, _callers) in raw.values())
    probes = []
    for label, fragment, func in PROBES:
        ct = calls = 0.0
        for (filename, _line, name), (_cc, nc, _tt, cum, _callers) in raw.items():
            named = name.startswith(func[:-1]) if func.endswith("*") else name == func
            if named and filename.replace(os.sep, "/").endswith(fragment):
                ct += cum
                calls += nc
        probes.append((label, ct * 1000 / n, calls / n))
    layers: dict[str, float] = {}
    for key, (_cc, _nc, tt, _ct, _callers) in raw.items():
        where = _frame_file(key).replace(os.sep, "/")
        label = next(
            (lab for lab, frags in LAYERS if any(f in where for f in frags)), "other (stdlib, builtins)"
        )
        layers[label] = layers.get(label, 0.0) + tt
    shares = sorted(((lab, t / total) for lab, t in layers.items()), key=lambda x: -x[1])
    return total * 1000 / n, probes, shares


def _time_requests(client: Any, path: str, headers: dict[str, str], n: int) -> float:
    return _time_requests_cpu(client, path, headers, n)[0]


def _time_requests_cpu(client: Any, path: str, headers: dict[str, str], n: int) -> tuple[float, float]:
    """Send ``n`` GETs; return (wall ms, process CPU ms) per request."""
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        resp = client.get(path, headers=headers)
        if resp.status_code != 200:
            raise RuntimeError(f"{path} answered {resp.status_code}: {resp.get_data(as_text=True)[:300]}")
    return (time.perf_counter() - t0) * 1000 / n, (time.process_time() - c0) * 1000 / n


def profile_endpoints(
    stack: Stack, endpoints: list[tuple[str, bool]], n: int
) -> tuple[float, list[Profiled]]:
    """Profile ``n`` test-client requests per endpoint; return (bare ms/request, per-endpoint results)."""
    from backend.app import create_app
    from backend.config import load_config

    bare = bare_app().test_client()
    _time_requests(bare, BARE_PATH, {}, 50)
    bare_ms = min(_time_requests(bare, BARE_PATH, {}, max(n, 500)) for _ in range(3))

    app = create_app(load_config({**os.environ, **stack.env}))
    client = app.test_client()
    status = client.post("/api/auth/login", json={"username": "admin", "password": "admin123"})
    token = status.get_json()["data"]["access_token"]
    out = []
    for path, auth in endpoints:
        headers = {"Authorization": f"Bearer {token}"} if auth else {}
        warm = _time_requests(client, path, headers, 20)
        k = max(20, min(n, int(2000 / max(warm, 1e-3))))  # about 2 s per timing at most
        plain, cpu = min(_time_requests_cpu(client, path, headers, k) for _ in range(3))
        splits = []
        for _ in range(3):  # the least disturbed of three profiles (the machine is shared)
            prof = cProfile.Profile()
            prof.enable()
            _time_requests(client, path, headers, k)
            prof.disable()
            splits.append(_split(pstats.Stats(prof), k))
        profiled_ms, probes, layers = min(splits, key=lambda x: x[0])
        out.append(Profiled(path, k, plain, cpu, profiled_ms, probes, layers))
        print(f"  profile {path}: {plain:.2f} ms/request ({profiled_ms:.2f} ms under cProfile)", flush=True)
    return bare_ms, out


# --- the report ----------------------------------------------------------------------------------


def machine() -> str:
    """Return a one-line description of this machine."""
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{model}, {os.cpu_count()} CPUs (shared with other work; load average at start {load}), "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def _endpoint_table(results: list[Measured]) -> list[str]:
    rows = [
        "| endpoint | auth | req/s | p50 ms | p95 ms | p99 ms | bare req/s (paired) | **ratio to bare** "
        "| server CPU ms/req (bare) | CPU ratio | non-2xx |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in results:
        p, b = m.project, m.bare
        cpu, bare_cpu = m.cpu_ms
        rows.append(
            f"| `{m.path}` | {'yes' if m.auth else 'no'} | {p.rps:,.0f} | {p.pct(50):.1f} | "
            f"{p.pct(95):.1f} | {p.pct(99):.1f} | {b.rps:,.0f} (p50 {b.pct(50):.1f} ms) | "
            f"**{m.ratio:.1%}** | "
            f"{cpu:.2f} ({bare_cpu:.2f}) | {bare_cpu / cpu if cpu else 0:.1%} | {p.non_2xx + p.errors} |"
        )
    return rows


def _geomean(values: list[float]) -> float:
    values = [v for v in values if v > 0]
    return statistics.geometric_mean(values) if values else 0.0


def _sweep_table(sweep: list[tuple[ServerConfig, list[Measured]]], reference: str) -> tuple[list[str], str]:
    paths = [m.path for m in sweep[0][1]]
    rows = [
        "| gunicorn (project) | "
        + " | ".join(f"`{p}` req/s, ratio, p99 ms, CPU ms/req" for p in paths)
        + f" | geomean ratio to bare ({reference}) |",
        "|---|" + "---:|" * (len(paths) + 1),
    ]
    best, best_score = "", -1.0
    for config, results in sweep:
        score = _geomean([m.ratio for m in results])
        cells = " | ".join(
            f"{m.project.rps:,.0f}, {m.ratio:.0%}, {m.project.pct(99):.0f}, {m.cpu_ms[0]:.2f}"
            for m in results
        )
        rows.append(f"| {config.label} | {cells} | **{score:.1%}** |")
        if score > best_score:
            best, best_score = config.label, score
    return rows, best


def _profile_section(bare_ms: float, profiled: list[Profiled]) -> list[str]:
    lines = [
        "### Where a request's time goes (in-process profile)",
        "",
        f"Flask test client, no network, same seeded database; bare Flask: **{bare_ms:.3f} ms/request**. "
        "`ms/request` is the best of 3 wall times without the profiler; the rows below come from the least "
        "disturbed of 3 cProfile runs over the same number of requests (which inflates Python-heavy "
        "parts), as ms/request under the profiler and calls per request. Rows overlap (inclusive times).",
        "",
        "| operation | " + " | ".join(f"`{p.path}`" for p in profiled) + " |",
        "|---|" + "---:|" * len(profiled),
        "| **wall ms/request (no profiler)** | "
        + " | ".join(f"**{p.ms_per_request:.2f}**" for p in profiled)
        + " |",
        "| x bare Flask | " + " | ".join(f"{p.ms_per_request / bare_ms:.1f}x" for p in profiled) + " |",
        "| CPU ms/request of the app's process (the rest is waiting: Postgres, Redis, scheduling) | "
        + " | ".join(f"{p.cpu_ms_per_request:.2f}" for p in profiled)
        + " |",
        "| requests per timing | " + " | ".join(str(p.requests) for p in profiled) + " |",
        "| profiled ms/request | " + " | ".join(f"{p.profiled_ms:.2f}" for p in profiled) + " |",
    ]
    for i, (label, _frag, _func) in enumerate(PROBES):
        cells = []
        for p in profiled:
            _lab, ms, calls = p.probes[i]
            cells.append(f"{ms:.2f} ({calls:g}x)" if calls else "-")
        lines.append(f"| {label.strip()} | " + " | ".join(cells) + " |")
    labels = [lab for lab, _ in LAYERS] + ["other (stdlib, builtins)"]
    lines += [
        "",
        "Self time by layer (share of the profiled total; sums to 100 % per endpoint):",
        "",
        "| layer | " + " | ".join(f"`{p.path}`" for p in profiled) + " |",
        "|---|" + "---:|" * len(profiled),
    ]
    for lab in labels:
        cells = [f"{dict(p.layers).get(lab, 0.0):.0%}" for p in profiled]
        lines.append(f"| {lab} | " + " | ".join(cells) + " |")
    return lines


def report(
    *,
    when: str,
    config: ServerConfig,
    load: dict[str, Any],
    rounds: int,
    results: list[Measured],
    sweep: list[tuple[ServerConfig, list[Measured]]],
    bare_ms: float | None,
    profiled: list[Profiled],
    by_wrk: list[tuple[str, list[tuple[WrkResult, WrkResult]]]] | None = None,
    same_size: list[Measured] | None = None,
    identity: list[Measured] | None = None,
    accept_encoding: str | None = None,
    host: str | None = None,
) -> str:
    """Return the markdown of the `api` section."""
    lines = [
        "## API throughput against bare Flask (`scripts/bench_api.py`)",
        "",
        f"Measured {when} on {host or machine()}.",
        "",
        f"Both servers run under the same gunicorn ({config.label}, `--worker-class {config.worker_class} "
        f"--workers {config.workers} --threads {config.threads}`) on loopback; the project with "
        "`APP_ENV=production` against a scratch database migrated and seeded with `flask seed`, Postgres "
        "and Redis on loopback; the bare app is one Flask view returning the same envelope "
        f"(`{{code, message, data, request_id}}`, 3 small items). Load: `scripts/loadgen.py`, "
        f"{load['connections']} keep-alive connections, {load['warmup_s']:g} s warm-up + "
        f"{load['duration_s']:g} s recorded per measurement, {rounds} rounds; each endpoint is measured "
        "right after the bare endpoint and its ratio is the median of the paired ratios, so machine noise "
        "hits both sides. Latencies merge the rounds. Server CPU ms/req is the user+system CPU of the "
        "gunicorn master and workers (from /proc) per response, warm-up included; `CPU ratio` = bare CPU / "
        "project CPU, the ceiling ratio the project would reach if CPU were the only limit (it is much "
        "less sensitive to other work on the machine than req/s). Target (issue 11): ratio >= 50 %, "
        "p99 < 50 ms.",
        "",
        (
            f"Every request (to both servers) carries `Accept-Encoding: {accept_encoding}`, as a browser's "
            "do: the project sends the showcase's cached entries of 1 KB or more gzipped "
            "(`core/compression.py`, compressed once per entry); the bare endpoint ignores it."
            if accept_encoding
            else "No request carries `Accept-Encoding`: every body is sent as it is."
        ),
        "",
        *_endpoint_table(results),
    ]
    if by_wrk:
        lines += ["", *_wrk_table(by_wrk, load)]
    if identity:
        lines += [
            "",
            "### The large bodies without `Accept-Encoding`",
            "",
            "The same pairing, the same run, for a client that does not accept gzip (the body sent as it "
            "is, ~160 KB for `backtests/latest`).",
            "",
            *_endpoint_table(identity),
        ]
    if same_size:
        lines += [
            "",
            "### A large body against a bare endpoint sending as many bytes",
            "",
            "The endpoints above are paired with a bare body of about 200 bytes. These carry much more "
            "(`backtests/latest`: the contract's kline, equity curve and first fills, ~160 KB), so they "
            "are also paired, the same way and in the same run, with a bare Flask endpoint sending a "
            "pre-encoded envelope of exactly their size (`bare req/s` below): the ceiling for sending "
            "that body. No request here carries `Accept-Encoding` (both bodies sent as they are). The "
            "target is still the ratio in the first table; this says how much of the gap is the body's "
            "size.",
            "",
            *_endpoint_table(same_size),
        ]
    if sweep:
        rows, best = _sweep_table(sweep, config.label)
        rounds_swept = len(sweep[0][1][0].pairs)
        lines += [
            "",
            "### gunicorn settings (sync vs gthread, workers per core)",
            "",
            f"The project under each configuration, {rounds_swept} rounds round-robin over the "
            f"configurations, every measurement paired with the same bare-Flask server ({config.label}, "
            "kept running), so the ratios rank the configurations with the machine's noise divided out. "
            f"Best by measurement (geometric mean of the paired ratios): **{best}**. gunicorn's sync worker "
            "closes the connection after every response, so its figures include a TCP connect per request "
            "(what a proxy without upstream keep-alive would see). CPU ms/req: project server CPU per "
            "response.",
            "",
            *rows,
        ]
    if bare_ms is not None and profiled:
        lines += ["", *_profile_section(bare_ms, profiled)]
    return "\n".join(lines)


# --- main ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and (unless --no-write) update docs/performance.md's `api` section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker-class", choices=["gthread", "sync"], default="gthread")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=3.0, help="seconds recorded per measurement")
    parser.add_argument("--warmup", type=float, default=0.5, help="seconds not recorded per measurement")
    parser.add_argument("--max-requests", type=int, default=100_000, help="per measurement")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sweep", default=DEFAULT_SWEEP, help='configs, e.g. "gthread:2x4,sync:5"; "" skips')
    parser.add_argument("--sweep-rounds", type=int, default=2)
    parser.add_argument("--profile-requests", type=int, default=200, help="0 skips the profile")
    parser.add_argument(
        "--endpoints",
        default="",
        help='comma-separated paths to measure (default: all), e.g. "/api/users/me"',
    )
    parser.add_argument(
        "--wrk-rounds", type=int, default=1, help="rounds of the cross-check with wrk when installed; 0 skips"
    )
    parser.add_argument(
        "--accept-encoding",
        default=BROWSER_ACCEPT_ENCODING,
        help='the Accept-Encoding header of every request (default: a browser\'s); "" sends none',
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)

    config = ServerConfig(
        args.worker_class, args.workers, args.threads if args.worker_class == "gthread" else 1
    )
    load = {
        "connections": args.connections,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "max_requests": args.max_requests,
    }
    endpoints = [(p, False) for p in ANONYMOUS] + [(p, True) for p in AUTHENTICATED]
    if args.endpoints:
        wanted = set(args.endpoints.split(","))
        endpoints = [(p, a) for p, a in endpoints if p in wanted]
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    host = machine()  # the load average before this run's own load
    sweep: list[tuple[ServerConfig, list[Measured]]] = []
    by_wrk: list[tuple[str, list[tuple[WrkResult, WrkResult]]]] = []
    bare_ms: float | None = None
    profiled: list[Profiled] = []
    with scratch_stack("bench_api") as stack:
        with Gunicorn(BARE_SPEC, config, {}, BARE_PATH) as bare:
            print(f"main run: {config.label}", flush=True)
            wrk_rounds = args.wrk_rounds if shutil.which("wrk") else 0
            if args.wrk_rounds and not wrk_rounds:
                print("wrk is not installed (apt-get install wrk): no cross-check", flush=True)
            results, by_wrk, identity, same_size = run_project(
                stack,
                config,
                bare,
                endpoints,
                rounds=args.rounds,
                load=load,
                wrk_rounds=wrk_rounds,
                accept_encoding=args.accept_encoding or None,
            )
            configs = [ServerConfig.parse(text) for text in filter(None, args.sweep.split(","))]
            if configs:
                sweep_endpoints = [(p, a) for p, a in endpoints if p in SWEEP_ENDPOINTS]
                sweep = run_sweep(
                    stack,
                    configs,
                    bare,
                    sweep_endpoints,
                    rounds=args.sweep_rounds,
                    load=load,
                    accept_encoding=args.accept_encoding or None,
                )
        if args.profile_requests > 0:
            print("profile (in-process)", flush=True)
            bare_ms, profiled = profile_endpoints(stack, endpoints, args.profile_requests)
    text = report(
        when=when, config=config, load=load, rounds=args.rounds, results=results, sweep=sweep,
        bare_ms=bare_ms, profiled=profiled, by_wrk=by_wrk, same_size=same_size, identity=identity,
        accept_encoding=args.accept_encoding or None, host=host,
    )  # fmt: skip
    print()
    print(text)
    if not args.no_write:
        print(f"\nwrote {update_section('api', text)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
