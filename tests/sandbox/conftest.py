"""Fixtures for the sandbox tests: sample bars and a helper that runs a snippet of user code."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from backend import sandbox
from backend.domain.bars import Bars
from backend.sandbox import runtime

# A strategy body that returns valid, empty signals (appended to hostile snippets).
VALID_TAIL = """
def signals(bars, params):
    import numpy as np
    z = np.zeros(len(bars.close), dtype=bool)
    return {"entries": z, "exits": z}
"""


def make_bars(n: int, seed: int = 7) -> Bars:
    """Return ``n`` one-minute random-walk bars."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    return Bars.from_arrays(
        np.arange(n, dtype=np.int64) * 60_000, close, close * 1.001, close * 0.999, close, np.ones(n)
    )


@pytest.fixture(scope="session")
def bars() -> Bars:
    """Five hundred sample bars."""
    return make_bars(500)


@pytest.fixture
def run(bars: Bars) -> Callable[..., object]:
    """Run user code's signals() on the sample bars with short limits."""

    def _run(code: str, params: dict[str, object] | None = None, **limits: float) -> object:
        merged = {"wall_seconds": 10.0, "cpu_seconds": 5, **limits}
        return sandbox.run_signals(code, bars, params or {}, limits=sandbox.Limits(**merged))  # type: ignore[arg-type]

    return _run


def _parent(pid: int) -> int:
    """Return the parent pid of ``pid`` (0 when it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("PPid:"))


def _is_sandbox(pid: int) -> bool:
    """Return True when ``pid`` is a sandbox process (prlimit/bwrap launcher or the runner)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"bwrap" in cmdline or b"/qyq/lib/runner.py" in cmdline


def leftover_processes() -> list[int]:
    """Return the pids of this test process's sandbox descendants that are still alive.

    The idle pre-started sandboxes (``runtime.prestarted_pids``: booted, never given a request)
    and their children are not leftovers.
    """
    me, idle, found = os.getpid(), set(runtime.prestarted_pids()), []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or not _is_sandbox(int(entry.name)):
            continue
        pid = parent = int(entry.name)
        if pid in idle:
            continue
        for _ in range(10):
            parent = _parent(parent)
            if parent in (0, 1) or parent in idle:
                break
            if parent == me:
                found.append(pid)
                break
    return found
