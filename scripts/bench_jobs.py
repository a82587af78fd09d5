"""Benchmark a backtest's round trip (submit -> SUCCESS seen by the client); write the `jobs` section.

What runs (loopback only, bounded): a scratch database (``scripts.bench_api.scratch_stack``, with
``BACKTEST_MAX_BARS`` raised), the project under gunicorn (gthread 2x4, as ``bench_api``), and a
real Celery worker on the ``backtests`` queue (prefork, ``--concurrency``). A registered user
creates an SMA 10/30 BTCUSDT 1m strategy and submits backtests of it on mock bars
(``POST /api/backtests/run``) and polls
``GET /api/backtests/job/{id}`` every ``--poll-ms`` until SUCCESS, ``--runs`` times per size
(100k and 1M bars; one unrecorded warm-up run each). The same range is used every run.

The split comes from the worker: it is started through this script (``worker`` sub-command),
which wraps the job's steps in timers *before* Celery forks its pool (no production code changes):
``jobs.runtime._claim``, ``service._row_of_job``, ``results.load_bars``, the signals / ``engine.run`` /
``compute_metrics`` / ``return_sums`` / ``result_guardrails`` calls (from ``results.compute``; a
long run's metrics in the store, beside its writer, and its guardrails on their thread: counted
there, not twice),
``JobContext.progress`` (each a commit),
``results.store`` (with the trades' write / ``kline_wire`` / ``equity_wire`` inside), ``ctx.complete``,
and ``service._store`` (the transaction: its remainder is the flush + COMMIT). Work that runs on a
thread beside other steps (a long run's guardrails from the engine's result until the store
needs them, its chart UPDATE and trades' COPY beside the metrics) is timed on its thread and,
separately, as the wait for it that the job pays. Each job appends
one JSON line to a timings file that the client joins by job id. Queue wait = the claim's start
(worker clock) minus the submit response (client clock): same machine, same clock.

Usage: ``.venv/bin/python -m scripts.bench_jobs [--runs 15] [--runs-1m 5] [--poll-ms 10] [--no-write]``
"""

from __future__ import annotations

import argparse
import functools
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts.bench_api import Gunicorn, ServerConfig, Stack, machine, scratch_stack  # noqa: E402
from scripts.loadgen import percentile  # noqa: E402
from scripts.perfdoc import update_section  # noqa: E402

MIN_MS = 60_000
SIZES = (100_000, 1_000_000)
TIMINGS_ENV = "QYQ_BENCH_JOB_TIMINGS"

# --- the instrumented worker (runs in the worker process, before the pool forks) ------------------

_job: dict[str, Any] = {}


def _timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``fn`` so each call adds its duration (s) and a count under ``name`` in the current job."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent = _job.setdefault("spent", {})
            calls = _job.setdefault("calls", {})
            t1 = time.perf_counter()
            took = t1 - t0
            main = threading.get_ident() == _job.get("thread")
            _job.setdefault("spans", []).append((name, "main" if main else "side", t0, t1))
            spent[name] = spent.get(name, 0.0) + took
            calls[name] = calls.get(name, 0) + 1
            if name in ("metrics", "guardrails"):  # where it ran: beside the job's path, or in the store
                where = _where(name)
                if where:
                    spent[where] = spent.get(where, 0.0) + took

    return wrapper


def _where(name: str) -> str:
    """Return where a metrics or guardrails step runs: "<name>_beside" (another thread than the
    job's: a long run's guardrails, or the return sums they take first), "<name>_in_store" (a long
    run's metrics, computed when the store reads them, beside the chart and trades being written)
    or "" (in ``results.compute``)."""
    if threading.get_ident() != _job.get("thread"):
        return f"{name}_beside"
    return f"{name}_in_store" if _job.get("in_store") else ""


def store_rest_ms(ms: Callable[[str], float]) -> float:
    """Return the part of ``results.store`` that no timed step inside it accounts for (the result
    row's UPDATE, the fingerprint), from a job's step times (``ms(name)``, ms)."""
    steps = (
        "trade_rows",
        "trade_write",
        "sql_delete",
        "kline_rows",
        "equity_rows",
        "record",
        "guardrails_wait",
    )
    return ms("store") - sum(ms(n) for n in steps) - ms("metrics_in_store")


def _marking_store(store: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``results.store`` so the steps it runs know they run inside it (``_where``)."""

    @functools.wraps(store)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _job["in_store"] = True
        try:
            return store(*args, **kwargs)
        finally:
            _job["in_store"] = False

    return wrapper


def instrument(timings_path: str) -> None:
    """Wrap the backtest job's steps in timers; each finished job appends a line to ``timings_path``."""
    from backend.core import jobs
    from backend.domain.backtest import engine
    from backend.modules.backtests import results, service
    from backend.modules.strategies import service as strategies_service

    execute = jobs.runtime.execute  # the task body calls runtime.execute (module global)

    def timed_execute(job_id: str) -> str | None:
        _job.clear()
        _job.update(job_id=job_id, start=time.time(), pid=os.getpid(), thread=threading.get_ident())
        t0 = time.perf_counter()
        try:
            return execute(job_id)
        finally:
            _job["end"] = time.time()
            _job.setdefault("spans", []).append(("execute", "main", t0, time.perf_counter()))
            with open(timings_path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(_job) + "\n")

    jobs.runtime.execute = timed_execute
    _time_trade_sql()
    jobs.runtime._claim = _timed("claim", jobs.runtime._claim)
    jobs.runtime._finish = _timed("finish", jobs.runtime._finish)
    jobs.JobContext.progress = _timed("progress", jobs.JobContext.progress)  # type: ignore[method-assign]
    jobs.JobContext.complete = _timed("complete", jobs.JobContext.complete)  # type: ignore[method-assign]
    service._row_of_job = _timed("row_read", service._row_of_job)
    service._store = _timed("store_tx", service._store)
    results.load_bars = _timed("load_bars", results.load_bars)
    results.store = _marking_store(_timed("store", results.store))
    # The trades' write: COPY of text rows (before ADR 0009) or one columnar value (trade_store),
    # written in one call, or started (DELETE, COPY on a thread) and waited for (begin_write).
    store_module = getattr(results, "trade_store", None)
    if store_module is not None and hasattr(store_module, "begin_write"):
        store_module.begin_write = _timed_start("trade_write", store_module.begin_write)
    else:
        for module, name, key in (
            (results, "trade_rows", "trade_rows"),
            (results, "_copy_trades", "trade_write"),
            (store_module, "write", "trade_write"),
        ):
            if module is not None and hasattr(module, name):
                setattr(module, name, _timed(key, getattr(module, name)))
    if hasattr(results, "beside"):  # the guardrails on their own thread: time the store's wait too
        results.beside = _timed_start("guardrails_wait", results.beside, start_counts=False)
    # The chart as stored: rows (jsonb, before ADR 0012) or their wire JSON text (kline_wire, equity_wire).
    for name, key in (("kline_wire", "kline_rows"), ("equity_wire", "equity_rows")):
        name = name if hasattr(results, name) else key
        setattr(results, name, _timed(key, getattr(results, name)))
    results.compute_metrics = _timed("metrics", results.compute_metrics)
    if hasattr(results, "return_sums"):  # the curve's return sums, shared by the metrics and the guardrails
        results.return_sums = _timed("metrics", results.return_sums)
    results.result_guardrails = _timed("guardrails", results.result_guardrails)
    engine.run = _timed("engine_run", engine.run)
    strategies_service.compute_signals = _timed("signals", strategies_service.compute_signals)
    strategies_service.record_backtest = _flushed_first(_timed("record", strategies_service.record_backtest))


def _flushed_first(record: Callable[..., Any]) -> Callable[..., Any]:
    """Flush the session before ``record`` (its UPDATE would autoflush the result row's UPDATE).

    The same statements in the same order; the result row's UPDATE is then timed as the result
    row's (the remainder of ``results.store``), not as the latest-backtest record's.
    """
    from backend.extensions import db

    @functools.wraps(record)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        db.session.flush()
        return record(*args, **kwargs)

    return wrapper


def _timed_start(name: str, start: Callable[..., Any], *, start_counts: bool = True) -> Callable[..., Any]:
    """Wrap ``start`` (it returns a wait): the wait's time, and the start's if it counts, add to ``name``."""
    begin = _timed(name, start) if start_counts else start

    @functools.wraps(start)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return _timed(name, begin(*args, **kwargs))

    return wrapper


def _time_trade_sql() -> None:
    """Time the DELETE and INSERT statements on the trades tables (cursor level, every engine)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    def before(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        conn.info.setdefault("bench_t0", []).append(time.perf_counter())

    def after(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        t0 = conn.info["bench_t0"].pop()
        head = " ".join(statement.split()[:3]).upper()
        name = {
            "INSERT INTO BACKTEST_TRADES": "sql_insert",
            "INSERT INTO BACKTEST_TRADE_COLUMNS": "sql_insert",
            "DELETE FROM BACKTEST_TRADES": "sql_delete",
        }.get(head)
        if name and _job:
            spent, calls = _job.setdefault("spent", {}), _job.setdefault("calls", {})
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - t0
            calls[name] = calls.get(name, 0) + 1

    event.listen(Engine, "before_cursor_execute", before)
    event.listen(Engine, "after_cursor_execute", after)


def worker_main(argv: list[str]) -> int:
    """Run an instrumented Celery worker on the backtests queue (the ``worker`` sub-command)."""
    from backend.celery_app import celery  # built by the module's __getattr__

    instrument(os.environ[TIMINGS_ENV])
    celery.worker_main(["worker", "-Q", "backtests", "--loglevel", "WARNING", *argv])
    return 0


class Worker:
    """The instrumented worker subprocess (its own process group; stopped on exit)."""

    def __init__(self, env: dict[str, str], concurrency: int, timings: Path) -> None:
        self.env = {**env, TIMINGS_ENV: str(timings)}
        self.concurrency = concurrency
        self.log = Path(tempfile.mkstemp(prefix="qyq-bench-worker-", suffix=".log")[1])
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Worker:
        cmd = [
            sys.executable, "-m", "scripts.bench_jobs", "worker", "--concurrency", str(self.concurrency),
            "--without-gossip", "--without-mingle", "--without-heartbeat",
            "-n", f"bench-jobs-{os.getpid()}@%h",
        ]  # fmt: skip
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited:\n{self.log.read_text(errors='replace')[-3000:]}")
            if b"ready." in self.log.read_bytes() or self._pool_started():
                return self
            time.sleep(0.3)
        raise RuntimeError(f"worker not ready:\n{self.log.read_text(errors='replace')[-3000:]}")

    def _pool_started(self) -> bool:
        """With --loglevel WARNING there is no "ready." line: wait for the pool's children instead."""
        assert self.proc is not None
        children = 0
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except OSError:
                    continue
                children += ppid == self.proc.pid
        return children >= self.concurrency

    def __exit__(self, *_exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.log.unlink(missing_ok=True)


# --- the client ------------------------------------------------------------------------------------


class Client:
    """One keep-alive HTTP connection to the loopback API."""

    def __init__(self, port: int, token: str = "") -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.token = token

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any, int]:
        """Send one request; return (status, decoded JSON, body bytes)."""
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        self.conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        resp = self.conn.getresponse()
        raw = resp.read()
        return resp.status, json.loads(raw), len(raw)


@dataclass
class Run:
    """One submit -> SUCCESS round trip as the client saw it (seconds; epoch stamps)."""

    bars: int
    job_id: str
    submit_s: float  # the POST's response time
    round_trip_s: float  # POST sent -> SUCCESS response received
    sent_at: float  # epoch, when the POST was sent
    polls: int
    final_poll_s: float
    final_poll_bytes: int
    result_trades: int
    worker: dict[str, Any] = field(default_factory=dict)


def create_strategy(client: Client) -> str:
    """Create the user's SMA 10/30 BTCUSDT 1m strategy (what the dashboard backtests); return its id."""
    body = {
        "name": "Bench SMA 10/30",
        "symbol": "BTCUSDT",
        "interval": "1m",
        "kind": "sma_cross",
        "params": {"fast": 10, "slow": 30},
    }
    status, resp, _ = client.call("POST", "/api/strategies", body)
    if status != 201:
        raise RuntimeError(f"create strategy answered {status}: {resp}")
    return str(resp["data"]["id"])


def run_once(client: Client, strategy_id: str, bars: int, end_ms: int, poll_s: float) -> Run:
    """Submit one backtest of ``bars`` 1m bars ending at ``end_ms`` and poll until it finishes."""
    body = {
        "strategy_id": strategy_id,
        "interval": "1m",
        "start": end_ms - bars * MIN_MS,
        "end": end_ms,
        "provider": "mock",
        "fee_bps": 5,
        "slippage_bps": 2,
    }
    sent_at = time.time()
    t0 = time.perf_counter()
    status, resp, _ = client.call("POST", "/api/backtests/run", body)
    submit_s = time.perf_counter() - t0
    if status != 202:
        raise RuntimeError(f"submit answered {status}: {resp}")
    job_id = resp["data"]["job_id"]
    polls = 0
    deadline = t0 + 300
    while True:
        time.sleep(poll_s)
        p0 = time.perf_counter()
        status, resp, size = client.call("GET", f"/api/backtests/job/{job_id}")
        p1 = time.perf_counter()
        polls += 1
        state = resp["data"]["status"] if status == 200 else None
        if state == "SUCCESS":
            trades = len(resp["data"]["result"].get("trades") or [])
            return Run(bars, job_id, submit_s, p1 - t0, sent_at, polls, p1 - p0, size, trades)
        if state not in ("PENDING", "RUNNING") or p1 > deadline:
            raise RuntimeError(f"job {job_id}: {status} {json.dumps(resp)[:500]}")


def _attach_worker_timings(runs: list[Run], timings: Path) -> list[Run]:
    """Return the runs with the worker's timings (a run whose line never came is left out, said)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = (
            [json.loads(x) for x in timings.read_text().splitlines() if x.strip()] if timings.exists() else []
        )
        by_id = {x["job_id"]: x for x in lines}
        if all(r.job_id in by_id for r in runs):
            break
        time.sleep(0.2)  # the line is written after the task returns, just after SUCCESS is visible
    kept = []
    for r in runs:
        if r.job_id in by_id:
            r.worker = by_id[r.job_id]
            kept.append(r)
        else:
            print(f"  no worker timings for job {r.job_id}: left out", flush=True)
    if not kept:
        raise RuntimeError("worker timings missing for every job")
    return kept


# --- the report ------------------------------------------------------------------------------------

# (label, how to compute ms from a run) in job order; "compute" excludes its progress commits.
SPLIT: tuple[tuple[str, Callable[[Run], float]], ...] = (
    ("submit (POST /run response time)", lambda r: r.submit_s * 1000),
    ("POST sent -> worker starts the job (submit + queue)", lambda r: (r.worker["start"] - r.sent_at) * 1000),
    ("claim (PENDING -> RUNNING and the row's read: one commit)", lambda r: _w(r, "claim")),
    ("read the backtest row (inside the claim's time)", lambda r: _w(r, "row_read")),
    ("progress calls (count; a round trip only when due)", lambda r: _w(r, "progress")),
    ("load bars (mock)", lambda r: _w(r, "load_bars")),
    ("signals (SMA)", lambda r: _w(r, "signals")),
    ("engine run", lambda r: _w(r, "engine_run")),
    (
        "metrics (a long run's in the store, beside the writer's chart UPDATE and COPY)",
        lambda r: _w(r, "metrics"),
    ),
    (
        "guardrails (PSR, trade bootstrap; a long run's on a thread from the engine's result to the store)",
        lambda r: _w(r, "guardrails"),
    ),
    (
        "waiting for the guardrails (in the store, after the metrics)",
        lambda r: _w(r, "guardrails_wait"),
    ),
    (
        "persistence: kline + curve (from the bars to JSON text)",
        lambda r: _w(r, "kline_rows") + _w(r, "equity_rows"),
    ),
    (
        "persistence: a long run's chart UPDATE and trades' COPY on the writer's thread; a short run's "
        "COPY (start + wait; DELETE on a retry)",
        lambda r: _w(r, "trade_rows") + _w(r, "trade_write") + _w(r, "sql_delete"),
    ),
    (
        "persistence: the result row's UPDATE (a long run's without the chart) + fingerprint",
        lambda r: store_rest_ms(lambda n: _w(r, n)),
    ),
    ("persistence: strategy's latest-backtest record", lambda r: _w(r, "record")),
    ("complete (lock the job, SUCCESS)", lambda r: _w(r, "complete")),
    ("COMMIT", lambda r: _w(r, "store_tx") - _w(r, "store") - _w(r, "complete")),
    (
        "worker after commit (rollback, finish, bookkeeping)",
        lambda r: (r.worker["end"] - r.worker["start"]) * 1000 - _work_ms(r),
    ),
    ("SUCCESS poll (response time)", lambda r: r.final_poll_s * 1000),
)


def _w(run: Run, name: str) -> float:
    return float(run.worker.get("spent", {}).get(name, 0.0)) * 1000


def _work_ms(run: Run) -> float:
    """Return the ms of the job accounted for by the timed steps (without double counting).

    Metrics and guardrails on another thread count only as the store's wait for them (inside
    ``store_tx``); those computed inside the store count as the store's.
    """
    return (
        sum(
            _w(run, n)
            for n in (
                "claim",
                "row_read",
                "progress",
                "load_bars",
                "signals",
                "engine_run",
                "metrics",
                "guardrails",
            )
        )
        + _w(run, "store_tx")
        - sum(_w(run, f"{n}_{where}") for n in ("metrics", "guardrails") for where in ("in_store", "beside"))
    )


def _p(values: list[float], q: float) -> float:
    return percentile(values, q)


def _size_table(runs: list[Run]) -> list[str]:
    rt = [r.round_trip_s * 1000 for r in runs]
    head = [
        f"**{runs[0].bars:,} bars**: submit -> SUCCESS seen by the client p50 **{_p(rt, 50):.0f} ms**, "
        f"p95 **{_p(rt, 95):.0f} ms** (min {min(rt):.0f}, max {max(rt):.0f}; {len(runs)} runs); "
        f"{statistics.median(r.polls for r in runs):.0f} polls; SUCCESS poll "
        f"{statistics.median(r.final_poll_bytes for r in runs) / 1024:,.0f} KB with "
        f"{statistics.median(r.result_trades for r in runs):,.0f} fills in `result.trades`.",
        "",
        "| step | p50 ms | p95 ms | share of p50 round trip |",
        "|---|---:|---:|---:|",
    ]
    total = _p(rt, 50)
    for label, fn in SPLIT:
        values = [fn(r) for r in runs]
        extra = ""
        counted = {"progress calls": "progress"}
        for prefix, name in counted.items():
            if label.startswith(prefix):
                extra = f" ({statistics.median(r.worker.get('calls', {}).get(name, 0) for r in runs):.0f})"
                label = label.replace(": count", "").replace(" (count)", "").replace("count; ", "")
        head.append(
            f"| {label}{extra} | {_p(values, 50):.1f} | {_p(values, 95):.1f} | {_p(values, 50) / total:.0%} |"
        )
    head.append(f"| **round trip** | **{total:.0f}** | **{_p(rt, 95):.0f}** | 100% |")
    return head


def report(
    *, when: str, config: ServerConfig, concurrency: int, poll_ms: float, by_size: dict[int, list[Run]]
) -> str:
    """Return the markdown of the `jobs` section."""
    lines = [
        "## Backtest round trip (`scripts/bench_jobs.py`)",
        "",
        f"Measured {when} on {machine()}.",
        "",
        f"The project under gunicorn ({config.label}) with `APP_ENV=production`, a real Celery worker "
        f"(prefork, `--concurrency {concurrency}`, queue `backtests`), Postgres and Redis on loopback, a "
        "scratch database. A client creates an SMA 10/30 BTCUSDT 1m strategy and submits backtests of it "
        "on mock bars "
        f"(fee 5 bps, slippage 2 bps; the same range every run) and polls every {poll_ms:g} ms over one "
        "keep-alive connection; one warm-up run per size is not recorded. The split is timed inside the "
        "worker around each step (wrappers installed by the script before the pool forks). Percentiles "
        "per step are taken independently, "
        "so they do not add up exactly; the polling interval and the wait for the next poll are the "
        "remainder. Target (issue 11): 100k bars < 150 ms p50 / 250 ms p95; 1M bars worker side "
        "<= 2x the engine core.",
    ]
    for bars in sorted(by_size):
        runs = by_size[bars]
        lines += ["", *_size_table(runs)]
        engine_core = [_w(r, "signals") + _w(r, "engine_run") + _w(r, "metrics") for r in runs]
        worker = [(r.worker["end"] - r.worker["start"]) * 1000 for r in runs]
        ratios = [w / max(c, 1e-9) for w, c in zip(worker, engine_core, strict=True)]
        lines += [
            "",
            f"Worker side (claim -> finished) p50 {_p(worker, 50):.1f} ms against the engine core (signals "
            f"+ run + metrics) p50 {_p(engine_core, 50):.1f} ms: "
            f"**{_p(worker, 50) / max(_p(engine_core, 50), 1e-9):.2f}x** the core (each job's own "
            f"ratio: p50 {_p(ratios, 50):.2f}x, min {min(ratios):.2f}x, max {max(ratios):.2f}x).",
        ]
    return "\n".join(lines)


# --- main ------------------------------------------------------------------------------------------


def _register(port: int) -> str:
    client = Client(port)
    status, body, _ = client.call(
        "POST",
        "/api/auth/register",
        {
            "username": f"bench{os.getpid()}",
            "password": "bench-Password-2024!",
            "email": f"bench{os.getpid()}@example.com",
        },
    )
    if status not in (200, 201):
        raise RuntimeError(f"register answered {status}: {body}")
    return str(body["data"]["access_token"])


def bench(stack: Stack, args: argparse.Namespace, timings: Path) -> dict[int, list[Run]]:
    """Start the API and the worker, then time the runs of every size."""
    config = ServerConfig(workers=args.workers, threads=args.threads)
    end_ms = (int(time.time() * 1000) // 86_400_000 - 1) * 86_400_000  # yesterday 00:00 UTC
    by_size: dict[int, list[Run]] = {}
    with (
        Gunicorn("backend.wsgi:app", config, stack.env, "/api/health") as api,
        Worker(stack.env, args.concurrency, timings),
    ):
        client = Client(api.port, _register(api.port))
        strategy_id = create_strategy(client)
        for bars, n in ((SIZES[0], args.runs), (SIZES[1], args.runs_1m)):
            if n <= 0:
                continue
            run_once(
                client, strategy_id, bars, end_ms, args.poll_ms / 1000
            )  # warm-up: imports, first bars, caches
            runs = []
            for i in range(n):
                runs.append(run_once(client, strategy_id, bars, end_ms, args.poll_ms / 1000))
                print(f"  {bars:,} bars run {i + 1}/{n}: {runs[-1].round_trip_s * 1000:.0f} ms", flush=True)
            by_size[bars] = _attach_worker_timings(runs, timings)
    return by_size


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and (unless --no-write) update docs/performance.md's `jobs` section."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["worker"]:
        return worker_main(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="recorded 100k-bar runs")
    parser.add_argument("--runs-1m", type=int, default=5, help="recorded 1M-bar runs")
    parser.add_argument("--poll-ms", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (gthread)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    timings = Path(tempfile.mkstemp(prefix="qyq-bench-jobs-", suffix=".jsonl")[1])
    try:
        with scratch_stack("bench_jobs", {"BACKTEST_MAX_BARS": "2000000"}, seed=False) as stack:
            by_size = bench(stack, args, timings)
    finally:
        timings.unlink(missing_ok=True)
    text = report(
        when=when,
        config=ServerConfig(workers=args.workers, threads=args.threads),
        concurrency=args.concurrency,
        poll_ms=args.poll_ms,
        by_size=by_size,
    )
    print()
    print(text)
    if not args.no_write:
        print(f"\nwrote {update_section('jobs', text)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
