"""The job table: claim, progress, cancel, dispatch failure, and the reaper."""
from __future__ import annotations

import time

import pytest

from backend.core import jobs
from backend.core.db import now_ms, transactional
from backend.core.errors import Unavailable
from backend.extensions import db


@transactional
def _new_job(kind: str = "core.selftest", **values) -> str:
    job = jobs.create_job(kind=kind, owner_id=None)
    for key, value in values.items():
        setattr(job, key, value)
    db.session.flush()
    return job.id


def _job(job_id: str) -> jobs.Job:
    db.session.expire_all()
    return db.session.get(jobs.Job, job_id)


def test_run_job_claims_reports_progress_and_succeeds(app):
    seen = []

    def work(ctx):
        ctx.progress(40)
        seen.append(_job(ctx.job_id).progress)

    with app.app_context():
        job_id = _new_job()
        assert jobs.run_job(job_id, work) == jobs.SUCCESS
        job = _job(job_id)
        assert seen == [40]
        assert (job.status, job.progress, job.attempts) == (jobs.SUCCESS, 100, 1)
        assert job.started_at <= job.finished_at
        # A duplicate delivery of the same job does nothing.
        assert jobs.run_job(job_id, work) is None and seen == [40]


def test_failing_work_marks_failed_with_reason(app):
    def work(ctx):
        raise jobs.JobFailed("No bars in that range.", reason="no_data")

    with app.app_context():
        job_id = _new_job()
        assert jobs.run_job(job_id, work) == jobs.FAILED
        job = _job(job_id)
        assert (job.status, job.error_reason, job.error) == (jobs.FAILED, "no_data", "No bars in that range.")


def test_unexpected_error_fails_without_leaking_details(app):
    def work(ctx):
        raise ZeroDivisionError("internal detail")

    with app.app_context():
        job_id = _new_job()
        jobs.run_job(job_id, work)
        job = _job(job_id)
        assert job.status == jobs.FAILED and job.error_reason == "internal_error"
        assert "internal detail" not in job.error


def test_cancel_stops_work_at_next_progress(app):
    def work(ctx):
        ctx.progress(10)
        jobs.cancel_job(job_id=ctx.job_id)
        ctx.progress(20)
        raise AssertionError("work continued after cancellation")

    with app.app_context():
        job_id = _new_job()
        assert jobs.run_job(job_id, work) == jobs.CANCELLED
        assert _job(job_id).status == jobs.CANCELLED


def test_reaper_fails_a_stale_job_after_its_last_attempt(app):
    with app.app_context():
        old = now_ms() - 10 * 60 * 1000
        job_id = _new_job(status=jobs.RUNNING, attempts=app.config["JOB_MAX_ATTEMPTS"], heartbeat_at=old,
                          started_at=old)
        fresh_id = _new_job(status=jobs.RUNNING, attempts=1, heartbeat_at=now_ms(), started_at=now_ms())
        counts = jobs.reap_stale_jobs()
        assert counts["failed"] == 1
        job = _job(job_id)
        assert (job.status, job.error_reason) == (jobs.FAILED, "worker_lost")
        assert _job(fresh_id).status == jobs.RUNNING


def test_reaper_requeues_a_stale_job_with_attempts_left(app):
    with app.app_context():
        old = now_ms() - 10 * 60 * 1000
        job_id = _new_job(status=jobs.RUNNING, attempts=1, heartbeat_at=old, started_at=old)
        assert jobs.reap_stale_jobs()["requeued"] == 1
        assert _job(job_id).status in (jobs.PENDING, jobs.SUCCESS)  # eager mode may run it at once


def test_failed_hook_runs_for_reaped_jobs(app):
    calls = []
    jobs.register_job_kind("test.hooked", task_name="core.selftest",
                           on_failed=lambda job_id, reason, message: calls.append((job_id, reason)))
    with app.app_context():
        old = now_ms() - 10 * 60 * 1000
        job_id = _new_job(kind="test.hooked", status=jobs.RUNNING, attempts=9, heartbeat_at=old)
        jobs.reap_stale_jobs()
        assert calls == [(job_id, "worker_lost")]


def test_dispatch_with_broker_down_is_503_and_leaves_no_row(app, broker_down):
    discarded = []
    with app.app_context():
        job_id = _new_job()
        with pytest.raises(Unavailable) as err:
            jobs.dispatch("core.selftest", job_id=job_id, discard=lambda: discarded.append(True))
        assert err.value.http_status == 503
        assert discarded == [True]
        assert _job(job_id) is None


def test_get_job_checks_the_owner(app, user, other_user):
    with app.app_context():
        job_id = _new_job(owner_id=user.id)
        assert jobs.get_job(job_id=job_id, owner_id=user.id).id == job_id
        with pytest.raises(jobs.JobNotFound):
            jobs.get_job(job_id=job_id, owner_id=other_user.id)


@pytest.mark.integration
def test_real_worker_runs_a_job_and_a_killed_worker_is_reaped(app, celery_worker):
    with app.app_context():
        job_id = _new_job()
        jobs.dispatch("core.selftest", job_id=job_id, steps=4, step_s=0.1)
        _wait(lambda: _job(job_id).status == jobs.SUCCESS, f"selftest did not finish:\n{celery_worker.log()}")
        assert _job(job_id).progress == 100

        slow_id = _new_job()
        jobs.dispatch("core.selftest", job_id=slow_id, steps=100, step_s=0.2)
        _wait(lambda: _job(slow_id).status == jobs.RUNNING and _job(slow_id).progress > 0, "never started")
        celery_worker.kill()
        app.config["JOB_STALE_AFTER_S"], saved = 1, app.config["JOB_STALE_AFTER_S"]
        app.config["JOB_MAX_ATTEMPTS"], saved_attempts = 1, app.config["JOB_MAX_ATTEMPTS"]
        try:
            time.sleep(1.5)
            assert jobs.reap_stale_jobs()["failed"] == 1
        finally:
            app.config["JOB_STALE_AFTER_S"], app.config["JOB_MAX_ATTEMPTS"] = saved, saved_attempts
        job = _job(slow_id)
        assert (job.status, job.error_reason) == (jobs.FAILED, "worker_lost")


def _wait(predicate, message: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(message)
