"""Profile bot ticks in-process: where one tick's time goes (service.tick_bot, no Celery).

A scratch database, ``--bots`` bots made as in ``bench_bots`` (same strategies, symbols and
long-only/long-short mix), a catch-up tick each, then ``--bars`` rounds in which the clock moves one
1m bar and every bot ticks once (``service.tick_bot(now=...)``): the steady state of a 1-minute bot.
The rounds run ``--repeat`` times without the profiler (wall and CPU ms per tick of the least
CPU run: the machine is shared) and once more under cProfile
on new bars, timed by this process's CPU clock (so the waits on Postgres drop out and the profile
shows what the worker's CPU pays for); the top functions by cumulative and own time are printed,
with the orders the ticks booked.

Usage: ``.venv/bin/python -m scripts.bench_bots_profile [--bots 60] [--bars 10] [--repeat 3] [--top 30]``
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts.bench_api import scratch_stack  # noqa: E402
from scripts.bench_bots import BENCH_ENV, MIN, create_bots  # noqa: E402


def _orders() -> int:
    from sqlalchemy import func, select

    from backend.extensions import db
    from backend.modules.bots.models import Order

    return int(db.session.scalar(select(func.count()).select_from(Order)) or 0)


def tick_rounds(ids: list[str], start: int, bars: int) -> tuple[float, float, int]:
    """Tick every bot once per bar for ``bars`` bars from ``start``.

    Return (wall seconds, CPU seconds of this process, orders booked).
    """
    from backend.modules.bots import service

    before = _orders()
    t0, c0 = time.perf_counter(), time.process_time()
    for k in range(bars):
        now = start + k * MIN + 1000
        for bot_id in ids:
            outcome = service.tick_bot(bot_id=bot_id, now=now)
            if outcome.status != "ran":
                raise RuntimeError(f"tick {bot_id} at {now}: {outcome}")
    return time.perf_counter() - t0, time.process_time() - c0, _orders() - before


def main(argv: list[str] | None = None) -> int:
    """Print ms per tick and the profile of ``--bars`` rounds of ticks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bots", type=int, default=60)
    parser.add_argument("--bars", type=int, default=10)
    parser.add_argument("--behind", type=int, default=20)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3, help="unprofiled runs (the least CPU is shown)")
    args = parser.parse_args(argv)

    with scratch_stack("bench_bots_profile", BENCH_ENV, seed=False) as stack:
        os.environ.update(stack.env)
        from backend.app import create_app
        from backend.config import load_config
        from backend.core.db import now_ms
        from backend.domain.marketdata.intervals import floor_time
        from backend.extensions import db

        app = create_app(load_config(stack.env))
        with app.app_context():
            # Bars up to the present are complete; the clock starts far enough back for every round.
            rounds = args.repeat + 1
            start = floor_time(now_ms(), "1m") - (rounds * args.bars + 2) * MIN
            ids = create_bots(args.bots, now=start - MIN, behind=args.behind)
            tick_rounds(ids, start, 1)  # catch-up: walks `behind` bars
            n = args.bots * args.bars
            runs = [
                tick_rounds(ids, start + (1 + r * args.bars) * MIN, args.bars) for r in range(args.repeat)
            ]
            wall, cpu, booked = min(runs, key=lambda run: run[1])
            print(
                f"{n} ticks, {booked} orders booked: {wall * 1000 / n:.2f} ms/tick wall, "
                f"{cpu * 1000 / n:.2f} ms/tick CPU of this process (no profiler; least CPU of {args.repeat})"
            )
            profiler = cProfile.Profile(time.process_time)  # CPU time: waits on Postgres drop out
            profiler.enable()
            wall, cpu, booked = tick_rounds(ids, start + (1 + args.repeat * args.bars) * MIN, args.bars)
            profiler.disable()
            print(f"{n} ticks, {booked} orders booked: {wall * 1000 / n:.2f} ms/tick wall under the profiler")
            for key in ("cumulative", "tottime"):
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats(key).print_stats(args.top)
                print(out.getvalue())
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats("backend", args.top)
            print(out.getvalue())
            db.session.remove()
            db.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
