"""Jobs tell the event bus: progress (published, no record) and every final status (emitted with it)."""

from __future__ import annotations

import json

import pytest

from backend.core import events, jobs
from backend.core.db import now_ms, transactional
from backend.core.redis import get_redis
from backend.extensions import db


@jobs.job_kind("test.events_progress")
def _progress(ctx: jobs.JobContext) -> None:
    ctx.progress(40)


@jobs.job_kind("test.events_fails")
def _fails(ctx: jobs.JobContext) -> None:
    raise jobs.JobFailed("No bars in that range.", reason="no_data")


@jobs.job_kind("test.events_completes")
def _completes(ctx: jobs.JobContext) -> None:
    transactional(ctx.complete)()


@pytest.fixture
def seen():
    got: list[events.Event] = []
    events.subscribe(got.append)
    yield got
    events._subscribers.remove(got.append)


@transactional
def _new_job(kind: str, owner_id: str, **values) -> str:
    job = jobs.Job(
        kind=kind,
        owner_id=owner_id,
        subject_id="subj-1",
        status=jobs.PENDING,
        progress=0,
        attempts=0,
        created_at=now_ms(),
    )
    for key, value in values.items():
        setattr(job, key, value)
    db.session.add(job)
    db.session.flush()
    return job.id


def _published(user_id: str) -> list[dict]:
    return [json.loads(f["e"]) for _id, f in get_redis().xrange(events.user_stream_key(user_id))]


def test_progress_is_published_and_success_emitted_with_the_job_identity(app, monkeypatch, seen, user):
    monkeypatch.setattr(jobs.context, "PROGRESS_EVERY_S", 0.0)  # store (and publish) every call
    owner = user.id
    with app.app_context():
        job_id = _new_job("test.events_progress", owner)
        assert jobs.execute(job_id) == jobs.SUCCESS
        assert [e.type for e in seen] == ["job.succeeded"]  # progress has no subscribers
        wire = _published(owner)
    assert [(e["type"], e["data"]["status"]) for e in wire] == [
        ("job.progress", "RUNNING"),
        ("job.succeeded", "SUCCESS"),
    ]
    assert wire[0]["data"] == {
        "jobId": job_id,
        "kind": "test.events_progress",
        "status": "RUNNING",
        "progress": 40,
        "subjectId": "subj-1",
    }
    assert all(e["topic"] == "jobs" and e["objectId"] == job_id for e in wire)


def test_complete_emits_once_in_the_result_transaction(app, seen, user):
    owner = user.id
    with app.app_context():
        job_id = _new_job("test.events_completes", owner)
        assert jobs.execute(job_id) == jobs.SUCCESS
        assert [(e.type, e.object_id, e.user_id) for e in seen] == [("job.succeeded", job_id, owner)]


def test_a_failure_emits_job_failed_with_reason_and_message(app, seen, user):
    owner = user.id
    with app.app_context():
        job_id = _new_job("test.events_fails", owner)
        assert jobs.execute(job_id) == jobs.FAILED
        [event] = seen
        assert event.type == "job.failed"
        assert dict(event.data) == {
            "jobId": job_id,
            "kind": "test.events_fails",
            "status": "FAILED",
            "subjectId": "subj-1",
            "reason": "no_data",
            "message": "No bars in that range.",
        }
        assert _published(owner)[-1]["type"] == "job.failed"


def test_cancel_emits_job_cancelled_only_when_it_cancelled_something(app, seen, user):
    owner = user.id
    with app.app_context():
        job_id = _new_job("test.events_progress", owner)
        assert transactional(jobs.cancel_job)(job_id=job_id) is True
        assert transactional(jobs.cancel_job)(job_id=job_id) is False
        assert [(e.type, e.data["status"], e.data["reason"]) for e in seen] == [
            ("job.cancelled", "CANCELLED", "cancelled")
        ]


def test_the_reaper_emits_job_failed_worker_lost(app, seen, user):
    owner = user.id
    with app.app_context():
        old = now_ms() - 10 * 60 * 1000
        job_id = _new_job(
            "test.events_progress",
            owner,
            status=jobs.RUNNING,
            attempts=app.config["JOB_MAX_ATTEMPTS"],
            heartbeat_at=old,
            started_at=old,
        )
        assert jobs.reap_stale_jobs()["failed"] == 1
        [event] = [e for e in seen if e.object_id == job_id]
        assert (event.type, event.data["reason"], event.user_id) == ("job.failed", "worker_lost", owner)
