"""A worker's busy pool child SIGKILLed in the middle of a backtest ([3/7] item 9).

A real prefork worker (2 children) runs a long backtest (600,000 1m bars with a fast crossing,
so storing its round trips takes several seconds). While the job is RUNNING we ask the worker
which child runs it (Celery's remote control reports ``worker_pid``) and SIGKILL that child only,
as the OOM killer would. The reaper runs every 10 s, as beat's schedule does, with the default
JOB_STALE_AFTER_S=20: the job must leave RUNNING within 30 s of the kill (heartbeat stale after
20 s, plus at most one reaper period), be requeued, run again on the restarted child and finish,
its trades stored once. It never stays RUNNING.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg2
import pytest

from backend.celery_app import BEAT_SCHEDULE
from tests.faults.api_client import Client
from tests.faults.servers import ApiServer, Stack, Worker, make_app, start_stack, wait_for

pytestmark = pytest.mark.faults

REAP_EVERY_S = float(BEAT_SCHEDULE["core.reap_stale_jobs"]["schedule"])  # 10 s, as beat runs it
BARS = 50_000
START_MS = 1_577_836_800_000  # 2020-01-01
# A user's Python strategy that computes for a few seconds (in its sandbox, a grandchild of the pool
# child): a backtest that is reliably mid-run when the child is killed, however fast the engine is.
SLOW_SMA = """\
import time
from qyq import crossover, crossunder, sma

PARAMS = {}


def signals(bars, params):
    time.sleep(6)
    fast, slow = sma(bars.close, 2), sma(bars.close, 3)
    return {"entries": crossover(fast, slow), "exits": crossunder(fast, slow)}
"""
STRATEGY = {"name": "slow sma", "kind": "python", "symbol": "BTCUSDT", "interval": "1m", "code": SLOW_SMA}
RUN = {"symbol": "BTCUSDT", "interval": "1m", "start": START_MS, "end": START_MS + BARS * 60_000}


class Reaper:
    """Call ``jobs.reap_stale_jobs`` every REAP_EVERY_S seconds, as beat's schedule does."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.runs: list[tuple[float, dict[str, int]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from backend.core import jobs

        while not self._stop.wait(REAP_EVERY_S):
            with self.app.app_context():
                self.runs.append((time.monotonic(), jobs.reap_stale_jobs()))

    def __enter__(self) -> Reaper:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def _job(stack: Stack, job_id: str) -> dict[str, Any]:
    with psycopg2.connect(stack.env["DATABASE_URL"]) as conn, conn.cursor() as cur:
        cur.execute("SELECT status, attempts, error_reason, progress FROM jobs WHERE id = %s", (job_id,))
        status, attempts, reason, progress = cur.fetchone()
    conn.close()
    return {"status": status, "attempts": attempts, "reason": reason, "progress": progress}


def _trades(stack: Stack, backtest_id: str) -> tuple[int, int]:
    """Return (stored trade rows, the result's totalTrades) of a backtest."""
    with psycopg2.connect(stack.env["DATABASE_URL"]) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT (SELECT coalesce(sum(count), 0) FROM backtest_trade_blocks WHERE backtest_id = %s), "
            "(SELECT (metrics->>'totalTrades')::int FROM backtests WHERE id = %s)",
            (backtest_id, backtest_id),
        )
        rows, total = cur.fetchone()
    conn.close()
    return int(rows), int(total)


def _busy_child(celery: Any, job_id: str) -> int:
    """Return the pid of the pool child whose current task is this job (asked of the worker)."""
    for _ in range(20):
        active = celery.control.inspect(timeout=3).active() or {}
        for tasks in active.values():
            for task in tasks:
                if (task.get("kwargs") or {}).get("job_id") == job_id:
                    return int(task["worker_pid"])
        time.sleep(0.25)
    raise AssertionError(f"no worker reports job {job_id} as active: {active}")


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """The module's stack allows the long run; every other setting is the default."""
    s = start_stack(BACKTEST_MAX_BARS=str(2 * BARS))
    yield s
    s.close()


@pytest.fixture(scope="module")
def worker(stack: Stack) -> Iterator[Worker]:
    w = Worker(stack.env, concurrency=2)
    w.start()
    yield w
    w.stop()


def test_busy_child_killed_mid_backtest_leaves_running_within_30s(stack, api: ApiServer, worker, figure):
    app = make_app(stack.env)
    assert app.config["JOB_STALE_AFTER_S"] == 20 and REAP_EVERY_S == 10.0  # the figures under test
    user, _ = Client(api.base_url).register()
    created = user.post("/api/strategies", STRATEGY)
    assert created.status == 201, created.text[:300]
    with Reaper(app) as reaper:
        reply = user.post("/api/backtests/run", {**RUN, "strategy_id": created.body["data"]["id"]})
        assert reply.status == 202, reply.text[:300]
        job_id, backtest_id = reply.body["data"]["job_id"], reply.body["data"]["backtest_id"]
        wait_for(lambda: _job(stack, job_id)["status"] == "RUNNING", 60, f"job {job_id} RUNNING")
        time.sleep(2.0)  # well inside the strategy's 6 s of work
        pid = _busy_child(app.extensions["celery"], job_id)
        children = worker.children()
        assert pid in children and len(children) == 2, (pid, children)
        assert _job(stack, job_id)["status"] == "RUNNING"  # killed mid-run, not after it finished
        attempt = _job(stack, job_id)["attempts"]
        os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()

        def still_the_killed_attempt() -> bool:
            # The requeued job may be claimed again (RUNNING, next attempt) before this loop looks.
            job = _job(stack, job_id)
            return job["status"] == "RUNNING" and job["attempts"] == attempt

        while still_the_killed_attempt() and time.monotonic() - killed_at < 60:
            time.sleep(0.1)
        left_s = time.monotonic() - killed_at
        after_kill = _job(stack, job_id)
        # Heartbeats stop with the child; stale after 20 s; the next reaper run (<= 10 s) requeues.
        assert left_s <= 30.5, (left_s, after_kill, worker.log())
        assert after_kill["status"] != "RUNNING" or after_kill["attempts"] == attempt + 1, after_kill
        assert worker.running_pid() is not None  # the master survived; the pool replaced the child
        survivors = worker.children()
        assert pid not in survivors and set(children) - {pid} <= set(survivors), (pid, children, survivors)

        wait_for(lambda: _job(stack, job_id)["status"] in {"SUCCESS", "FAILED"}, 120, "the rerun to finish")
        finished_s = time.monotonic() - killed_at
    final = _job(stack, job_id)
    assert (final["status"], final["attempts"]) == ("SUCCESS", 2), (final, worker.log())
    rows, total = _trades(stack, backtest_id)
    assert rows == total > 1000  # the rerun stored its round trips once; the killed run's rolled back
    requeued = [counts for _, counts in reaper.runs if counts["requeued"]]
    assert requeued == [{"requeued": 1, "failed": 0, "resent": 0}], reaper.runs
    figure(
        f"worker child killed: the killed attempt ended {left_s:.1f} s after SIGKILL "
        f"(-> {after_kill['status']}, attempt {after_kill['attempts']}), "
        f"rerun SUCCESS {finished_s:.1f} s after the kill, {rows} trades stored once"
    )
