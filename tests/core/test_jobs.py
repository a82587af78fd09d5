"""The one job pattern: declare, submit after commit, claim, progress, complete, cancel, reap."""

from __future__ import annotations

import itertools
import time
from types import SimpleNamespace

import pytest

from backend.core import jobs
from backend.core.db import now_ms, transactional
from backend.core.errors import Unavailable
from backend.core.tasks import SELFTEST
from backend.extensions import db

SEEN: list[object] = []


@jobs.job_kind("test.progress")
def _progress_work(ctx: jobs.JobContext) -> None:
    ctx.progress(40)
    SEEN.append(_job(ctx.job_id).progress)


@jobs.job_kind("test.fails")
def _failing_work(ctx: jobs.JobContext) -> None:
    raise jobs.JobFailed("No bars in that range.", reason="no_data")


@jobs.job_kind("test.crashes")
def _crashing_work(ctx: jobs.JobContext) -> None:
    raise ZeroDivisionError("internal detail")


@jobs.job_kind("test.cancelled_midway")
def _cancelled_work(ctx: jobs.JobContext) -> None:
    ctx.progress(10)
    _cancel(ctx.job_id)
    ctx.progress(20)
    raise AssertionError("work continued after cancellation")


@jobs.job_kind("test.cancel_before_complete")
def _late_cancel_work(ctx: jobs.JobContext) -> None:
    _cancel(ctx.job_id)
    SEEN.append("result written")
    ctx.complete()  # the cancel holds: complete() refuses and the result rolls back


@jobs.job_kind("test.completes")
def _completing_work(ctx: jobs.JobContext) -> None:
    ctx.complete()
    db.session.commit()
    SEEN.append(ctx.payload)


@transactional
def _cancel(job_id: str) -> None:
    jobs.cancel_job(job_id=job_id)


@transactional
def _new_job(kind: str = SELFTEST, owner_id: str | None = None, **values) -> str:
    """Add a job row directly (no enqueue), with any column values a test needs."""
    job = jobs.Job(
        kind=kind, owner_id=owner_id, status=jobs.PENDING, progress=0, attempts=0, created_at=now_ms()
    )
    for key, value in values.items():
        setattr(job, key, value)
    db.session.add(job)
    db.session.flush()
    return job.id


@transactional
def _submit(kind: str, **kwargs) -> str:
    return jobs.submit(kind, owner_id=None, **kwargs).id


def _job(job_id: str) -> jobs.Job | None:
    db.session.expire_all()
    return db.session.get(jobs.Job, job_id)


@pytest.fixture(autouse=True)
def _clear_seen():
    SEEN.clear()


def test_execute_claims_reports_progress_and_succeeds(app, monkeypatch):
    monkeypatch.setattr(jobs.context, "PROGRESS_EVERY_S", 0.0)  # store every progress call
    with app.app_context():
        job_id = _new_job("test.progress")
        assert jobs.execute(job_id) == jobs.SUCCESS
        job = _job(job_id)
        assert SEEN == [40]
        assert (job.status, job.progress, job.attempts) == (jobs.SUCCESS, 100, 1)
        assert job.started_at <= job.finished_at
        # A duplicate delivery of the same job does nothing.
        assert jobs.execute(job_id) is None
        assert SEEN == [40]


def test_submit_enqueues_after_commit_and_the_task_runs_the_declared_work(app):
    with app.app_context():  # eager mode: the task runs at enqueue time, after the commit
        job_id = _submit("test.completes", payload={"n": 3})
        assert SEEN == [{"n": 3}]
        assert _job(job_id).status == jobs.SUCCESS


def test_a_rolled_back_submit_never_enqueues(app):
    @transactional
    def submit_then_fail() -> None:
        jobs.submit("test.completes", owner_id=None)
        raise RuntimeError("validation failed after the submit")

    with app.app_context():
        with pytest.raises(RuntimeError):
            submit_then_fail()
        assert SEEN == []
        assert (
            db.session.scalar(
                db.select(db.func.count()).select_from(jobs.Job).where(jobs.Job.kind == "test.completes")
            )
            == 0
        )


def test_submit_of_an_undeclared_kind_is_a_programming_error(app):
    with app.app_context(), pytest.raises(RuntimeError, match="unknown job kind"):
        _submit("test.nobody_declared_this")


def test_failing_work_marks_failed_with_reason(app):
    with app.app_context():
        job_id = _new_job("test.fails")
        assert jobs.execute(job_id) == jobs.FAILED
        job = _job(job_id)
        assert (job.status, job.error_reason, job.error) == (jobs.FAILED, "no_data", "No bars in that range.")


def test_unexpected_error_fails_without_leaking_details(app):
    with app.app_context():
        job_id = _new_job("test.crashes")
        assert jobs.execute(job_id) == jobs.FAILED
        job = _job(job_id)
        assert (job.status, job.error_reason) == (jobs.FAILED, "internal_error")
        assert "internal detail" not in job.error


def test_a_job_of_an_unknown_kind_fails_with_a_reason(app):
    with app.app_context():
        job_id = _new_job("test.removed_in_a_later_release")
        assert jobs.execute(job_id) == jobs.FAILED
        assert _job(job_id).error_reason == "unknown_kind"


@jobs.job_kind("test.progress_twice")
def _progress_twice_work(ctx: jobs.JobContext) -> None:
    ctx.progress(40)
    SEEN.append(_job(ctx.job_id).progress)
    ctx.progress(60)
    SEEN.append(_job(ctx.job_id).progress)


def test_progress_is_stored_at_most_every_progress_every_s(app, monkeypatch):
    monkeypatch.setattr(jobs.context, "PROGRESS_EVERY_S", 3600.0)
    with app.app_context():
        job_id = _new_job("test.progress_twice")
        assert jobs.execute(job_id) == jobs.SUCCESS
        assert SEEN == [0, 0]  # both calls fell inside the interval since the claim: no write
        assert _job(job_id).progress == 100  # the final state is always written

    SEEN.clear()
    # The claim at 0 s, a call 10 s later (stored), another 0.1 s after that (not stored).
    clock = itertools.chain([0.0, 10.0], itertools.repeat(10.1))
    monkeypatch.setattr(jobs.context, "PROGRESS_EVERY_S", 1.0)
    # Only the job context's clock (the pool and the Redis client read the real one).
    monkeypatch.setattr(jobs.context, "time", SimpleNamespace(monotonic=lambda: next(clock)))
    with app.app_context():
        assert jobs.execute(_new_job("test.progress_twice")) == jobs.SUCCESS
        assert SEEN == [40, 40]


def test_a_throttled_progress_call_still_sees_a_cancel(app, monkeypatch):
    monkeypatch.setattr(jobs.context, "PROGRESS_EVERY_S", 3600.0)  # no progress call writes anything
    with app.app_context():
        job_id = _new_job("test.cancelled_midway")
        assert jobs.execute(job_id) == jobs.CANCELLED
        job = _job(job_id)
        assert (job.status, job.error_reason, job.progress) == (jobs.CANCELLED, "cancelled", 0)


def _loaded(job_id: str) -> dict[str, object]:
    """A kind's load: runs in the claim's transaction, so it already sees the job RUNNING."""
    job = db.session.get(jobs.Job, job_id)
    return {"status": job.status, "attempts": job.attempts}


@jobs.job_kind("test.loads", load=_loaded)
def _loading_work(ctx: jobs.JobContext) -> None:
    SEEN.append(ctx.loaded)


def _broken_load(job_id: str) -> None:
    raise RuntimeError("the load failed")


@jobs.job_kind("test.load_fails", load=_broken_load)
def _work_after_a_failed_load(ctx: jobs.JobContext) -> None:
    SEEN.append(ctx.loaded)


def test_a_kinds_load_runs_in_the_claims_transaction_and_reaches_the_work(app):
    with app.app_context():
        job_id = _new_job("test.loads")
        assert jobs.execute(job_id) == jobs.SUCCESS
        assert SEEN == [{"status": jobs.RUNNING, "attempts": 1}]


def test_a_failing_load_still_claims_the_job_and_the_work_runs_without_it(app):
    with app.app_context():
        job_id = _new_job("test.load_fails")
        assert jobs.execute(job_id) == jobs.SUCCESS
        assert SEEN == [None]  # the claim alone committed; the work reads for itself
        assert (_job(job_id).status, _job(job_id).attempts) == (jobs.SUCCESS, 1)


@jobs.job_kind("test.checks_now_and_then", cancel_check_every_s=3600.0)
def _rarely_checking_work(ctx: jobs.JobContext) -> None:
    ctx.progress(10)
    _cancel(ctx.job_id)
    ctx.progress(20)  # inside the bound: no read, the work goes on
    SEEN.append("result written")
    ctx.complete()  # refuses: the cancel holds and the result rolls back


def test_a_kind_that_checks_for_a_cancel_now_and_then_still_never_overwrites_one(app, monkeypatch):
    monkeypatch.setattr(jobs.context, "PROGRESS_EVERY_S", 3600.0)
    statements: list[str] = []
    from sqlalchemy import event

    def seen(_conn, _cursor, statement, *_a) -> None:
        statements.append(statement)

    with app.app_context():
        job_id = _new_job("test.checks_now_and_then")
        event.listen(db.engine, "before_cursor_execute", seen)
        try:
            assert jobs.execute(job_id) == jobs.CANCELLED
        finally:
            event.remove(db.engine, "before_cursor_execute", seen)
        assert SEEN == ["result written"]
        assert any(s.startswith("UPDATE jobs") for s in statements)  # the listener saw the job's SQL
        assert not [s for s in statements if s.startswith("SELECT jobs.status")]  # no progress call read it
        job = _job(job_id)
        assert (job.status, job.error_reason, job.progress) == (jobs.CANCELLED, "cancelled", 0)


def test_a_kind_that_checks_now_and_then_sees_a_cancel_once_its_bound_passed(app, monkeypatch):
    monkeypatch.setattr(jobs.context, "PROGRESS_EVERY_S", 3600.0)
    # The claim at 0 s; progress(10) at 0.1 s; progress(20) at 7200 s: past the kind's bound.
    clock = itertools.chain([0.0, 0.1], itertools.repeat(7200.0))
    monkeypatch.setattr(jobs.context, "time", SimpleNamespace(monotonic=lambda: next(clock)))
    with app.app_context():
        job_id = _new_job("test.checks_now_and_then")
        assert jobs.execute(job_id) == jobs.CANCELLED
        assert SEEN == []  # progress(20) read the status and stopped the work


def _synchronous_commit(_job_id: str) -> str:
    return str(db.session.scalar(db.text("SELECT current_setting('synchronous_commit')")))


@jobs.job_kind("test.commit_modes", load=_synchronous_commit)
def _commit_modes_work(ctx: jobs.JobContext) -> None:
    SEEN.append(("claim", ctx.loaded))
    SEEN.append(("work", _synchronous_commit(ctx.job_id)))
    SEEN.append(("complete", transactional(lambda: (ctx.complete(), _synchronous_commit(ctx.job_id))[1])()))


def test_only_the_claim_commits_without_waiting_for_the_wal_flush(app, committed):
    """ADR 0011: a lost claim only leaves the job PENDING; every other commit stays synchronous."""
    with app.app_context():
        job_id = _new_job("test.commit_modes")
        assert jobs.execute(job_id) == jobs.SUCCESS
        assert SEEN == [("claim", "off"), ("work", "on"), ("complete", "on")]
        assert _synchronous_commit(job_id) == "on"  # the setting ended with the claim's transaction


@jobs.job_kind("test.completes_transactionally")
def _transactional_work(ctx: jobs.JobContext) -> None:
    transactional(ctx.complete)()


def test_a_job_completed_in_a_transaction_is_not_finished_again(app, monkeypatch):
    finished: list[str] = []
    real_finish = jobs.runtime._finish
    monkeypatch.setattr(
        jobs.runtime,
        "_finish",
        lambda job_id, *a, **kw: (finished.append(job_id), real_finish(job_id, *a, **kw)),
    )
    with app.app_context():
        job_id = _new_job("test.completes_transactionally")
        assert jobs.execute(job_id) == jobs.SUCCESS
        assert finished == [] and _job(job_id).status == jobs.SUCCESS
        other = _new_job("test.completes")  # committed by hand: execute() writes SUCCESS to be sure
        assert jobs.execute(other) == jobs.SUCCESS
        assert finished == [other]


def test_cancel_stops_work_at_next_progress(app):
    with app.app_context():
        job_id = _new_job("test.cancelled_midway")
        assert jobs.execute(job_id) == jobs.CANCELLED
        job = _job(job_id)
        assert (job.status, job.error_reason) == (jobs.CANCELLED, "cancelled")


def test_a_cancel_that_lands_before_complete_wins(app):
    with app.app_context():
        job_id = _new_job("test.cancel_before_complete")
        assert jobs.execute(job_id) == jobs.CANCELLED
        assert SEEN == ["result written"]
        assert _job(job_id).status == jobs.CANCELLED


def test_cancel_job_reports_whether_the_job_was_still_active(app):
    with app.app_context():
        pending, running = _new_job(), _new_job(status=jobs.RUNNING)
        done = _new_job(status=jobs.SUCCESS, finished_at=now_ms())
        assert jobs.cancel_job(job_id=pending) is True
        assert jobs.cancel_job(job_id=running) is True
        assert jobs.cancel_job(job_id=pending) is False  # already cancelled
        assert jobs.cancel_job(job_id=done) is False
        assert jobs.cancel_job(job_id="no-such-job") is False
        assert _job(done).status == jobs.SUCCESS and _job(running).status == jobs.CANCELLED


def test_reaper_fails_a_stale_job_after_its_last_attempt(app):
    with app.app_context():
        old = now_ms() - 10 * 60 * 1000
        job_id = _new_job(
            status=jobs.RUNNING, attempts=app.config["JOB_MAX_ATTEMPTS"], heartbeat_at=old, started_at=old
        )
        fresh_id = _new_job(status=jobs.RUNNING, attempts=1, heartbeat_at=now_ms(), started_at=now_ms())
        counts = jobs.reap_stale_jobs()
        assert counts["failed"] == 1
        job = _job(job_id)
        assert (job.status, job.error_reason) == (jobs.FAILED, "worker_lost")
        assert _job(fresh_id).status == jobs.RUNNING


def test_reaper_requeues_a_stale_job_with_attempts_left(app):
    with app.app_context():
        old = now_ms() - 10 * 60 * 1000
        job_id = _new_job("test.progress", status=jobs.RUNNING, attempts=1, heartbeat_at=old, started_at=old)
        assert jobs.reap_stale_jobs()["requeued"] == 1
        job = _job(job_id)  # eager mode runs the requeued job at once
        assert (job.status, job.attempts) == (jobs.SUCCESS, 2)


def test_a_job_requeued_while_the_broker_is_down_is_sent_again_when_it_returns(app, broker_down):
    with app.app_context():
        old = now_ms() - 60 * 60 * 1000
        job_id = _new_job(
            "test.progress", status=jobs.RUNNING, attempts=1, heartbeat_at=old, started_at=old, created_at=old
        )
        assert jobs.reap_stale_jobs()["requeued"] == 1  # moved to PENDING; the send failed
        assert _job(job_id).status == jobs.PENDING
        later = now_ms() + 10 * app.config["JOB_STALE_AFTER_S"] * 1000
        assert jobs.reap_stale_jobs(now=later)["resent"] == 0  # still down: stays PENDING, retried
        assert _job(job_id).status == jobs.PENDING


def test_a_lost_pending_job_is_resent(app):
    with app.app_context():
        old = now_ms() - 60 * 60 * 1000
        job_id = _new_job("test.progress", created_at=old, heartbeat_at=old)
        assert jobs.reap_stale_jobs()["resent"] == 1
        assert _job(job_id).status == jobs.SUCCESS  # eager mode ran it
        recent = _new_job("test.progress")
        assert jobs.reap_stale_jobs()["resent"] == 0  # just submitted: not lost
        assert _job(recent).status == jobs.PENDING


def test_submit_with_broker_down_is_503_and_leaves_no_row(app, broker_down):
    with app.app_context():
        with pytest.raises(Unavailable) as err:
            _submit(SELFTEST)
        assert err.value.http_status == 503
        assert db.session.scalar(db.select(db.func.count()).select_from(jobs.Job)) == 0


def test_get_job_checks_the_owner_and_the_kind(app, user, other_user):
    with app.app_context():
        job_id = _new_job(owner_id=user.id)
        assert jobs.get_job(job_id=job_id, owner_id=user.id).id == job_id
        assert jobs.get_job(job_id=job_id, owner_id=user.id, kind=SELFTEST).id == job_id
        for kwargs in ({"owner_id": other_user.id}, {"owner_id": user.id, "kind": "backtests.run"}):
            with pytest.raises(jobs.JobNotFound):
                jobs.get_job(job_id=job_id, **kwargs)
        with pytest.raises(jobs.JobNotFound):
            jobs.get_job(job_id="not-an-id\x00", owner_id=user.id)


def test_active_subject_ids_names_subjects_with_a_pending_or_running_job(app):
    with app.app_context():
        _new_job(subject_id="00000000-0000-0000-0000-00000000000a")
        _new_job(subject_id="00000000-0000-0000-0000-00000000000b", status=jobs.RUNNING)
        _new_job(subject_id="00000000-0000-0000-0000-00000000000c", status=jobs.SUCCESS)
        asked = [f"00000000-0000-0000-0000-00000000000{c}" for c in "abcd"]
        assert jobs.active_subject_ids(asked) == set(asked[:2])
        assert jobs.active_subject_ids([]) == set()


def test_every_declared_kind_is_a_celery_task_on_its_queue(app):
    celery = app.extensions["celery"]
    for kind in jobs.registered_kinds():
        assert kind in celery.tasks
    assert celery.amqp.router.route({}, "backtests.run")["queue"].name == "backtests"
    assert celery.amqp.router.route({}, "workflows.run")["queue"].name == "workflows"


@pytest.mark.integration
def test_real_worker_runs_a_job_and_a_killed_worker_is_reaped(app, celery_worker):
    with app.app_context():
        job_id = _submit(SELFTEST, payload={"steps": 4, "step_s": 0.1})
        _wait(lambda: _job(job_id).status == jobs.SUCCESS, f"selftest did not finish:\n{celery_worker.log()}")
        assert _job(job_id).progress == 100

        slow_id = _submit(SELFTEST, payload={"steps": 100, "step_s": 0.2})
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


@jobs.job_kind("test.long_silent_step")
def _silent_work(ctx: jobs.JobContext) -> None:
    time.sleep(float(ctx.payload["seconds"]))  # a long step that never calls ctx.progress
    SEEN.append(_job(ctx.job_id).heartbeat_at)


def test_a_long_step_keeps_beating_so_the_reaper_leaves_it_alone(app, monkeypatch, committed):
    """The heartbeat comes from a thread, not from progress calls: a silent 1.5 s step stays fresh."""
    import threading

    monkeypatch.setitem(app.config, "JOB_HEARTBEAT_S", 0.2)
    monkeypatch.setitem(app.config, "JOB_STALE_AFTER_S", 1)
    with app.app_context():
        job_id = _new_job("test.long_silent_step", payload={"seconds": 1.5})
        started = now_ms()
        reaped: list[dict[str, int]] = []

        def reap() -> None:  # 1.2 s in: without heartbeats the job would be 1.2 s stale
            with app.app_context():
                reaped.append(jobs.reap_stale_jobs())

        watcher = threading.Timer(1.2, reap)
        watcher.start()
        assert jobs.execute(job_id) == jobs.SUCCESS
        watcher.join()
        assert reaped == [{"requeued": 0, "failed": 0, "resent": 0}]
        assert SEEN[0] > started + 1000  # written by the thread while the step slept


def _columns(job_id: str) -> tuple:
    job = _job(job_id)
    return (job.status, job.progress, job.attempts, job.kind, job.owner_id, job.error, job.error_reason)


def test_the_claim_and_complete_built_once_write_what_the_per_call_statements_write(app, user):
    """The claim's and complete()'s UPDATEs are built once and run on the session's connection when
    the session holds no object of the job; they write, return and note what the statements built per
    call with their values (kept for a session holding the job) write, return and note."""
    from backend.core.db import holds

    with app.app_context():
        fast, oracle = _new_job("test.progress", user.id), _new_job("test.progress", user.id)
        assert not holds(jobs.Job, fast)
        before = now_ms()
        claimed = jobs.runtime._claim(fast, load=False)
        assert db.session.info.get("qyq_changes") is None  # committed: the notes went with it
        row = db.session.execute(
            jobs.runtime._claim_statement(oracle), execution_options=jobs.runtime._NOTED
        ).first()
        assert "qyq_changes" not in db.session.info  # NOTED: the writer notes, as _claim does
        db.session.commit()
        assert (claimed.kind, claimed.owner_id, claimed.subject_id, claimed.payload, claimed.attempts) == (
            row.kind,
            row.owner_id,
            row.subject_id,
            row.payload,
            row.attempts,
        )
        assert (
            _columns(fast) == _columns(oracle) == (jobs.RUNNING, 0, 1, "test.progress", user.id, None, None)
        )
        assert before <= _job(fast).started_at <= _job(fast).heartbeat_at <= now_ms()

        ctx = jobs.JobContext(claimed)
        ctx.complete()
        assert db.session.info["qyq_changes"]["jobs"] == {user.id}
        db.session.execute(
            jobs.context._complete_statement(oracle), execution_options={"qyq_owner": user.id}
        ).first()
        db.session.commit()
        assert (
            _columns(fast) == _columns(oracle) == (jobs.SUCCESS, 100, 1, "test.progress", user.id, None, None)
        )
        assert _job(fast).started_at <= _job(fast).finished_at <= _job(fast).heartbeat_at <= now_ms()


def test_a_session_holding_the_job_sees_the_claim_and_the_completion_on_its_object(app):
    """With the job's object in the session, the claim and complete() keep the ORM's execution,
    which updates that object too (as before they were built once)."""
    from backend.core.db import holds

    with app.app_context():
        job_id = _new_job("test.progress")
        held = db.session.get(jobs.Job, job_id)
        assert holds(jobs.Job, job_id) and held.status == jobs.PENDING
        claimed = jobs.runtime._claim(job_id, load=False)
        assert (held.status, held.attempts) == (jobs.RUNNING, 1)
        jobs.JobContext(claimed).complete()
        assert (held.status, held.progress) == (jobs.SUCCESS, 100)
        db.session.commit()
        assert _columns(job_id)[:3] == (jobs.SUCCESS, 100, 1)


def test_a_completed_job_refused_by_a_cancel_on_the_connection_path(app):
    with app.app_context():
        job_id = _new_job("test.progress")
        claimed = jobs.runtime._claim(job_id, load=False)
        _cancel(job_id)
        with pytest.raises(jobs.JobCancelled):
            jobs.JobContext(claimed).complete()
        db.session.rollback()
        assert _columns(job_id)[0] == jobs.CANCELLED
