"""ENGINE_JIT: which engine path a process takes, and that numba is loaded only when it is used.

Each case runs in a fresh interpreter: whether numba is imported is process state that the test
session itself (which compiles the kernels for the parity tests) has long since changed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend.domain.backtest import kernels

ROOT = Path(__file__).resolve().parents[2]

_PROBE = """
import json, sys
import numpy as np
from backend.app import create_app
from backend.domain.backtest import engine, guardrails, kernels, metrics
from backend.domain.backtest import strategies as st
from tests.helpers.bars import random_bars

app = create_app()
after_app = "numba" in sys.modules
kernels.warm_up()  # what a worker process runs at start (backend/celery_app.py)
bars = random_bars(5_000, seed=3)
result = engine.run(bars, st.get_strategy("sma_cross").signals(bars, {"fast": 5, "slow": 20}))
m = metrics.compute_metrics(result, bars, 525_600.0)
boot = guardrails.result_guardrails(result, 525_600.0).bootstrap
print(json.dumps({
    "after_app": after_app,
    "after_job": "numba" in sys.modules,
    "active": kernels.active(),
    "trades": int(len(result.trades)),
    "final": float(result.final_equity),
    "sharpe": m["sharpeRatio"],
    "p50": boot.total_return.p50 if boot else None,
}))
"""


def _probe(jit: str) -> dict[str, object]:
    env = {**os.environ, "ENGINE_JIT": jit, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_engine_jit_false_never_loads_numba_and_gives_the_same_result():
    off = _probe("false")
    assert off["after_app"] is False and off["after_job"] is False and off["active"] is False
    assert off["trades"] > 0
    if not kernels.AVAILABLE:
        pytest.skip("numba is not installed: there is no compiled path to compare")
    on = _probe("true")
    assert on["after_app"] is False  # lazy: creating the app does not load it either way
    assert on["after_job"] is True and on["active"] is True
    assert (on["trades"], on["final"], on["p50"]) == (off["trades"], off["final"], off["p50"])
    assert on["sharpe"] == pytest.approx(off["sharpe"], rel=1e-9)
