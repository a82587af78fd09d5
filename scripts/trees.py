"""Source trees taking turns in one run: the parent side that `bench_job_worker.py` and
`bench_result_read.py` share.

Each tree (``name=path``, e.g. a branch and its base in another worktree) gets one long-lived
process running the calling script's ``child`` sub-command from that tree (`Child`): it imports
the tree's code (its ``backend`` and, where the script asks for it, its own ``scripts``), builds
the tree's app on the scratch database and answers one JSON line per request line. The parent
asks the trees in turn, so the machine's noise falls on all of them alike.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def parse_trees(specs: list[str], default: Path) -> dict[str, str]:
    """Return {name: absolute path} of ``name=path`` specs (``new=<default>`` when there are none)."""
    trees = dict(spec.split("=", 1) for spec in specs) or {"new": str(default)}
    return {name: str(Path(path).resolve()) for name, path in trees.items()}


class Child:
    """One tree's long-lived process: ``python <script> child <path> <args...>``, run from the tree."""

    def __init__(self, name: str, script: Path, path: str, env: dict[str, str], args: list[str]) -> None:
        self.name = name
        cmd = [sys.executable, str(script), "child", path, *args]
        self.proc = subprocess.Popen(
            cmd, cwd=path, env={**os.environ, **env}, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        if self._line() != "ready":
            raise RuntimeError(f"{name}: the child did not start")

    def _line(self) -> str:
        out: IO[str] | None = self.proc.stdout
        assert out is not None
        line = out.readline()
        if not line:
            raise RuntimeError(f"{self.name}: the child exited ({self.proc.wait()})")
        return line.strip()

    def ask(self, request: str) -> dict[str, Any]:
        """Send one request line; return the child's JSON answer."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(request + "\n")
        self.proc.stdin.flush()
        return dict(json.loads(self._line()))

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)


def start_children(
    stacks: contextlib.ExitStack,
    trees: dict[str, str],
    script: Path,
    prefix: str,
    child_args: Callable[[int, str], list[str]],
    extra_env: Callable[[str], dict[str, str]] = lambda _name: {},
) -> list[Child]:
    """Start one ``Child`` per tree, each on a scratch database of its own (``prefix_<i>``) migrated
    and seeded by that tree, so trees whose schemas differ (a migration on a branch) compare too.

    The databases go when ``stacks`` closes; the caller closes the children before that.
    ``child_args(i, name)``: the child's arguments after its path; ``extra_env(name)``: settings
    added to that tree's environment.
    """
    from scripts.bench_api import scratch_stack

    children = []
    for i, (name, path) in enumerate(trees.items()):
        stack = stacks.enter_context(
            scratch_stack(f"{prefix}_{i}", {"BACKTEST_MAX_BARS": "2000000"}, seed=True, root=Path(path))
        )
        children.append(Child(name, script, path, {**stack.env, **extra_env(name)}, child_args(i, name)))
    return children
