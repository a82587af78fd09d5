"""Instructions per request of the API hot paths against bare Flask, counted by valgrind (callgrind).

Seconds on the shared 2-core machine move with the host's load by 2-3x within a day; instruction
counts do not (the same binary, inputs and environment give the same total). This script counts
them for the requests themselves, in one process per source tree, calling the WSGI app directly
(no server, no test client): first the bare-Flask envelope endpoint of `scripts/bench_api.py`
(before the project's app exists, so it runs stock Flask and werkzeug), then each endpoint of the
project with a cache already filled (the hot path; the caches' and the session lease's lifetimes
are an hour here, so none expires during a batch and every counted request is a hit). Every
request carries a browser's ``Accept-Encoding`` (the bare endpoint ignores it). Instrumentation
is on only around each batch (``callgrind_control``), so the setup, imports and the warm-up are
not counted.

What it does not count: the kernel (the socket calls to Redis and the client) and time spent
waiting. It complements `bench_api.py` (gunicorn, a load generator, CPU and req/s ratios), it does
not replace it.

    python scripts/bench_api_instructions.py                 # this tree
    python scripts/bench_api_instructions.py --tree ../old   # another tree first, then this one

Needs valgrind (Debian's package) and the local Postgres and Redis, like the other benchmarks.
Writes section ``api-instructions`` of docs/performance.md (``--no-write`` to only print).
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The poll a client sends while its backtest job waits or runs (a job of the caller's held
# PENDING: submitted with the broker send left out, so no worker runs it).
JOB_POLL = "/api/backtests/job/{queued}"
ENDPOINTS = (
    ("/api/users/me", True),
    ("/api/strategies", True),
    ("/api/backtests", True),
    ("/api/bots", True),
    ("/api/strategies/recent", False),
    ("/api/bots/recent", False),
    ("/api/forum/hot", False),
    ("/api/backtests/latest", False),
    (JOB_POLL, True),
)
# Under valgrind a batch of requests takes seconds, longer than the caches' and the session
# lease's default 10 s lifetimes: an entry expiring mid-batch made one request a miss (a view run
# with SQL, or a session read from Postgres) and added up to ~70k instructions to that batch's
# figure, a different endpoint in each run. These lifetimes outlast the run, so every counted
# request is a hit; a hit's work does not depend on them.
HIT_ENV = {
    "REDIS_BACKOFF_S": "3600",
    "AUTH_CACHE_TTL_S": "3600",
    "SHOWCASE_CACHE_TTL_S": "3600",
    "PERSONAL_CACHE_TTL_S": "3600",
}
ACCEPT_ENCODING = "gzip, deflate, br, zstd"  # as `bench_api.BROWSER_ACCEPT_ENCODING` (older trees lack it)
WAIT_S = 600.0  # any one step of the instrumented process (setup under valgrind is slow)


def _environ(path: str, token: str | None) -> dict[str, Any]:
    env: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_ACCEPT": "*/*",
        "HTTP_ACCEPT_ENCODING": ACCEPT_ENCODING,  # a browser's: large cached entries go gzipped
    }
    if token:
        env["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return env


def _call(app: Any, path: str, token: str | None) -> int:
    status: list[str] = []
    body = app(_environ(path, token), lambda s, _h, _e=None: status.append(s))
    size = sum(len(chunk) for chunk in body)
    getattr(body, "close", lambda: None)()
    if not status[0].startswith("200"):
        raise RuntimeError(f"{path} answered {status[0]}")
    return size


def _wait(path: Path) -> None:
    deadline = time.monotonic() + WAIT_S
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {path.name} within {WAIT_S:.0f} s")
        time.sleep(0.05)


def target(control: Path, requests: int) -> None:
    """The instrumented process: set up, then run one batch per phase when told to."""
    sys.path.insert(0, os.getcwd())
    from scripts import bench_api

    with bench_api.scratch_stack("instr") as stack:
        os.environ.update(stack.env)
        bare = bench_api.bare_app()  # before create_app: stock Flask, stock proxies
        phases: list[tuple[str, Any, str | None]] = [(bench_api.BARE_PATH, bare, None)]
        for _ in range(5):
            _call(bare, bench_api.BARE_PATH, None)
        _batch(control, 0, phases[0], requests)
        from backend.app import create_app
        from backend.config import load_config

        app = create_app(load_config({**os.environ, **stack.env, **HIT_ENV}))
        login = app.test_client().post("/api/auth/login", json={"username": "admin", "password": "admin123"})
        token = login.get_json()["data"]["access_token"]
        paths = {path: path for path, _ in ENDPOINTS}
        paths[JOB_POLL] = JOB_POLL.format(queued=_queued_job(app, token))
        for path, auth in ENDPOINTS:
            for _ in range(5):  # fills the caches; later calls are hits
                _call(app, paths[path], token if auth else None)
        for i, (path, auth) in enumerate(ENDPOINTS, start=1):
            _batch(control, i, (paths[path], app, token if auth else None), requests, label=path)


def _queued_job(app: Any, token: str) -> str:
    """Submit a backtest of the caller's first strategy that stays PENDING; return its job id."""
    from backend.core import jobs

    jobs.runtime.send_task = lambda *_a, **_k: None  # no broker: the job is never run
    client, headers = app.test_client(), {"Authorization": f"Bearer {token}"}
    strategy = client.get("/api/strategies", headers=headers).get_json()["data"][0]["id"]
    resp = client.post("/api/backtests/run", json={"strategy_id": strategy}, headers=headers)
    if resp.status_code != 202:
        raise RuntimeError(f"submit answered {resp.status_code}: {resp.get_json()}")
    return str(resp.get_json()["data"]["job_id"])


def _batch(
    control: Path, i: int, phase: tuple[str, Any, str | None], requests: int, label: str | None = None
) -> None:
    path, app, token = phase
    (control / f"ready{i}").write_text(label or path)
    _wait(control / f"go{i}")
    for _ in range(requests):
        _call(app, path, token)
    (control / f"done{i}").touch()
    _wait(control / f"ack{i}")


def _control(pid: int, *args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True, timeout=60)


def count_tree(tree: Path, requests: int) -> list[tuple[str, int]]:
    """Return (path, instructions per request) for the bare endpoint and each endpoint, in ``tree``."""
    control = Path(tempfile.mkdtemp(prefix="qyq-instr-"))
    out = control / "cg.out"
    python = tree / ".venv" / "bin" / "python"
    cmd = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={out}",
        str(python if python.exists() else sys.executable),
        str(Path(__file__).resolve()),
        "--target",
        str(control),
        "--requests",
        str(requests),
    ]
    log = open(control / "log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, cwd=tree, stdout=log, stderr=subprocess.STDOUT)
    results: list[tuple[str, int]] = []
    try:
        for i in range(len(ENDPOINTS) + 1):
            ready = control / f"ready{i}"
            deadline = time.monotonic() + WAIT_S
            while not ready.exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "the instrumented process stopped:\n" + (control / "log").read_text()[-3000:]
                    )
                time.sleep(0.2)
            _control(proc.pid, "-z")
            _control(proc.pid, "-i", "on")
            (control / f"go{i}").touch()
            _wait(control / f"done{i}")
            _control(proc.pid, "-i", "off")
            _control(proc.pid, "-d", f"phase{i}")
            dumps = sorted(control.glob("cg.out.*"), key=lambda p: p.stat().st_mtime)
            totals = next(line for line in dumps[-1].read_text().splitlines() if line.startswith("totals:"))
            results.append((ready.read_text(), int(totals.split()[1]) // requests))
            print(f"  {tree.name}: {results[-1][0]} {results[-1][1]:,} instructions/request", flush=True)
            (control / f"ack{i}").touch()
        proc.wait(timeout=WAIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
        shutil.rmtree(control, ignore_errors=True)
    return results


def report(runs: list[tuple[str, list[tuple[str, int]]]], requests: int) -> str:
    """Return the markdown section: instructions per request and x bare, per tree."""
    lines = [
        "## API instructions per request (`scripts/bench_api_instructions.py`)",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; valgrind callgrind, "
        f"{requests} requests per endpoint called on the WSGI app directly, caches filled (hits); "
        "the kernel's work (sockets) and waiting are not counted. `x bare` = instructions of the "
        "bare-Flask envelope endpoint (stock Flask, same process, counted first) divided by the "
        "endpoint's: the share of the ceiling in instructions.",
        "",
        "| endpoint | " + " | ".join(f"{name} instr/req | {name} x bare" for name, _ in runs) + " |",
        "|---|" + "---:|---:|" * len(runs),
    ]
    paths = [path for path, _ in runs[0][1]]
    for row, path in enumerate(paths):
        cells = []
        for _name, counts in runs:
            bare, value = counts[0][1], counts[row][1]
            cells += [f"{value:,}", f"{bare / value * 100:.0f} %"]
        lines.append(f"| `{path}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", default=[], help="another source tree, counted first")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--target", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.target:
        target(Path(args.target), args.requests)
        return 0
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    runs = []
    for tree in [*map(Path, args.tree), ROOT]:
        tree = tree.resolve()
        label = "this tree" if tree == ROOT else tree.name
        runs.append((label, count_tree(tree, args.requests)))
    section = report(runs, args.requests)
    print(section)
    if not args.no_write:
        sys.path.insert(0, str(ROOT))
        from scripts.perfdoc import update_section

        update_section("api-instructions", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
