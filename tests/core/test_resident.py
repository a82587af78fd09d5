"""WORKER_RELEASE_LLVM_PAGES: once a worker process has loaded the engine's numba kernels, it drops
LLVM's clean resident pages (backend/core/resident.py); the kernels still run, with the same results.

The end-to-end cases run in a fresh interpreter: what a process maps is process state.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend.core import resident

ROOT = Path(__file__).resolve().parents[2]

_SMAPS = """\
7f0000000000-7f0000400000 r-xp 00000000 08:01 123 /venv/llvmlite/binding/libllvmlite.so
Rss:                1024 kB
Anonymous:             0 kB
7f0000400000-7f0000500000 r--p 00400000 08:01 123 /venv/llvmlite/binding/libllvmlite.so
Rss:                 512 kB
Anonymous:             8 kB
7f0000500000-7f0000600000 rw-p 00500000 08:01 123 /venv/llvmlite/binding/libllvmlite.so
Rss:                  64 kB
Anonymous:            64 kB
7f0000600000-7f0000700000 r--p 00600000 08:01 123 /venv/llvmlite/binding/libllvmlite.so
Rss:                   0 kB
Anonymous:             0 kB
7f0000700000-7f0000800000 r-xp 00000000 08:01 456 /usr/lib/libc.so.6
Rss:                 900 kB
Anonymous:             0 kB
7f0000800000-7f0000900000 rw-p 00000000 00:00 0
Rss:                 100 kB
Anonymous:           100 kB
"""

_PROBE = """
import json
import numpy as np
from backend.app import create_worker_app
from backend.celery_app import init_worker_process

def llvm_rss_kb():
    from backend.core.resident import parse_smaps
    text = open("/proc/self/smaps").read()
    return sum(m.rss_kb for m in parse_smaps(text) if "libllvmlite" in m.path)

create_worker_app()
from backend.domain.backtest import kernels
dropped = init_worker_process()
after = llvm_rss_kb()
close = np.cumsum(np.random.default_rng(7).normal(0, 1, 5000)) + 500
flags = np.zeros(close.size, dtype=np.bool_)
out = kernels.sma_cross_flags(close, 0, 10, 30, flags, flags.copy()) if kernels.active() else None
print(json.dumps({"dropped_kb": dropped, "llvm_rss_kb": after, "active": kernels.active(),
                  "flags": None if out is None else [int(flags.sum())]}))
"""


def _probe(**env: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE],
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def test_parse_smaps_keeps_only_mappings_whose_pages_are_the_files_content():
    maps = resident.parse_smaps(_SMAPS)
    assert [(m.perms, m.rss_kb, m.anonymous_kb) for m in maps] == [
        ("r-xp", 1024, 0),
        ("r--p", 512, 8),
        ("rw-p", 64, 64),
        ("r--p", 0, 0),
        ("r-xp", 900, 0),
        ("rw-p", 100, 100),
    ]
    # code: yes; relocated (copy-on-write) read-only data, writable data, nothing resident: no
    assert [m.droppable for m in maps] == [True, False, False, False, True, False]
    assert maps[-1].path == ""


def test_release_pages_advises_only_the_named_librarys_clean_mappings(tmp_path, monkeypatch):
    smaps = tmp_path / "smaps"
    smaps.write_text(_SMAPS)
    calls = []
    monkeypatch.setattr(resident, "_madvise", lambda: lambda *args: calls.append(args) or 0)
    assert resident.release_pages("libllvmlite", smaps) == 1024
    assert calls == [(0x7F0000000000, 0x400000, resident.MADV_DONTNEED)]
    calls.clear()
    assert resident.release_pages("libnothere", smaps) == 0
    assert calls == []


def test_release_pages_does_nothing_without_smaps_or_madvise_or_when_refused(tmp_path, monkeypatch, caplog):
    assert resident.release_pages("libllvmlite", tmp_path / "missing") == 0  # not Linux
    smaps = tmp_path / "smaps"
    smaps.write_text(_SMAPS)
    monkeypatch.setattr(resident, "_madvise", lambda: None)  # no madvise in the C library
    assert resident.release_pages("libllvmlite", smaps) == 0
    monkeypatch.setattr(resident, "_madvise", lambda: lambda *args: -1)  # refused (EINVAL, ...)
    assert resident.release_pages("libllvmlite", smaps) == 0
    assert "madvise" in caplog.text


def test_a_worker_process_drops_llvms_pages_and_its_kernels_still_run():
    pytest.importorskip("numba")
    if not Path("/proc/self/smaps").exists():
        pytest.skip("no /proc/self/smaps: nothing is dropped")
    released = _probe(ENGINE_JIT="true")
    assert released["active"] is True
    assert released["dropped_kb"] > 10 * 1024  # tens of MB of LLVM's code and read-only data
    kept = _probe(ENGINE_JIT="true", WORKER_RELEASE_LLVM_PAGES="0")
    assert kept["dropped_kb"] == 0
    assert released["llvm_rss_kb"] < kept["llvm_rss_kb"] - 10 * 1024
    assert released["flags"] == kept["flags"]  # same kernel, same output after the drop
    numpy_path = _probe(ENGINE_JIT="false")  # numba never imported: nothing to drop
    assert numpy_path["dropped_kb"] == 0
    assert numpy_path["active"] is False
