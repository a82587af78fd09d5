"""The one pattern for long work: a `jobs` row per job, declared once, claimed, heartbeated, reaped.

A module adds a job kind with two functions::

    @jobs.job_kind("backtests.run")           # binds the Celery task of that name (queue by prefix)
    def run_backtest(ctx: jobs.JobContext) -> None:
        ...                                   # the work; ctx.progress(), then ctx.complete()

    @transactional
    def submit_backtest(...):
        job = jobs.submit("backtests.run", owner_id=..., subject_id=...)
        db.session.add(Backtest(job_id=job.id, ...))   # the module's rows point at the job

Lifecycle (the `jobs` row is the only status record; modules map it to their wire enums)::

    submit()              PENDING, in the caller's transaction; enqueued after it commits.
                          Broker down -> the job row is deleted (rows pointing at it cascade), 503
    execute() (the task)  PENDING -> RUNNING (atomic claim; duplicates and replays are no-ops),
                          with the kind's ``load`` in the same transaction (``ctx.loaded``); that
                          COMMIT alone does not wait for the WAL flush (ADR 0011)
    ctx.progress(pct)     raises JobCancelled once cancelled (checked on every call, or at most
                          every ``cancel_check_every_s`` of the kind); the progress itself is
                          committed at most every PROGRESS_EVERY_S
    ctx.complete()        RUNNING -> SUCCESS inside the work's final transaction, so the result
                          and the status commit together (a cancel that won is never overwritten)
    work raises           JobFailed -> FAILED with its reason; JobCancelled -> CANCELLED;
                          anything else -> FAILED ``internal_error`` (no details leak)
    reap_stale_jobs()     RUNNING with a stale heartbeat -> requeued (attempts left) or FAILED
                          ``worker_lost``; PENDING never started -> sent again
    requeue_failed()      FAILED -> PENDING, the same job sent again (an admin's retry)

Postgres is the record; the Celery result backend is not used for state. See ADR 0002, 0007, 0011.
"""

from backend.core.jobs.context import FINAL_EVENTS, JobContext, emit_final, job_event
from backend.core.jobs.model import (
    ACTIVE,
    CANCELLED,
    FAILED,
    PENDING,
    RUNNING,
    SUCCESS,
    Job,
    JobCancelled,
    JobFailed,
    JobNotFound,
)
from backend.core.jobs.reaper import reap_stale_jobs
from backend.core.jobs.runtime import (
    JobKind,
    Work,
    active_subject_ids,
    cancel_job,
    execute,
    get_job,
    job_kind,
    registered_kinds,
    requeue_failed,
    start_inline,
    submit,
)

__all__ = [
    "ACTIVE",
    "CANCELLED",
    "FINAL_EVENTS",
    "FAILED",
    "PENDING",
    "RUNNING",
    "SUCCESS",
    "Job",
    "JobCancelled",
    "JobContext",
    "JobFailed",
    "JobKind",
    "JobNotFound",
    "Work",
    "active_subject_ids",
    "cancel_job",
    "emit_final",
    "execute",
    "get_job",
    "job_event",
    "job_kind",
    "reap_stale_jobs",
    "registered_kinds",
    "requeue_failed",
    "start_inline",
    "submit",
]
