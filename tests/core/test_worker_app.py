"""create_worker_app: the Celery worker's app has everything a task needs and serves no routes.

Each app is built in a fresh interpreter: what modules declare at import (job kinds, tasks, cached
reads, event subscribers) is process state that this test session has long since filled.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_PROBE = """
import json, sys
from sqlalchemy import event
from sqlalchemy.orm import Session
from backend import app as factory
from backend.core import changes, events, jobs, personal, showcase
from backend.extensions import db

app = factory.create_worker_app() if sys.argv[1] == "worker" else factory.create_app()
celery = app.extensions["celery"]
celery.loader.import_default_modules()
name = lambda f: f"{f.__module__}.{f.__qualname__}"
print(json.dumps({
    "job_kinds": sorted(jobs.registered_kinds()),
    "tasks": sorted(t for t in celery.tasks if not t.startswith("celery.")),
    "showcase_reads": {k: sorted(v) for k, v in showcase._READS.items()},
    "personal_reads": personal._READS,
    "subscribers": sorted(name(s) for s in events._subscribers),
    "on_commit": sorted(name(f) for f in changes._listeners),
    "on_commit_pipelined": sorted(name(f) for f in changes._pipelined),
    "on_write": {t: sorted(name(f) for f in fs) for t, fs in changes._on_write.items()},
    "session_events": {
        e: event.contains(Session, e, f)
        for e, f in [("before_flush", changes._note_flush), ("do_orm_execute", changes._note_statement),
                     ("after_commit", changes._after_commit), ("after_soft_rollback", changes._forget)]
    },
    "tables": sorted(db.metadata.tables),
    "beat": sorted(celery.conf.beat_schedule),
    "queues": sorted(q.name for q in celery.conf.task_queues),
    "malloc": celery.conf.worker_malloc_thresholds,
    "routes": sorted(r.rule for r in app.url_map.iter_rules()),
    "cli": sorted(app.cli.commands),
    "backtests_drop": sorted(showcase.showcases_reading({"backtests"})),
    "personal_drop": [sorted(x) for x in personal.affected({"backtests": {"u1"}})],
    "api_docs": "flask-smorest" in app.extensions,
}, default=str))
"""


def _probe(kind: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, kind],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def test_the_worker_app_declares_everything_the_web_app_does_and_serves_nothing():
    web, worker = _probe("web"), _probe("worker")
    # create_app (gunicorn's backend.wsgi, the `flask` CLI) keeps its routes, API docs and commands.
    web_routes, web_cli = web.pop("routes"), web.pop("cli")
    assert {"/api/backtests/latest", "/api/openapi.json", "/api/docs"} <= set(web_routes)
    assert {"seed", "market", "db"} <= set(web_cli) and web.pop("api_docs") is True
    routes, cli, api_docs = worker.pop("routes"), worker.pop("cli"), worker.pop("api_docs")
    # Job kinds, tasks, cached reads (so a job's writes drop the showcase and personal caches),
    # subscribers, write listeners, models, schedule: the same.
    assert worker == web
    assert {"backtests.run", "workflows.run"} <= set(worker["job_kinds"])
    assert worker["backtests_drop"] and worker["personal_drop"][0]
    # the caches' invalidations, queued on each commit's one pipeline (ADR 0011)
    assert {"backend.core.personal._after_commit", "backend.core.showcase._after_commit"} <= set(
        worker["on_commit_pipelined"]
    )
    assert all(worker["session_events"].values())
    # a write of endpoints drops the transaction's memo of them, in the worker too (its events)
    assert worker["on_write"]["webhooks"] == ["backend.modules.webhooks.service._forget_hooks"]
    # Nothing served: no API routes (only Flask's static rule), no OpenAPI docs, no CLI commands.
    assert not [r for r in routes if r.startswith("/api") or r.startswith("/ws")]
    assert api_docs is False and not [c for c in cli if c in {"seed", "market"}]


def test_celery_app_builds_the_worker_app(monkeypatch):
    # `celery -A backend.celery_app` reads `celery` (or `app`): built by create_worker_app. Faked
    # here: a real one would become Celery's default app for the rest of the test session.
    import types

    import backend.app
    import backend.celery_app as celery_app

    sentinel = object()
    built = []

    def fake_worker_app():
        built.append(1)
        return types.SimpleNamespace(extensions={"celery": sentinel})

    monkeypatch.setattr(backend.app, "create_worker_app", fake_worker_app)
    saved = {k: celery_app.__dict__.pop(k) for k in ("celery", "app") if k in celery_app.__dict__}
    try:
        assert celery_app.celery is sentinel and celery_app.app is sentinel
        assert built == [1]
    finally:
        for k in ("celery", "app"):
            celery_app.__dict__.pop(k, None)
        celery_app.__dict__.update(saved)
