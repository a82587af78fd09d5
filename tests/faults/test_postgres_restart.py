"""PostgreSQL restarted (``pg_ctl restart -m fast``) and stopped for a while under a live API.

What must hold: requests in flight and after get at most a 503 (the error envelope, never a 500,
never a stack trace), and within a few seconds every endpoint answers 200 again without
restarting the app (the pool drops dead connections: ``pool_pre_ping`` in backend/config.py).
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from tests.faults.api_client import Client, Reply, assert_clean_error
from tests.faults.servers import ApiServer, Stack

pytestmark = pytest.mark.faults

RECOVERY_S = 5.0  # "within a few seconds": every endpoint 200 again this long after the server is back
READS = [
    "/api/health",
    "/api/users/me",
    "/api/strategies",
    "/api/strategies/recent",
    "/api/backtests",
    "/api/bots/recent",
    "/api/forum/hot",
    "/api/forum/posts",
    "/api/market/symbols",
]


class Hammer:
    """Threads calling every read in a loop until stopped; every reply is kept."""

    def __init__(self, client: Client, threads: int = 4) -> None:
        self.client = client
        self.replies: list[tuple[float, str, Reply]] = []  # (monotonic time answered, path, reply)
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def _run(self, offset: int) -> None:
        client = Client(self.client.base_url, self.client.token, timeout=15)
        i = offset
        while not self._stop.is_set():
            path = READS[i % len(READS)]
            i += 1
            try:
                reply = client.get(path)
                self.replies.append((time.monotonic(), path, reply))
            except Exception as exc:  # noqa: BLE001 - a dropped connection or timeout is a finding
                self.errors.append(f"{path}: {type(exc).__name__}: {exc}")

    def __enter__(self) -> Hammer:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)


def _every_read_ok(client: Client) -> bool:
    return all(client.get(path).status == 200 for path in READS)


def _seconds_until_all_ok(client: Client, limit: float) -> float:
    """Return how long it took until every read answered 200 (fail after ``limit`` s)."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        if _every_read_ok(client):
            return time.monotonic() - start
        time.sleep(0.1)
    statuses = {path: client.get(path).status for path in READS}
    raise AssertionError(f"not every endpoint recovered within {limit} s: {statuses}")


def _check_replies(hammer: Hammer) -> Counter[int]:
    assert not hammer.errors, hammer.errors[:5]
    statuses = Counter(reply.status for _, _, reply in hammer.replies)
    assert set(statuses) <= {200, 503}, statuses
    for _, path, reply in hammer.replies:
        if reply.status == 503:
            assert_clean_error(reply, 503)
            assert path == "/api/health" or reply.body["details"].get("service") == "database", reply.text
    return statuses


def _last_503_after(hammer: Hammer, moment: float) -> float:
    """Seconds from ``moment`` to the last 503 answered (0 when none came after it)."""
    return max([t - moment for t, _, reply in hammer.replies if reply.status == 503] + [0.0])


def _write_works(user: Client) -> None:
    body = {"name": f"after-restart-{time.monotonic_ns()}", "kind": "sma_cross", "symbol": "BTCUSDT"}
    reply = user.post("/api/strategies", body)
    assert reply.status == 201, reply.text[:300]


def test_restart_under_load_gives_at_most_503_and_recovers(stack: Stack, api: ApiServer, figure):
    user, _ = Client(api.base_url).register()
    assert _every_read_ok(user)
    api_pid = api.running_pid()
    with Hammer(user) as hammer:
        time.sleep(1.0)
        stack.postgres.restart()  # fast mode: every connection the app holds is terminated
        back_at = time.monotonic()
        time.sleep(2.0)
    statuses = _check_replies(hammer)
    recovered = _seconds_until_all_ok(user, RECOVERY_S)
    _write_works(user)
    assert api.running_pid() == api_pid is not None  # the same API process, never restarted
    figure(
        f"postgres restart: {dict(statuses)} under 4 threads, no 500; last 503 "
        f"{_last_503_after(hammer, back_at):.2f} s after pg_ctl returned; all 200 {recovered:.2f} s later"
    )


def test_outage_of_three_seconds_gives_503_then_recovers(stack: Stack, api: ApiServer, figure):
    user, _ = Client(api.base_url).register()
    assert _every_read_ok(user)
    api_pid = api.running_pid()
    with Hammer(user) as hammer:
        time.sleep(0.5)
        stack.postgres.stop()
        time.sleep(3.0)
        stack.postgres.start()
        back_at = time.monotonic()
        time.sleep(1.0)
    statuses = _check_replies(hammer)
    assert statuses[503] > 0, statuses  # the outage was seen, and seen as 503
    recovered = _seconds_until_all_ok(user, RECOVERY_S)
    _write_works(user)
    assert api.running_pid() == api_pid is not None
    figure(
        f"postgres down 3 s: {dict(statuses)}, no 500; last 503 {_last_503_after(hammer, back_at):.2f} s "
        f"after it was back; all 200 {recovered:.2f} s later"
    )
