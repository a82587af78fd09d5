"""Time a backtest job's worker side in process, for one or more source trees, job by job in turn.

What runs: a scratch database per tree (``scripts.bench_api.scratch_stack``, migrated and seeded
by that tree, ``BACKTEST_MAX_BARS`` raised) and one long-lived process per tree (``child``
sub-command) that does what a Celery worker process does (``create_app()``,
``celery_app.init_worker_process()``: malloc's ``WORKER_MALLOC_*`` thresholds, the kernels loaded,
LLVM's pages dropped, as far as the tree has them) and then, on each request from this script,
submits the seeded SMA 10/30 BTCUSDT strategy's backtest on 1m mock bars
(``service.submit_backtest``, its broker send left out) and runs the job in process
(``jobs.runtime.execute``: claim -> finished, the Celery task's body). The per-step split is the
one ``scripts/bench_jobs.py`` installs (its ``instrument``, imported from each tree), so the
figures compare with the ``jobs`` section of docs/performance.md without the HTTP API and the
broker. The trees take turns job by job (the order flips every round), so a busy moment of the
shared machine hits each about equally; one unrecorded warm-up job per tree and size comes first.

Each tree is a checkout of the project (e.g. the branch's base in a detached worktree):
``--tree base=/work/wt-base --tree new=.``. Besides wall times the worker side's CPU time
(``time.process_time``: every thread of the process) is reported. ``--trace`` prints the SQL
statements and the timed steps (on the job's thread or another) of each tree's last job per size;
``--profile SIZE`` runs cProfile over that size's jobs in the first tree and prints the top functions.

One tree can run under other settings too: ``BENCH_ENV_<name>="KEY=value,..."`` adds settings to
that tree's process, e.g. ``BENCH_ENV_fixed="WORKER_MALLOC_MMAP_THRESHOLD=131072,
WORKER_MALLOC_TRIM_THRESHOLD=131072" ... --tree default=. --tree fixed=.``.

Usage: ``.venv/bin/python scripts/bench_job_worker.py [--tree name=path ...] [--runs 15]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
MIN_MS = 60_000
SIZES = (100_000, 1_000_000)
STEPS = (
    "claim",
    "row_read",
    "progress",
    "signals",
    "engine_run",
    "metrics",
    "metrics_in_store",
    "metrics_beside",
    "guardrails",
    "guardrails_wait",
    "trade_write",
    "sql_delete",
    "kline_rows",
    "equity_rows",
    "store",
    "record",
    "complete",
    "store_tx",
)


def _trace_sql(log: list[tuple[float, float, str, int]]) -> None:
    """Append (start, seconds, statement head, parameter bytes) of every statement to ``log``."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    def before(conn: Any, _cursor: Any, statement: str, params: Any, *_a: Any) -> None:
        conn.info.setdefault("trace_t0", []).append(time.perf_counter())

    def after(conn: Any, _cursor: Any, statement: str, params: Any, *_a: Any) -> None:
        t0 = conn.info["trace_t0"].pop()
        size = len(repr(params)) if params else 0
        log.append((t0, time.perf_counter() - t0, " ".join(statement.split())[:90], size))

    event.listen(Engine, "before_cursor_execute", before)
    event.listen(Engine, "after_cursor_execute", after)


def _tree_env(name: str) -> dict[str, str]:
    """Extra settings for one tree's child: ``BENCH_ENV_<name>="KEY=value,KEY=value"`` (e.g. to
    compare malloc's thresholds on one tree: ``--tree prod=. --tree alt=.``)."""
    spec = os.environ.get(f"BENCH_ENV_{name}", "")
    return dict(item.split("=", 1) for item in spec.split(",") if item)


def child(tree: str, profile: int, trace: bool) -> None:
    """Serve job requests (one size per stdin line) from source tree ``tree``; answer JSON lines."""
    sys.path.insert(0, tree)
    os.chdir(tree)
    from backend.app import create_app

    app = create_app()
    from backend import celery_app

    # What worker_process_init runs: malloc's thresholds, the kernels loaded (kernels.warm_up) and,
    # in a tree that has it, LLVM's clean resident pages dropped (WORKER_RELEASE_LLVM_PAGES). A tree
    # older than init_worker_process only loads the kernels (glibc's malloc, as its workers had).
    init = getattr(celery_app, "init_worker_process", None)
    if init is not None:
        init()
    else:
        from backend.domain.backtest import kernels

        kernels.warm_up()
    from sqlalchemy import select

    from backend.core import jobs
    from backend.extensions import db
    from backend.modules.backtests import service
    from backend.modules.strategies.models import Strategy
    from scripts import bench_jobs

    fd, timings = tempfile.mkstemp(prefix="qyq-bench-jw-", suffix=".jsonl")
    os.close(fd)
    bench_jobs.instrument(timings)
    jobs.runtime.send_task = lambda *_a, **_k: None  # the job runs here, not on a worker
    execute = jobs.runtime.execute  # the instrumented one
    log: list[tuple[float, float, str, int]] = []
    if trace:
        _trace_sql(log)
    end_ms = (int(time.time() * 1000) // 86_400_000 - 1) * 86_400_000
    with app.app_context():
        strategy = db.session.scalars(
            select(Strategy).where(Strategy.name == "BTC trend: SMA 10/30").limit(1)
        ).one()
        owner, strategy_id = strategy.owner_id, strategy.id
        db.session.rollback()
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
    print("ready", flush=True)
    for request in sys.stdin:
        if request.strip() == "profile":
            print(json.dumps({"profile": _profile_text(profiler)}), flush=True)
            continue
        bars = int(request)
        with app.app_context():
            submitted = service.submit_backtest(
                actor_id=owner,
                strategy_id=strategy_id,
                interval="1m",
                start=end_ms - bars * MIN_MS,
                end=end_ms,
                provider="mock",
                fee_bps=5,
                slippage_bps=2,
            )
        log.clear()
        with app.app_context():
            c0 = time.process_time()
            if profiler is not None and bars == profile:
                profiler.enable()
            status = execute(submitted.job_id)
            if profiler is not None:
                profiler.disable()
            cpu = time.process_time() - c0
        if status != jobs.SUCCESS:
            raise RuntimeError(f"job {submitted.job_id} ended {status}")
        line = json.loads(Path(timings).read_text().splitlines()[-1])
        spans = line.pop("spans", [])
        first = min([t for t, *_ in log] + [t0 for _, _, t0, _ in spans], default=0.0)
        events = [(t, f"{d * 1000:7.2f} ms {n:>9} B  {head}") for t, d, head, n in log]
        # The instrumented steps too, each on its thread (``main``: the job's; ``side``: another).
        events += [(t0, f"{(t1 - t0) * 1000:7.2f} ms {where:>11}  [{name}]") for name, where, t0, t1 in spans]
        line["cpu"] = cpu
        line["trace"] = [f"{(t - first) * 1000:8.2f} {text}" for t, text in sorted(events)]
        print(json.dumps(line), flush=True)
    Path(timings).unlink(missing_ok=True)


def _profile_text(profiler: Any) -> str:
    if profiler is None:
        return ""
    import io
    import pstats

    buf = io.StringIO()
    stats = pstats.Stats(profiler, stream=buf)
    stats.sort_stats("tottime").print_stats(40)
    stats.sort_stats("cumulative").print_stats(60)
    return buf.getvalue()


def _ms(line: dict[str, Any], name: str) -> float:
    return float(line.get("spent", {}).get(name, 0.0)) * 1000


def summarise(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Return p50 figures (ms) of one tree and size."""
    worker = [(r["end"] - r["start"]) * 1000 for r in rows]
    core = [_ms(r, "signals") + _ms(r, "engine_run") + _ms(r, "metrics") for r in rows]
    figures = {
        "worker": statistics.median(worker),
        "worker_min": min(worker),
        "cpu": statistics.median(r["cpu"] * 1000 for r in rows),
        "core": statistics.median(core),
        "ratio": statistics.median(w / c for w, c in zip(worker, core, strict=True)),
        "non_core": statistics.median(w - c for w, c in zip(worker, core, strict=True)),
    }
    for step in STEPS:
        figures[step] = statistics.median(_ms(r, step) for r in rows)
    from scripts import bench_jobs

    figures["store_rest"] = statistics.median(
        bench_jobs.store_rest_ms(lambda n, r=r: _ms(r, n)) for r in rows
    )
    figures["commit"] = statistics.median(
        _ms(r, "store_tx") - _ms(r, "store") - _ms(r, "complete") for r in rows
    )
    return figures


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["child"]:
        child(argv[1], int(argv[2]), argv[3] == "trace")
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", default=[], help="name=path (repeatable); default new=.")
    parser.add_argument("--runs", type=int, default=15, help="recorded jobs per tree and size")
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES))
    parser.add_argument("--profile", type=int, default=0, help="cProfile the jobs of this size (first tree)")
    parser.add_argument("--trace", action="store_true", help="print the SQL of each tree's last job per size")
    parser.add_argument("--dump", default="", help="write every recorded job's figures (JSON) to this file")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    sys.path.insert(0, str(HERE.parents[1]))
    from scripts.bench_api import machine
    from scripts.trees import parse_trees, start_children

    trees = parse_trees(args.tree, HERE.parents[1])

    rows: dict[str, dict[int, list[dict[str, Any]]]] = {name: {b: [] for b in sizes} for name in trees}
    with contextlib.ExitStack() as stacks:
        children = start_children(
            stacks,
            trees,
            HERE,
            "bench_jw",
            lambda i, _name: [str(args.profile if i == 0 else 0), "trace" if args.trace else "-"],
            _tree_env,
        )
        try:
            for bars in sizes:
                for c in children:
                    c.ask(str(bars))  # warm-up: mock bars, statement caches
                for r in range(args.runs):
                    for c in children if r % 2 == 0 else reversed(children):
                        rows[c.name][bars].append(c.ask(str(bars)))
                print(f"  {bars:,} bars done", flush=True)
            if args.profile:
                print(children[0].ask("profile")["profile"])
        finally:
            for c in children:
                c.close()
    if args.dump:
        Path(args.dump).write_text(json.dumps(rows))
    print(f"\n{machine()}; {args.runs} jobs per tree and size, taking turns (p50 ms)\n")
    keys = ["worker", "cpu", "core", "non_core", "ratio", *STEPS, "store_rest", "commit"]
    for bars in sizes:
        sums = {name: summarise(rows[name][bars]) for name in trees}
        print(f"{bars:,} bars" + "".join(f"{name:>10}" for name in trees))
        for key in keys:
            print(f"  {key:14}" + "".join(f"{sums[name][key]:10.2f}" for name in trees))
        if args.trace:
            for name in trees:
                print(f"{name}, {bars:,} bars: statements of the last job (start, duration, parameters)")
                print("\n".join(rows[name][bars][-1]["trace"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
