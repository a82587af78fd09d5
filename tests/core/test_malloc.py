"""WORKER_MALLOC_*: a worker process can fix glibc's mmap and trim thresholds, so freed large
arrays go back to the system instead of staying in the heap (backend/core/malloc.py). Off by
default: glibc's dynamic thresholds keep them for the job's next steps (faster, docs/engine.md).

Each case runs in a fresh interpreter: malloc's thresholds are process state.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend.core import malloc

ROOT = Path(__file__).resolve().parents[2]

_PROBE = """
import json
from pathlib import Path
import numpy as np
from backend.app import create_app
from backend.celery_app import init_worker_process, tune_malloc

def anon_mb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024

create_app()
applied = tune_malloc()
a = np.ones(8 << 17)  # 8 MB: mmap'd; freeing it raises glibc's dynamic threshold to 8 MB
del a
base = anon_mb()
b = np.ones(4 << 17)  # 4 MB: from the heap if the threshold rose, and kept there when freed
del b
init_worker_process()  # idempotent, and what worker_process_init runs
print(json.dumps({"applied": applied, "kept_mb": anon_mb() - base}))
"""


def _probe(**env: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE],
        env={**os.environ, "PYTHONPATH": str(ROOT), "ENGINE_JIT": "false", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def test_worker_fixes_the_thresholds_when_set_and_freed_arrays_leave_the_process():
    tuned = _probe(WORKER_MALLOC_MMAP_THRESHOLD="131072", WORKER_MALLOC_TRIM_THRESHOLD="131072")
    if not tuned["applied"]:
        pytest.skip("malloc is not glibc's: nothing to tune")
    assert tuned["applied"] == {"M_MMAP_THRESHOLD": 131_072, "M_TRIM_THRESHOLD": 131_072}
    assert tuned["kept_mb"] < 1
    # the default (0 = leave glibc alone): its dynamic threshold keeps the freed array for reuse
    default = _probe()
    assert default["applied"] == {}
    assert default["kept_mb"] > 3


def test_a_refused_value_is_skipped_and_zero_sets_nothing(monkeypatch, caplog):
    calls = []

    class RefusingLibc:
        def mallopt(self, param, value):
            calls.append((param.value, value.value))
            return 0  # what glibc returns for a value it refuses

    monkeypatch.setattr(malloc, "_libc", RefusingLibc)
    assert malloc.tune(mmap_threshold=1 << 20, trim_threshold=0) == {}
    assert calls == [(malloc.M_MMAP_THRESHOLD, 1 << 20)]  # 0: not asked for at all
    assert "refused" in caplog.text
    monkeypatch.setattr(malloc, "_libc", lambda: None)  # not glibc
    assert malloc.tune(mmap_threshold=1 << 20, trim_threshold=1 << 20) == {}
