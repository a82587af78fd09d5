"""The backtest job lifecycle end to end with a real Celery worker (committed data, broker, queue)."""

from __future__ import annotations

import time

import pytest

from tests.fixtures.backtests import RANGE_START_MS

pytestmark = pytest.mark.integration
DAY = 86_400_000


def _poll(client, owner, job_id: str, timeout: float = 90.0) -> list[dict]:
    """Return every job status observed until it is final (polling every 20 ms)."""
    seen: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = client.get(f"/api/backtests/job/{job_id}", headers=owner.headers).get_json()["data"]
        seen.append(data)
        if data["status"] in {"SUCCESS", "FAILED", "CANCELLED"}:
            return seen
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} did not finish: {seen[-1] if seen else None}")


def test_real_worker_runs_a_backtest_to_success(app, client, make_user, make_strategy, celery_worker):
    owner = make_user()
    sid = make_strategy(owner, params={"fast": 10, "slow": 50}, published=True)["id"]
    # Two years of hourly bars (about 17,500): long enough to see the job while it runs.
    resp = client.post(
        "/api/backtests/run",
        headers=owner.headers,
        json={
            "strategy_id": sid,
            "interval": "1h",
            "start": RANGE_START_MS,
            "end": RANGE_START_MS + 730 * DAY,
            "fee_bps": 10,
        },
    )
    assert resp.status_code == 202, resp.get_json()
    ids = resp.get_json()["data"]
    seen = _poll(client, owner, ids["job_id"])
    final = seen[-1]
    assert final["status"] == "SUCCESS", (final, celery_worker.log())
    progress = [s["progress"] for s in seen]
    assert progress == sorted(progress) and progress[0] < 100 and progress[-1] == 100  # it only rises
    # Progress is stored at most every PROGRESS_EVERY_S, so a job this short may show no step between
    # 0 and 100 (tests/core/test_jobs.py covers the throttle); the client still saw it unfinished.
    assert seen[0]["status"] in {"PENDING", "RUNNING"}
    summary = final["result"]["summary"]
    assert summary["totalTrades"] > 0 and len(final["result"]["kline"]) <= 2000
    detail = client.get(f"/api/backtests/{ids['backtest_id']}", headers=owner.headers).get_json()["data"]
    assert detail["status"] == "completed" and detail["summary"] == summary
    assert detail["barsCount"] > 17_000 and len(detail["trades"]) == 2 * summary["totalTrades"]
    latest = client.get("/api/backtests/latest").get_json()["data"]  # anonymous: the showcase
    assert latest["backtestId"] == ids["backtest_id"]


def _stale_running(app, job_id: str) -> None:
    """Make a job look like its worker died mid-run: RUNNING, attempted once, heartbeat long ago."""
    from backend.core.jobs import Job
    from backend.extensions import db

    with app.app_context():
        db.session.query(Job).filter_by(id=job_id).update(
            {"status": "RUNNING", "attempts": 1, "started_at": 1, "heartbeat_at": 1}
        )
        db.session.commit()


@pytest.mark.parametrize("max_attempts, expected", [(2, "SUCCESS"), (1, "FAILED")])
def test_a_lost_run_is_requeued_or_failed_never_running_forever(
    app, client, make_user, celery_worker, monkeypatch, max_attempts, expected
):
    from backend.core import jobs

    owner = make_user()
    with monkeypatch.context() as patch:
        patch.setattr(jobs.runtime, "send_task", lambda job_id, kind: None)  # the first delivery is "lost"
        resp = client.post(
            "/api/backtests/run",
            headers=owner.headers,
            json={
                "strategy": {"kind": "rsi"},
                "symbol": "BTCUSDT",
                "start": RANGE_START_MS,
                "end": RANGE_START_MS + 30 * DAY,
            },
        )
    ids = resp.get_json()["data"]
    _stale_running(app, ids["job_id"])
    monkeypatch.setitem(app.config, "JOB_MAX_ATTEMPTS", max_attempts)
    with app.app_context():
        counts = jobs.reap_stale_jobs()
    assert counts["requeued" if expected == "SUCCESS" else "failed"] == 1
    final = _poll(client, owner, ids["job_id"])[-1]
    assert final["status"] == expected, celery_worker.log()
    detail = client.get(f"/api/backtests/{ids['backtest_id']}", headers=owner.headers).get_json()["data"]
    if expected == "SUCCESS":  # the requeued delivery ran it; its trades are stored once
        assert (
            detail["status"] == "completed" and len(detail["trades"]) == 2 * detail["summary"]["totalTrades"]
        )
    else:
        assert (detail["status"], detail["error"]["reason"]) == ("failed", "worker_lost")


def test_the_worker_apps_job_drops_the_showcase_and_personal_caches(
    app, client, make_user, make_strategy, celery_worker, monkeypatch
):
    # The worker builds `create_worker_app` (no routes served). The API fills the anonymous
    # showcase and the owner's list while the job is held back; only the worker's commits happen
    # after that, so the new state can show only if the worker app dropped both entries.
    from backend.core import jobs, personal, showcase
    from backend.core.redis import get_redis

    owner = make_user()
    sid = make_strategy(owner, params={"fast": 10, "slow": 50}, published=True)["id"]
    body = {"strategy_id": sid, "interval": "1h", "start": RANGE_START_MS, "end": RANGE_START_MS + 30 * DAY}
    first = client.post("/api/backtests/run", headers=owner.headers, json=body).get_json()["data"]
    assert _poll(client, owner, first["job_id"])[-1]["status"] == "SUCCESS"
    send = jobs.runtime.send_task
    monkeypatch.setattr(jobs.runtime, "send_task", lambda job_id, kind: None)  # held: PENDING
    second = client.post("/api/backtests/run", headers=owner.headers, json=body).get_json()["data"]
    assert client.get("/api/backtests/latest").get_json()["data"]["backtestId"] == first["backtest_id"]
    mine = client.get("/api/backtests", headers=owner.headers).get_json()["data"]
    assert [b["status"] for b in mine] == ["queued", "completed"], mine
    with app.app_context():  # both answers are cached now
        assert get_redis().exists(showcase._key("backtests.latest"))
        assert get_redis().exists(personal._entry_key("backtests", owner.id))
        send(second["job_id"], "backtests.run")
    assert _poll(client, owner, second["job_id"])[-1]["status"] == "SUCCESS", celery_worker.log()
    assert client.get("/api/backtests/latest").get_json()["data"]["backtestId"] == second["backtest_id"]
    mine = client.get("/api/backtests", headers=owner.headers).get_json()["data"]
    assert [(b["id"], b["status"]) for b in mine][0] == (second["backtest_id"], "completed")
