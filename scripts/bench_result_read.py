"""Time reading a backtest's result (the SUCCESS poll) in process, for one or more source trees in turn.

What runs: a scratch database per tree (``scripts.bench_api.scratch_stack``, migrated and seeded by
that tree, ``BACKTEST_MAX_BARS`` raised) and one long-lived process per tree (``child``
sub-command): ``create_app()``, a login as the seeded admin, then per size one SMA 10/30 BTCUSDT
1m mock-bar backtest of the seeded strategy run in process (``jobs.runtime.execute``, as
``scripts/bench_job_worker.py`` runs it). Then the
parent asks each tree in turn (the order flips every round) for a batch of requests through
Flask's test client: the job poll ``GET /api/backtests/job/{job_id}`` (the SUCCESS poll, the
client's last one) and ``GET /api/backtests/{id}`` (the detail). Reported per tree, endpoint and
size: the server's CPU time per request (``time.process_time``: the whole request in process,
the SQL round trips' waits excluded), the wall time, and the body size.

The trees' bodies are also compared: every tree's answer, with its ids, request id and times
left out, must be the same JSON values (the runs are equal: same bars, same strategy).

``--profile`` prints cProfile's top functions for the first tree's polls per size.

Usage: ``.venv/bin/python scripts/bench_result_read.py [--tree name=path ...] [--rounds 10] [--batch 20]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
MIN_MS = 60_000
SIZES = (100_000, 1_000_000)
VOLATILE = {
    "id",
    "jobId",
    "job_id",
    "backtestId",
    "backtest_id",
    "request_id",
    "createdAt",
    "startedAt",
    "finishedAt",
    "hash",
    # the seeded strategy's and owner's ids: each tree seeds its own scratch database
    "strategy_id",
    "strategyId",
    "strategy_version_id",
    "strategyVersionId",
    "owner_id",
    "ownerId",
}


def _strip(value: Any) -> Any:
    """Return ``value`` without the keys that differ between two equal runs (ids, times, hashes)."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def child(tree: str, profile: bool) -> None:
    """Run one job per size from source tree ``tree``, then serve ``poll|detail SIZE N`` requests."""
    sys.path.insert(0, tree)
    os.chdir(tree)
    from backend.app import create_app

    app = create_app()
    from sqlalchemy import select

    from backend.core import jobs
    from backend.extensions import db
    from backend.modules.backtests import service
    from backend.modules.strategies.models import Strategy

    jobs.runtime.send_task = lambda *_a, **_k: None  # the job runs here, not on a worker
    client = app.test_client()
    login = client.post("/api/auth/login", json={"username": "admin", "password": "admin123"})
    headers = {"Authorization": f"Bearer {login.get_json()['data']['access_token']}"}
    end_ms = (int(time.time() * 1000) // 86_400_000 - 1) * 86_400_000
    with app.app_context():
        strategy = db.session.scalars(
            select(Strategy).where(Strategy.name == "BTC trend: SMA 10/30").limit(1)
        ).one()
        owner, strategy_id = strategy.owner_id, strategy.id
        db.session.rollback()
    paths: dict[tuple[str, int], str] = {}
    for bars in SIZES:
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
        with app.app_context():
            if jobs.runtime.execute(submitted.job_id) != jobs.SUCCESS:
                raise RuntimeError(f"job {submitted.job_id} failed")
        paths["poll", bars] = f"/api/backtests/job/{submitted.job_id}"
        paths["detail", bars] = f"/api/backtests/{submitted.backtest_id}"
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
    print("ready", flush=True)
    for line in sys.stdin:
        words = line.split()
        if words == ["profile"]:
            print(json.dumps({"profile": _profile_text(profiler)}), flush=True)
            continue
        what, bars, n = words[0], int(words[1]), int(words[2])
        path = paths[what, bars]
        body = b""
        cpu, wall = [], []
        for _ in range(n):
            c0, t0 = time.process_time(), time.perf_counter()
            if profiler is not None and what == "poll":
                profiler.enable()
            response = client.get(path, headers=headers)
            body = response.get_data()
            if profiler is not None:
                profiler.disable()
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - t0)
            if response.status_code != 200:
                raise RuntimeError(f"{path}: {response.status_code} {body[:200]!r}")
        print(json.dumps({"cpu": cpu, "wall": wall, "size": len(body), "body": body.decode()}), flush=True)


def _profile_text(profiler: Any) -> str:
    if profiler is None:
        return ""
    import io
    import pstats

    buf = io.StringIO()
    stats = pstats.Stats(profiler, stream=buf)
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(50)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["child"]:
        child(argv[1], argv[2] == "profile")
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", default=[], help="name=path (repeatable); default new=.")
    parser.add_argument("--rounds", type=int, default=10, help="turns per tree, endpoint and size")
    parser.add_argument("--batch", type=int, default=10, help="requests per turn")
    parser.add_argument("--profile", action="store_true", help="cProfile the first tree's polls")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE.parents[1]))
    from scripts.bench_api import machine
    from scripts.trees import parse_trees, start_children

    trees = parse_trees(args.tree, HERE.parents[1])

    kinds = ("poll", "detail")
    got: dict[tuple[str, str, int], dict[str, list[float]]] = {}
    sizes: dict[tuple[str, str, int], int] = {}
    bodies: dict[tuple[str, str, int], Any] = {}
    with contextlib.ExitStack() as stacks:
        children = start_children(
            stacks, trees, HERE, "bench_rr", lambda i, _name: ["profile" if args.profile and i == 0 else "-"]
        )
        try:
            for bars in SIZES:
                for what in kinds:
                    for c in children:
                        c.ask(f"{what} {bars} 3")  # warm-up
                    for r in range(args.rounds):
                        for c in children if r % 2 == 0 else reversed(children):
                            out = c.ask(f"{what} {bars} {args.batch}")
                            key = (c.name, what, bars)
                            got.setdefault(key, {"cpu": [], "wall": []})
                            got[key]["cpu"] += out["cpu"]
                            got[key]["wall"] += out["wall"]
                            sizes[key] = out["size"]
                            bodies[key] = _strip(json.loads(out["body"]))
            if args.profile:
                print(children[0].ask("profile")["profile"])
        finally:
            for c in children:
                c.close()
    print(f"\n{machine()}; {args.rounds} turns of {args.batch} requests per tree, endpoint and size\n")
    print(
        f"{'endpoint':8} {'bars':>9} {'tree':>8} {'CPU p50 ms':>11} {'CPU min':>8} "
        f"{'wall p50':>9} {'bytes':>8}"
    )
    for bars in SIZES:
        for what in kinds:
            for name in trees:
                g = got[name, what, bars]
                print(
                    f"{what:8} {bars:>9,} {name:>8} {statistics.median(g['cpu']) * 1000:11.2f} "
                    f"{min(g['cpu']) * 1000:8.2f} {statistics.median(g['wall']) * 1000:9.2f} "
                    f"{sizes[name, what, bars]:8,}"
                )
            first = next(iter(trees))
            for name in trees:
                same = bodies[name, what, bars] == bodies[first, what, bars]
                print(f"  {name}: the same JSON values as {first}: {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
