"""Operations: queue depths (bounded, broker down is not an error), jobs by status, retry and cancel."""

from __future__ import annotations

import json

import pytest

from backend.core import jobs
from backend.core.db import now_ms, transactional
from backend.core.redis import get_redis
from backend.extensions import db
from tests.helpers.api import error, ok

MISSING = "00000000-0000-4000-8000-000000000000"
RUNS: list[str] = []


@jobs.job_kind("test.admin_retry")
def _retry_work(ctx: jobs.JobContext) -> None:
    RUNS.append(ctx.job_id)


@pytest.fixture(autouse=True)
def _clear_runs():
    RUNS.clear()


@transactional
def _job_row(*, kind: str = "test.admin_retry", status: str, **values) -> str:
    job = jobs.Job(kind=kind, status=status, progress=50, attempts=2, created_at=now_ms(), **values)
    db.session.add(job)
    db.session.flush()
    return job.id


def _job(app, job_id: str) -> jobs.Job:
    with app.app_context():
        return db.session.get(jobs.Job, job_id)


def _audit(client, admin, **filters):
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    return ok(client.get(f"/api/admin/audit-log?{query}", headers=admin.headers))


def test_queue_depths_count_the_waiting_messages_of_every_queue(app, client, admin):
    with app.app_context():
        key = app.config["REDIS_KEY_PREFIX"] + "celery:bots"
        get_redis().rpush(key, "m1", "m2", "m3")
    try:
        data = ok(client.get("/api/admin/queues", headers=admin.headers))
    finally:
        with app.app_context():
            get_redis().delete(key)
    depths = {q["name"]: q["depth"] for q in data["queues"]}
    assert data["available"] is True and depths["bots"] == 3
    assert set(depths) == {"default", "backtests", "sweeps", "workflows", "bots", "webhooks"}


def test_an_unreachable_broker_gives_null_depths_not_an_error(app, client, admin, monkeypatch):
    monkeypatch.setitem(app.config, "CELERY_BROKER_URL", "redis://127.0.0.1:1/0")
    data = ok(client.get("/api/admin/queues", headers=admin.headers))
    assert data["available"] is False and {q["depth"] for q in data["queues"]} == {None}


def test_jobs_are_listed_by_status_with_their_failure_reasons(app, client, admin):
    with app.app_context():
        failed = _job_row(status=jobs.FAILED, error_reason="no_data", error="No bars in that range.")
        running = _job_row(status=jobs.RUNNING)
    rows = ok(client.get("/api/admin/jobs?status=FAILED&kind=test.admin_retry", headers=admin.headers))
    assert [(j["id"], j["errorReason"], j["error"]) for j in rows] == [
        (failed, "no_data", "No bars in that range.")
    ]
    resp = client.get("/api/admin/jobs?status=RUNNING", headers=admin.headers)
    assert running in {j["id"] for j in ok(resp)} and json.loads(resp.headers["X-Pagination"])["total"] >= 1
    body = error(client.get("/api/admin/jobs?status=DONE", headers=admin.headers), 422)
    assert "status" in body["details"]["fields"]


def test_retry_runs_the_same_failed_job_again_and_is_audited(app, client, admin):
    with app.app_context():
        job_id = _job_row(status=jobs.FAILED, error_reason="worker_lost", error="gone")
    data = ok(client.post(f"/api/admin/jobs/{job_id}/retry", headers=admin.headers))
    assert data["id"] == job_id and data["status"] == jobs.PENDING and data["errorReason"] is None
    assert [job_id] == RUNS  # sent after the commit (eager here): the same job, its rows reused
    job = _job(app, job_id)
    assert (job.status, job.progress, job.attempts) == (jobs.SUCCESS, 100, 1)
    [entry] = _audit(client, admin, action="job.retry")
    assert entry["targetId"] == job_id
    assert entry["details"] == {"kind": "test.admin_retry", "errorReason": "worker_lost", "attempts": 2}


def test_retry_with_the_broker_down_leaves_the_job_pending_for_the_reaper(app, client, admin, broker_down):
    with app.app_context():
        job_id = _job_row(status=jobs.FAILED)
    assert ok(client.post(f"/api/admin/jobs/{job_id}/retry", headers=admin.headers))["status"] == jobs.PENDING
    assert _job(app, job_id).status == jobs.PENDING and RUNS == []


@pytest.mark.parametrize("status", [jobs.SUCCESS, jobs.RUNNING, jobs.PENDING, jobs.CANCELLED])
def test_only_a_failed_job_can_be_retried(app, client, admin, status):
    with app.app_context():
        job_id = _job_row(status=status)
    body = error(
        client.post(f"/api/admin/jobs/{job_id}/retry", headers=admin.headers), 409, "job_not_retryable"
    )
    assert body["details"]["status"] == status
    assert _job(app, job_id).status == status and _audit(client, admin) == []


def test_a_failed_job_of_an_undeclared_kind_cannot_be_retried(app, client, admin):
    with app.app_context():
        job_id = _job_row(kind="gone.kind", status=jobs.FAILED)
    error(client.post(f"/api/admin/jobs/{job_id}/retry", headers=admin.headers), 409, "job_not_retryable")


def test_cancel_stops_a_running_job_and_is_audited(app, client, admin):
    with app.app_context():
        job_id = _job_row(status=jobs.RUNNING)
    data = ok(client.post(f"/api/admin/jobs/{job_id}/cancel", headers=admin.headers))
    assert (data["status"], data["errorReason"], data["error"]) == (
        jobs.CANCELLED,
        "cancelled",
        "Cancelled by an admin.",
    )
    [entry] = _audit(client, admin, action="job.cancel")
    assert entry["targetId"] == job_id and entry["details"] == {
        "kind": "test.admin_retry",
        "status": "RUNNING",
    }


@pytest.mark.parametrize("status", [jobs.SUCCESS, jobs.FAILED, jobs.CANCELLED])
def test_only_an_active_job_can_be_cancelled(app, client, admin, status):
    with app.app_context():
        job_id = _job_row(status=status)
    error(client.post(f"/api/admin/jobs/{job_id}/cancel", headers=admin.headers), 409, "job_not_active")
    assert _job(app, job_id).status == status


def test_unknown_jobs_are_404(client, admin):
    error(client.post(f"/api/admin/jobs/{MISSING}/retry", headers=admin.headers), 404, "not_found")
    error(client.post(f"/api/admin/jobs/{MISSING}/cancel", headers=admin.headers), 404, "not_found")


# --- live health (streams and webhooks) -------------------------------------------------------------


@transactional
def _webhook_with_deliveries(owner_id: str, statuses: list[tuple[str, int | None]]) -> str:
    from backend.core import crypto
    from backend.modules.webhooks.models import Webhook, WebhookDelivery

    hook = Webhook(
        owner_id=owner_id,
        url="https://example.com/h",
        events=["job.failed"],
        secret_encrypted=crypto.encrypt("s"),
    )
    db.session.add(hook)
    db.session.flush()
    for status, next_retry_at in statuses:
        db.session.add(
            WebhookDelivery(
                webhook_id=hook.id,
                event_id=MISSING,
                event_type="job.failed",
                payload="{}",
                status=status,
                next_retry_at=next_retry_at,
            )
        )
    return hook.id


def test_live_health_counts_open_streams_and_webhook_deliveries(app, client, admin, user, other_user):
    from backend.modules.stream import service as stream_service

    late = now_ms() - 60_000
    with app.app_context():
        _webhook_with_deliveries(
            user.id, [("succeeded", None), ("failed", None), ("retrying", late), ("pending", late + 1)]
        )
        stream_service.acquire_slot(user.id, "c1")
        stream_service.acquire_slot(user.id, "c2")
        stream_service.acquire_slot(other_user.id, "c3")
    try:
        data = ok(client.get("/api/admin/live", headers=admin.headers))
    finally:
        with app.app_context():
            for uid, conn in ((user.id, "c1"), (user.id, "c2"), (other_user.id, "c3")):
                stream_service.release_slot(uid, conn)
    assert data["streams"] == {"available": True, "openStreams": 3, "usersStreaming": 2, "watchedMarkets": 0}
    hooks = data["webhooks"]
    assert (hooks["endpoints"], hooks["activeEndpoints"]) == (1, 1)
    assert hooks["byStatus"] == {"pending": 1, "sending": 0, "retrying": 1, "succeeded": 1, "failed": 1}
    assert hooks["oldestDueAt"] == late and hooks["overdueMs"] >= 60_000
    with app.app_context():
        stream_service.release_slot(user.id, "c1")
        assert stream_service.stream_health().open_streams == 0  # released ones leave at once


def test_live_health_with_redis_down_names_streams_unavailable(app, client, admin):
    with app.app_context():
        app.extensions["redis_breaker"].trip(30)
    try:
        data = ok(client.get("/api/admin/live", headers=admin.headers))
    finally:
        with app.app_context():
            app.extensions["redis_breaker"].reset()
    assert data["streams"] == {
        "available": False,
        "openStreams": None,
        "usersStreaming": None,
        "watchedMarkets": None,
    }
    assert data["webhooks"]["byStatus"]["failed"] == 0  # Postgres still answers


def test_live_health_is_for_admins_only(client, user):
    error(client.get("/api/admin/live", headers=user.headers), 403)
    error(client.get("/api/admin/live"), 401)
