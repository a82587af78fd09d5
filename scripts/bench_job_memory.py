"""Measure the memory of a backtest job: a worker process's baseline and each step's peak.

One fresh process per size (``child`` sub-command) does what a Celery worker process does before
and during a backtest job, in order, and reads its resident set size (``VmRSS``) and peak
(``VmHWM``) from /proc after each stage: Python + numpy; the worker's Flask app (every module
imported, no routes served: ``create_worker_app()``, what ``celery -A backend.celery_app`` builds);
what ``worker_process_init`` runs (``celery_app.init_worker_process``: malloc's thresholds, the
engine's numba kernels loaded, then LLVM's clean resident pages dropped, ``WORKER_RELEASE_LLVM_PAGES``;
no kernels with ``ENGINE_JIT=false``, which is measured too); then
one backtest job run in process (``service.run_backtest_sync``: load bars, signals, engine,
metrics, store the result, commit) on mock bars against a scratch database. Before each job step
the peak is reset (``/proc/self/clear_refs`` = 5) so the step's own peak above the RSS it started
from is measured; the job's peak is the highest ``VmHWM`` read before any of those resets and at
the end, so a peak between two steps counts too.
``tracemalloc`` is not used (it slows numpy allocations and does not see the libraries' own memory).

Usage: ``.venv/bin/python -m scripts.bench_job_memory [--sizes 1000000,10000000] [--no-write]``
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MIN_MS = 60_000


def _status() -> dict[str, float]:
    """Return VmRSS and VmHWM of this process in MB."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            out[key] = int(value.split()[0]) / 1024
    return out


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False when not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def child(bars: int) -> dict[str, Any]:
    """Run the stages in this process and return the figures (MB)."""
    stages: list[tuple[str, float, float, float, float]] = []

    def mark(name: str) -> None:
        s = _status()
        stages.append((name, s["VmRSS"], s["VmHWM"], s["RssAnon"], s["RssFile"]))

    import numpy  # noqa: F401

    mark("python + numpy")
    from backend.app import create_worker_app

    app = create_worker_app()
    mark("the worker's Flask app (every module imported, no routes)")
    numba_loaded = "numba" in sys.modules
    from backend.celery_app import init_worker_process

    init_worker_process()  # malloc's thresholds; the kernels (nothing with ENGINE_JIT=false)
    mark(
        "worker process init (malloc thresholds; engine kernels loaded, LLVM's pages dropped;"
        " nothing with ENGINE_JIT=false)"
    )

    from sqlalchemy import select

    from backend.domain.backtest import engine
    from backend.extensions import db
    from backend.modules.backtests import results, service
    from backend.modules.strategies import service as strategies_service
    from backend.modules.strategies.models import Strategy

    steps: dict[str, tuple[float, float]] = {}  # name -> (rss before, peak above it)
    highest = [0.0]  # the job's peak: VmHWM read before each reset (a reset forgets it)

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            status = _status()
            before = status["VmRSS"]
            highest[0] = max(highest[0], status["VmHWM"])
            _reset_peak()
            try:
                return fn(*args, **kwargs)
            finally:
                steps[name] = (before, _status()["VmHWM"] - before)

        return wrapper

    results.load_bars = timed("load bars (mock)", results.load_bars)
    strategies_service.compute_signals = timed("signals", strategies_service.compute_signals)
    engine.run = timed("engine run", engine.run)
    results.compute_metrics = timed("metrics", results.compute_metrics)
    results.result_guardrails = timed("guardrails", results.result_guardrails)
    results.store = timed("store the result (trades, kline, curve, fingerprint)", results.store)

    end_ms = (int(time.time() * 1000) // 86_400_000 - 1) * 86_400_000
    with app.app_context():
        strategy = db.session.scalars(
            select(Strategy).where(Strategy.name == "BTC trend: SMA 10/30").limit(1)
        ).one()
        owner, strategy_id = strategy.owner_id, strategy.id
        db.session.rollback()
        before_job = _status()["VmRSS"]
        _reset_peak()
        t0 = time.perf_counter()
        backtest_id = service.run_backtest_sync(
            actor_id=owner,
            strategy_id=strategy_id,
            interval="1m",
            start=end_ms - bars * MIN_MS,
            end=end_ms,
            provider="mock",
            fee_bps=5,
            slippage_bps=2,
        )
        wall = time.perf_counter() - t0
        job_peak = max(highest[0], _status()["VmHWM"])
        mark("after the job")
        trades = service.trade_store.count(backtest_id) if hasattr(service, "trade_store") else None
    return {
        "bars": bars,
        "numba_loaded_by_app": numba_loaded,
        "numba_loaded_by_job": "numba" in sys.modules,
        "stages": stages,
        "steps": steps,
        "before_job": before_job,
        "job_peak": job_peak,
        "job_wall_s": wall,
        "round_trips": trades,
    }


MODES = ("true", "false")  # ENGINE_JIT: the numba kernels (default), the pure-numpy path


def run_child(env: dict[str, str], bars: int) -> dict[str, Any]:
    """Run ``child`` in a fresh interpreter and return its figures."""
    out = subprocess.run(
        [sys.executable, "-m", "scripts.bench_job_memory", "child", str(bars)],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"child failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def report(when: str, by_mode: dict[str, dict[int, list[dict[str, Any]]]]) -> str:
    """Return the markdown of the `job-memory` section."""
    from scripts.bench_api import machine

    runs = by_mode[MODES[0]]
    first = next(iter(runs.values()))[0]
    lines = [
        "## Memory of a backtest job (`scripts/bench_job_memory.py`)",
        "",
        f"Measured {when} on {machine()}. One fresh process per run does what a Celery worker process "
        "does (create the worker's app, its process init: malloc's thresholds, the engine's kernels, "
        "LLVM's clean resident pages dropped) "
        "and then runs one SMA 10/30 backtest job on "
        "1m mock bars in process (`run_backtest_sync`: load bars, signals, engine, metrics, store, "
        "commit) against a scratch database. RSS from /proc (`VmRSS`, peak `VmHWM`, reset before each "
        "step; the job's peak is the highest `VmHWM` read before any reset and at the end, so a peak "
        f"between two steps counts); MB; median of {len(next(iter(runs.values())))} processes "
        "per size and `ENGINE_JIT` setting (`true`, the default: the numba kernels; `false`: the "
        "pure-numpy path, numba never imported). Target (issue 11): peak RSS of a 1M-bar job < 300 MB.",
        "",
        "| `ENGINE_JIT` | stage (before the job) | RSS MB | of which anonymous "
        "| of which file-backed (shared libraries) |",
        "|---|---|---:|---:|---:|",
    ]
    for mode, runs in by_mode.items():
        for i, (name, *_) in enumerate(first["stages"][:-1]):
            cells = (_median([r["stages"][i][k] for r in runs[min(runs)]]) for k in (1, 3, 4))
            lines.append(f"| {mode} | {name} | " + " | ".join(f"{v:.0f}" for v in cells) + " |")
    lines += [
        "",
        "| `ENGINE_JIT` | bars | round trips | job wall s | RSS before the job | **peak RSS of the job** | "
        + " | ".join(f"{name}: peak above its start" for name in first["steps"])
        + " |",
        "|---|" + "---:|" * (5 + len(first["steps"])),
    ]
    for mode, runs in by_mode.items():
        lines += _job_rows(mode, runs, list(first["steps"]))
    return "\n".join(lines)


def _job_rows(mode: str, runs: dict[int, list[dict[str, Any]]], steps: list[str]) -> list[str]:
    lines = []
    for bars, rs in sorted(runs.items()):
        cells = [
            mode,
            f"{bars:,}",
            f"{rs[0]['round_trips']:,}" if rs[0]["round_trips"] is not None else "-",
            f"{_median([r['job_wall_s'] for r in rs]):.2f}",
            f"{_median([r['before_job'] for r in rs]):.0f}",
            f"**{_median([r['job_peak'] for r in rs]):.0f}** ({_spread([r['job_peak'] for r in rs])})",
            *(f"{_median([r['steps'][name][1] for r in rs]):.0f}" for name in steps),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _median(values: list[float]) -> float:
    values = sorted(values)
    n = len(values)
    return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2


def _spread(values: list[float]) -> str:
    return f"{min(values):.0f}-{max(values):.0f}" if len(values) > 1 else "1 run"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["child"]:
        print(json.dumps(child(int(argv[1]))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    from scripts.bench_api import scratch_stack
    from scripts.perfdoc import update_section

    sizes = [int(x) for x in args.sizes.split(",")]
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    by_mode: dict[str, dict[int, list[dict[str, Any]]]] = {mode: {} for mode in MODES}
    with scratch_stack("bench_mem", {"BACKTEST_MAX_BARS": str(max(sizes))}, seed=True) as stack:
        for _ in range(args.repeats):
            for mode in MODES:
                for bars in sizes:
                    r = run_child({**stack.env, "ENGINE_JIT": mode}, bars)
                    print(
                        f"  ENGINE_JIT={mode} {bars:,} bars: job peak RSS {r['job_peak']:.0f} MB", flush=True
                    )
                    by_mode[mode].setdefault(bars, []).append(r)
    text = report(when, by_mode)
    print()
    print(text)
    print(json.dumps(by_mode)[:4000])
    if not args.no_write:
        print(f"\nwrote {update_section('job-memory', text)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
