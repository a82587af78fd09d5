"""Sweeps through a real Celery worker: the job fans out on `backtests`, its chunks run on `sweeps`."""

from __future__ import annotations

import time

import pytest

from tests.fixtures.backtests import RANGE_START_MS
from tests.helpers.api import ok

pytestmark = pytest.mark.integration
DAY = 86_400_000


def _submit(client, owner, space: dict, days: int) -> dict:
    resp = client.post(
        "/api/backtests/sweeps",
        headers=owner.headers,
        json={
            "strategy": {"kind": "sma_cross"},
            "symbol": "BTCUSDT",
            "interval": "1h",
            "start": RANGE_START_MS,
            "end": RANGE_START_MS + days * DAY,
            "space": space,
        },
    )
    return ok(resp, 202)


def _poll(client, owner, sweep_id: str, until, timeout: float = 120.0) -> list[dict]:
    seen: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen.append(ok(client.get(f"/api/backtests/sweeps/{sweep_id}", headers=owner.headers)))
        if until(seen[-1]):
            return seen
        time.sleep(0.05)
    raise AssertionError(f"sweep {sweep_id} did not get there: {seen[-1] if seen else None}")


def test_a_sweep_runs_across_chunks_to_completion(app, client, make_user, celery_worker, monkeypatch):
    monkeypatch.setitem(app.config, "SWEEP_CHUNK_RUNS", 3)
    owner = make_user()
    ids = _submit(client, owner, {"fast": [3, 5, 8, 13], "slow": [21, 34, 55]}, days=365)  # 12 runs, 4 chunks
    seen = _poll(client, owner, ids["sweep_id"], lambda s: s["status"] in {"completed", "failed"})
    final = seen[-1]
    assert final["status"] == "completed", (final, celery_worker.log())
    assert (final["chunksDone"], final["runsDone"], final["progress"]) == (4, 12, 100)
    progress = [s["progress"] for s in seen]
    assert progress == sorted(progress)  # aggregated over chunks, it only rises
    assert final["guardrails"]["trials"] == 12 and final["best"][0]["metrics"]["bars"] == 365 * 24
    runs = ok(client.get(f"/api/backtests/sweeps/{ids['sweep_id']}/runs", headers=owner.headers))
    assert [r["index"] for r in runs] == list(range(12))


def test_cancel_stops_every_chunk(app, client, make_user, celery_worker, monkeypatch):
    monkeypatch.setitem(app.config, "SWEEP_CHUNK_RUNS", 20)
    owner = make_user()
    # 2,000 runs on ~17,500 bars in 100 chunks: several seconds of work, cancelled after the first chunk.
    ids = _submit(
        client,
        owner,
        {"fast": {"min": 2, "max": 41, "step": 1}, "slow": {"min": 50, "max": 99, "step": 1}},
        days=730,
    )
    _poll(client, owner, ids["sweep_id"], lambda s: s["runsDone"] > 0)
    cancelled = ok(client.post(f"/api/backtests/sweeps/{ids['sweep_id']}/cancel", headers=owner.headers))
    assert cancelled["status"] == "failed" and cancelled["error"]["reason"] == "cancelled"
    time.sleep(1.5)  # every running chunk sees the cancel at its next beat (0.25 s) and stores nothing
    at_cancel = ok(client.get(f"/api/backtests/sweeps/{ids['sweep_id']}", headers=owner.headers))
    time.sleep(2.0)
    later = ok(client.get(f"/api/backtests/sweeps/{ids['sweep_id']}", headers=owner.headers))
    assert later["runsDone"] == at_cancel["runsDone"] < 2000 and later["chunksDone"] < 100
    assert later["status"] == "failed" and later["guardrails"] is None
    log = celery_worker.log()
    assert "backtests.sweep_chunk" in log
