"""Celery bound to the Flask app: queues, routes by task-name prefix, and the one beat schedule.

Workers start with
``celery -A backend.celery_app worker -Q default,backtests,sweeps,workflows,bots,webhooks``;
beat with ``celery -A backend.celery_app beat``. Tasks run inside the app context (FlaskTask).
"""

from __future__ import annotations

import logging
import sys

from celery import Celery, Task
from celery import current_app as current_celery
from celery.signals import worker_init, worker_process_init
from flask import Flask
from kombu import Exchange, Queue

from backend.core.queues import QUEUES  # declared once, in core (the admin console reads it too)

logger = logging.getLogger(__name__)

# Routing by task-name prefix: a slow backtest never delays a bot tick. A sweep's chunks have a
# queue of their own, so a 10,000-run sweep never delays a single backtest (docs/backtests.md).
TASK_ROUTES = {
    "backtests.sweep_chunk": {"queue": "sweeps"},
    "backtests.*": {"queue": "backtests"},
    "workflows.*": {"queue": "workflows"},
    "bots.*": {"queue": "bots"},
    # Outbound HTTP waits on other people's servers: never in front of a backtest or a bot tick.
    "webhooks.*": {"queue": "webhooks"},
    "*": {"queue": "default"},
}

# The one beat schedule: every periodic job in the system is declared here.
BEAT_SCHEDULE: dict[str, dict] = {
    # Every 10 s: with JOB_STALE_AFTER_S=20 a killed worker's job is requeued within ~30 s.
    "core.reap_stale_jobs": {"task": "core.reap_stale_jobs", "schedule": 10.0},
    # Login sessions (token families) that expired SESSIONS_KEEP_EXPIRED_DAYS ago are deleted.
    "core.purge_expired_sessions": {"task": "core.purge_expired_sessions", "schedule": 3600.0},
    # Cron-triggered workflows: enqueue each due run once (unique per workflow + scheduled time).
    "workflows.enqueue_due": {"task": "workflows.enqueue_due", "schedule": 20.0},
    # Paper bots: claim each running bot whose next bar is complete and enqueue one bots.tick.
    "bots.schedule_ticks": {"task": "bots.schedule_ticks", "schedule": 10.0},
    # Live streams: a market.bar for every watched market whose bar just closed (at most 2 s late).
    "stream.publish_market_bars": {"task": "stream.publish_market_bars", "schedule": 2.0},
    # Uploads: remove bytes a crash left without a row (or renamed aside by a half-done delete).
    "files.sweep_orphans": {"task": "files.sweep_orphans", "schedule": 3600.0},
    # Webhooks: enqueue deliveries whose retry (exponential backoff) is due, or whose enqueue was lost.
    "webhooks.enqueue_due": {"task": "webhooks.enqueue_due", "schedule": 10.0},
    # Deleted accounts: erase memories whose erasure after the deletion failed (growing delays).
    "agent.erase_memories": {"task": "agent.erase_memories", "schedule": 60.0},
}

# Job kinds (backtests.run, workflows.run, agent.audit) are declared with `jobs.job_kind` in their
# modules, which create_app imports with the blueprints; the beat's own tasks live here.
TASK_MODULES = (
    "backend.core.tasks",
    "backend.modules.bots.tasks",
    "backend.modules.files.tasks",
    "backend.modules.stream.tasks",
    "backend.modules.workflows.tasks",
    "backend.modules.webhooks.tasks",
    "backend.modules.agent.tasks",
)


def celery_init_app(app: Flask) -> Celery:
    """Create the Celery app for `app` and store it in `app.extensions["celery"]`."""

    from backend.core.logging import log_context_id

    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            # Log lines of the task carry its job id (or task id) where requests carry theirs.
            token = log_context_id.set(str(kwargs.get("job_id") or self.request.id or self.name))
            try:
                with app.app_context():
                    return self.run(*args, **kwargs)
            finally:
                log_context_id.reset(token)

    celery = Celery(app.name, task_cls=FlaskTask)
    broker = app.config["CELERY_BROKER_URL"]
    prefix = app.config["REDIS_KEY_PREFIX"]
    # Short connect and read timeouts (REDIS_TIMEOUT_MS): without socket_timeout a publish to a
    # frozen Redis waits forever. One quick publish retry, not Celery's default three.
    redis_timeout_s = app.config["REDIS_TIMEOUT_MS"] / 1000
    transport = {
        "visibility_timeout": app.config["CELERY_TASK_TIME_LIMIT_S"] + 300,
        "global_keyprefix": f"{prefix}celery:",
        "socket_connect_timeout": redis_timeout_s,
        "socket_timeout": redis_timeout_s,
        "retry_on_timeout": False,
    }
    celery.conf.update(
        broker_url=broker,
        broker_transport_options=transport,
        broker_connection_timeout=redis_timeout_s,
        broker_connection_retry_on_startup=True,
        task_publish_retry_policy={
            "max_retries": 1,
            "interval_start": 0,
            "interval_step": 0.1,
            "interval_max": 0.1,
        },
        task_ignore_result=True,
        result_backend=None,
        task_acks_late=True,
        task_reject_on_worker_lost=False,  # redelivery is the reaper's job (see backend/core/jobs/reaper.py)
        worker_prefetch_multiplier=1,
        task_time_limit=app.config["CELERY_TASK_TIME_LIMIT_S"],
        task_soft_time_limit=max(app.config["CELERY_TASK_TIME_LIMIT_S"] - 30, 30),
        task_queues=[Queue(q, Exchange(q, type="direct"), routing_key=q) for q in QUEUES],
        task_default_queue="default",
        task_routes=TASK_ROUTES,
        beat_schedule=BEAT_SCHEDULE,
        task_always_eager=app.config["CELERY_ALWAYS_EAGER"],
        task_eager_propagates=True,
        worker_hijack_root_logger=False,
        timezone="UTC",
        # Read by tune_malloc in the worker's processes (backend/core/malloc.py).
        worker_malloc_thresholds={
            "mmap_threshold": int(app.config["WORKER_MALLOC_MMAP_THRESHOLD"]),
            "trim_threshold": int(app.config["WORKER_MALLOC_TRIM_THRESHOLD"]),
        },
        # Read by init_worker_process after the kernels are loaded (backend/core/resident.py).
        worker_release_llvm_pages=bool(app.config["WORKER_RELEASE_LLVM_PAGES"]),
    )
    celery.set_default()
    # The worker's main process (where the solo and threads pools run tasks; prefork's children
    # inherit it), then each prefork child: malloc's thresholds; each child also loads (or
    # compiles) the engine's numba kernels before its first job.
    worker_init.connect(tune_malloc, weak=False)
    worker_process_init.connect(init_worker_process, weak=False)
    app.extensions["celery"] = celery
    return celery


def tune_malloc(**_kwargs: object) -> dict[str, int]:
    """Apply the ``WORKER_MALLOC_*`` thresholds of the current Celery app; return what was set."""
    from backend.core import malloc

    thresholds = current_celery.conf.get("worker_malloc_thresholds") or {}
    return malloc.tune(
        mmap_threshold=int(thresholds.get("mmap_threshold", 0)),
        trim_threshold=int(thresholds.get("trim_threshold", 0)),
    )


def init_worker_process(**_kwargs: object) -> int:
    """What a worker process does before its first task: malloc's thresholds, the engine's kernels.

    Once the kernels are loaded, LLVM's clean resident pages are dropped (``WORKER_RELEASE_LLVM_PAGES``,
    backend/core/resident.py): a job runs the kernels' machine code, never LLVM. Returns the KiB
    dropped (0 when numba was not loaded, e.g. ``ENGINE_JIT=false``, or the setting is off).
    """
    from backend.core import resident
    from backend.domain.backtest import kernels

    tune_malloc()
    kernels.warm_up()
    if "llvmlite" not in sys.modules or not current_celery.conf.get("worker_release_llvm_pages"):
        return 0
    dropped = resident.release_pages("libllvmlite")
    logger.info("worker process: dropped %.0f MB of LLVM's resident pages", dropped / 1024)
    return dropped


def _make_worker_app() -> Celery:
    from backend.app import create_worker_app

    # Every module and TASK_MODULES entry imported, as in create_app, but no routes served.
    return create_worker_app().extensions["celery"]


# `celery -A backend.celery_app` looks for this attribute; building it creates the worker's Flask
# app (create_worker_app), which never happens when the web app imports this module.
def __getattr__(name: str):
    if name in {"celery", "app"}:
        globals()["celery"] = globals()["app"] = _make_worker_app()
        return globals()[name]
    raise AttributeError(name)
