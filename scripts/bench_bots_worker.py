"""The bots benchmark's Celery worker subprocess and CPU accounting from ``/proc``.

``Worker`` starts ``celery worker -Q bots`` in its own process group and reads the CPU time of its
main process and pool; ``postgres_pids`` finds the Postgres backends of the current database so
their CPU can be read the same way (when this machine's ``/proc`` shows them).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _stat(pid: int) -> list[str] | None:
    """Return the fields of /proc/<pid>/stat after the command name (field 3 on), or None."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def cpu_seconds(pids: list[int], *, with_children: bool = False) -> float:
    """Return the user + system CPU seconds of ``pids`` (plus reaped children's when asked)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])  # utime, stime
            if with_children:
                total += int(fields[13]) + int(fields[14])  # cutime, cstime
    return total / tick


class Worker:
    """A ``celery worker -Q bots`` subprocess in its own process group (stopped on exit)."""

    def __init__(self, env: dict[str, str], concurrency: int) -> None:
        self.env, self.concurrency = env, concurrency
        self.log = Path(tempfile.mkstemp(prefix="qyq-bench-bots-", suffix=".log")[1])
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        """Return the worker's command line."""
        return [
            sys.executable, "-m", "celery", "-A", "backend.celery_app", "worker", "-Q", "bots",
            "--concurrency", str(self.concurrency), "--loglevel", "WARNING",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
            "-n", f"bench-bots-{os.getpid()}@%h",
        ]  # fmt: skip

    def __enter__(self) -> Worker:
        cmd = self.command()
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 90
        while len(self.pids()) < self.concurrency + 1:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker not ready:\n{self.log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.3)
        return self

    def pids(self) -> list[int]:
        """Return the worker's processes: its main process and the pool (same process group)."""
        assert self.proc is not None
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                fields = _stat(int(entry.name))
                if fields is not None and int(fields[2]) == self.proc.pid:
                    found.append(int(entry.name))
        return found

    def cpu(self) -> tuple[float, float]:
        """Return the CPU seconds the worker has used so far: (main process, pool processes)."""
        assert self.proc is not None
        main = self.proc.pid
        pool = [pid for pid in self.pids() if pid != main]
        return cpu_seconds([main], with_children=True), cpu_seconds(pool)

    def __exit__(self, *_exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.log.unlink(missing_ok=True)


def postgres_pids() -> list[int]:
    """Return the pids of the Postgres backends connected to the current database (if /proc shows them)."""
    from sqlalchemy import text

    from backend.extensions import db

    pids = db.session.scalars(
        text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    ).all()
    return [int(p) for p in pids if _stat(int(p)) is not None]
