"""Measure the login CPU denial of service: an unrelated endpoint's latency while 32 clients send
wrong passwords (Argon2id "strong" profile, the production default).

Starts gunicorn (2 workers x 4 threads, like a small deployment) on a scratch database, registers
one user, then measures GET /api/forum/hot alone and again while 32 threads post wrong-password
logins for a fixed time. The login rate limits are raised out of the way, as for an attack spread
over many addresses, so the figure is the password-hashing gate's (docs/security.md).
Usage: .venv/bin/python -m scripts.bench_login [--tree PATH] [--seconds 15]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import psycopg2

from scripts import services as svc_mod

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = 32


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _request(url: str, body: dict | None = None) -> tuple[int, float]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:
        exc.read()
        status = exc.code
    return status, time.perf_counter() - start


def _latencies(url: str, seconds: float) -> list[float]:
    out: list[float] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        out.append(_request(url)[1])
        time.sleep(0.05)
    return out


def _attack(base: str, seconds: float) -> tuple[list[float], Counter[int], int]:
    stop = threading.Event()
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def client(i: int) -> None:
        while not stop.is_set():
            status, _ = _request(f"{base}/api/auth/login", {"username": "victim", "password": f"wrong-{i}"})
            with lock:
                statuses[status] += 1

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    time.sleep(1)  # let the attack reach steady state
    with lock:
        before = sum(statuses.values())
    hot = _latencies(f"{base}/api/forum/hot", seconds)
    with lock:
        attempts = sum(statuses.values()) - before
    stop.set()
    for t in threads:
        t.join(timeout=60)
    return hot, statuses, attempts


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1000 if len(values) > 2 else values[0] * 1000


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--tree", type=Path, default=ROOT, help="checkout to run (e.g. an older commit)")
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    services = svc_mod.resolve(mode="test")
    url = svc_mod.with_database(services.database_url, f"qyq_bench_login_{os.getpid()}")
    svc_mod.ensure_database(url)
    port = _free_port()
    env = {
        **os.environ,
        "APP_ENV": "development",
        "DATABASE_URL": url,
        "REDIS_URL": services.redis_url,
        "REDIS_KEY_PREFIX": f"qyqbench:{os.getpid()}:",
        "PASSWORD_HASH_PROFILE": "strong",
        "LOG_LEVEL": "ERROR",
        "RATELIMIT_LOGIN": "1000000 per minute",
        "RATELIMIT_LOGIN_FAILURES": "1000000 per minute",
        "RATELIMIT_REGISTER": "1000000 per minute",
    }
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "backend.app:create_app", "db", "upgrade", "heads"],
        cwd=args.tree, env=env, check=True, capture_output=True,
    )  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4",
         "--timeout", "120", "backend.wsgi:app"],
        cwd=args.tree, env=env, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _request(f"{base}/api/health")
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        _request(f"{base}/api/auth/register", {"username": "victim", "password": "the-real-password"})
        quiet = _latencies(f"{base}/api/forum/hot", 5)
        hot, statuses, attempts = _attack(base, args.seconds)
    finally:
        server.terminate()
        server.wait(timeout=30)
        _drop(url)
    print(f"tree: {args.tree}")
    print(f"GET /api/forum/hot alone:          p50 {_p(quiet, 50):.0f} ms, p95 {_p(quiet, 95):.0f} ms")
    print(
        f"GET /api/forum/hot under {CLIENTS} login clients: "
        f"p50 {_p(hot, 50):.0f} ms, p95 {_p(hot, 95):.0f} ms"
    )
    print(f"login answers: {attempts / args.seconds:.1f}/s; statuses {dict(sorted(statuses.items()))}")


def _drop(url: str) -> None:
    from sqlalchemy.engine import make_url

    admin = psycopg2.connect(svc_mod.with_database(url, "postgres").replace("+psycopg2", ""))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
    admin.close()


if __name__ == "__main__":
    main()
