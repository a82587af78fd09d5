"""Benchmark the code-strategy sandbox and write the "sandbox" section of docs/performance.md.

Measures, on this machine:
- start to first result: one sandboxed ``signals()`` call on a 500-bar window, with a sandbox
  started for the call (cold: bwrap + interpreter + numpy import + the strategy + the answer) and
  with the pre-started one a worker keeps ready (the default), p50/p95 over many runs;
- ``describe`` (reading PARAMS), pre-started;
- a 100k-bar SMA crossover backtest (signals + engine + metrics) with the Python template in the
  sandbox against the built-in ``sma_cross`` in process;
- a bot tick (``bots.service.tick_bot``: load the 300-bar window, signals, walk, book, commit)
  of a Python SMA strategy against the built-in one, each tick with one new 1m bar, in process
  against a throw-away database on the test Postgres (``--no-db`` skips it).

Run: ``.venv/bin/python scripts/bench_sandbox.py [--quick] [--no-db] [--no-write]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import perfdoc  # noqa: E402

from backend import sandbox  # noqa: E402
from backend.domain.backtest import engine, metrics, strategies  # noqa: E402
from backend.domain.backtest.types import BacktestConfig  # noqa: E402
from backend.domain.bars import Bars  # noqa: E402
from backend.sandbox import runtime  # noqa: E402
from backend.sandbox.templates import SMA_CROSS  # noqa: E402

PARAMS = {"fast": 10, "slow": 30}
CONFIG = BacktestConfig(initial_capital=100_000.0, fee_bps=5.0, slippage_bps=2.0)
PERIODS_PER_YEAR = 365 * 24 * 60


def make_bars(n: int) -> Bars:
    """Return ``n`` one-minute random-walk bars (seeded)."""
    rng = np.random.default_rng(42)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    return Bars.from_arrays(np.arange(n) * 60_000, close, close * 1.001, close * 0.999, close, np.ones(n))


PAUSE_S = 0.5  # between timed calls: runs are spaced (a bot ticks once a minute), so the next
# run's pre-started sandbox has booted; back to back, a call would wait for that boot.


def samples(fn: Callable[[], object], repeats: int) -> list[float]:
    """Return the wall seconds of ``repeats`` calls of ``fn`` (PAUSE_S apart) after one warm-up call."""
    fn()
    out = []
    for _ in range(repeats):
        time.sleep(PAUSE_S)
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def pct(values: list[float], q: float) -> float:
    """Return the q-quantile of ``values`` in milliseconds."""
    return float(np.quantile(values, q)) * 1000


def backtest(bars: Bars, signals_fn: Callable[[], object]) -> None:
    """Signals, engine run and metrics: what a backtest job computes."""
    result = engine.run(bars, signals_fn(), CONFIG)  # type: ignore[arg-type]
    metrics.compute_metrics(result, bars, PERIODS_PER_YEAR)


MIN = 60_000


def db_samples(repeats: int) -> dict[str, list[float]]:
    """Return wall seconds of bot ticks (one new 1m bar each) and of 100k-bar backtest jobs (eager,
    submit to stored result), built-in and Python SMA: keys tick_b, tick_p, job_b, job_p."""
    from scripts import services as svc  # noqa: PLC0415 - only with a database

    services = svc.resolve(mode="test")
    db_url = svc.with_database(services.database_url, f"qyq_bench_sandbox_{os.getpid()}")
    svc.ensure_database(db_url)
    env = {
        "APP_ENV": "test",
        "DATABASE_URL": db_url,
        "REDIS_URL": services.redis_url,
        "REDIS_KEY_PREFIX": f"qyqbench:{os.getpid()}:",
        "LOG_LEVEL": "WARNING",
        "SECRET_KEY": "bench-secret-key-that-is-long-enough-0123456789",
        "JWT_SECRET_KEY": "bench-jwt-secret-that-is-long-enough-0123456789",
        "PASSWORD_HASH_PROFILE": "fast",
        "CELERY_ALWAYS_EAGER": "true",  # a backtest job runs inside its submit: submit to stored result
    }
    os.environ.update(env)
    from decimal import Decimal  # noqa: PLC0415

    from flask_migrate import upgrade  # noqa: PLC0415

    from backend.app import MIGRATIONS_DIR, create_app  # noqa: PLC0415
    from backend.config import load_config  # noqa: PLC0415
    from backend.core import jobs  # noqa: PLC0415
    from backend.extensions import db  # noqa: PLC0415
    from backend.modules.backtests import service as backtests  # noqa: PLC0415
    from backend.modules.bots import service as bots  # noqa: PLC0415
    from backend.modules.strategies import service as strategies_service  # noqa: PLC0415
    from backend.modules.users import service as users_service  # noqa: PLC0415

    app = create_app(load_config(env))
    try:
        with app.app_context():
            upgrade(directory=MIGRATIONS_DIR, revision="heads")
            user = users_service.ensure_user(username="bench", password="bench-password-1")
            start = (int(time.time() * 1000) // MIN) * MIN - 2 * repeats * MIN
            ids, strategy_ids = [], []
            for kind, code in (("sma_cross", None), ("python", SMA_CROSS)):
                strategy = strategies_service.create_strategy(
                    actor_id=user.id,
                    name=kind,
                    symbol="BTCUSDT",
                    kind=kind,
                    params=PARAMS,
                    interval="1m",
                    code=code,
                )
                strategy_ids.append(strategy.id)
                ids.append(
                    bots.create_bot(
                        actor_id=user.id,
                        name=kind,
                        strategy_id=strategy.id,
                        capital=Decimal(10000),
                        now=start,
                    ).id
                )
            out: dict[str, list[float]] = {k: [] for k in ("tick_b", "tick_p", "job_b", "job_p")}
            for i in range(1, repeats + 2):  # the first tick of each is a warm-up
                now = start + i * MIN
                for bot_id, times in zip(ids, (out["tick_b"], out["tick_p"]), strict=True):
                    time.sleep(PAUSE_S)
                    began = time.perf_counter()
                    outcome = bots.tick_bot(bot_id=bot_id, now=now)
                    db.session.commit()
                    if i > 1:  # the first tick may find no bar to process yet
                        assert outcome.status == "ran", outcome
                        times.append(time.perf_counter() - began)
            end = (start // MIN) * MIN
            for i in range(max(3, repeats // 8) + 1):  # the first job of each is a warm-up
                for strategy_id, times in zip(strategy_ids, (out["job_b"], out["job_p"]), strict=True):
                    time.sleep(PAUSE_S)
                    began = time.perf_counter()
                    submitted = backtests.submit_backtest(
                        actor_id=user.id, strategy_id=strategy_id, start=end - 100_000 * MIN, end=end
                    )
                    took = time.perf_counter() - began
                    job = jobs.get_job(job_id=submitted.job_id, owner_id=user.id)
                    assert job.status == jobs.SUCCESS, (job.status, job.error_reason, job.error)
                    if i:
                        times.append(took)
            db.session.remove()
            db.engine.dispose()
    finally:
        _drop(db_url)
    return out


def _drop(db_url: str) -> None:
    """Drop the benchmark's database."""
    import psycopg2  # noqa: PLC0415
    from sqlalchemy.engine import make_url  # noqa: PLC0415

    from scripts import services as svc  # noqa: PLC0415

    admin = psycopg2.connect(svc.with_database(db_url, "postgres").replace("+psycopg2", ""))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{make_url(db_url).database}" WITH (FORCE)')
    admin.close()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print (and by default write) the markdown section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--no-db", action="store_true", help="skip the bot tick (needs Postgres and Redis)")
    args = parser.parse_args(argv)
    repeats = 10 if args.quick else 40

    window = make_bars(500)
    runtime.set_prestart(False)
    cold = samples(lambda: sandbox.run_signals(SMA_CROSS, window, PARAMS), repeats)
    runtime.set_prestart(True)
    tick = samples(lambda: sandbox.run_signals(SMA_CROSS, window, PARAMS), repeats)
    describe = samples(lambda: sandbox.describe(SMA_CROSS), repeats // 2)
    big = make_bars(100_000)
    spec = strategies.get_strategy("sma_cross")
    builtin = samples(lambda: backtest(big, lambda: spec.signals(big, PARAMS)), repeats // 4)
    python = samples(lambda: backtest(big, lambda: sandbox.run_signals(SMA_CROSS, big, PARAMS)), repeats // 4)
    ratio = statistics.median(python) / statistics.median(builtin)

    rows = [
        ("`run_signals`, 500-bar window, sandbox started for the call (cold)", cold, ""),
        ("start to first result: `run_signals`, 500-bar window, pre-started sandbox", tick, "< 100"),
        ("`describe` (read PARAMS in the sandbox), pre-started", describe, ""),
        ("100k-bar SMA backtest, built-in `sma_cross` (signals + engine + metrics)", builtin, ""),
        ("100k-bar SMA backtest, Python template in the sandbox (pre-started)", python, ""),
    ]
    job_ratio = ""
    if not args.no_db:
        db = db_samples(repeats)
        rows += [
            ("100k-bar backtest job (submit to stored result, eager), built-in `sma_cross`", db["job_b"], ""),
            ("100k-bar backtest job, Python SMA template in the sandbox", db["job_p"], "< 2x built-in"),
            ("bot tick (`tick_bot`, one new 1m bar, 300-bar window), built-in `sma_cross`", db["tick_b"], ""),
            ("bot tick, Python SMA template in the sandbox (pre-started)", db["tick_p"], "< 150"),
        ]
        job_ratio = (
            f" as a whole backtest job (loading the bars and storing the result dominate): "
            f"**{statistics.median(db['job_p']) / statistics.median(db['job_b']):.2f}x**."
        )
    table = "| measure | p50 | p95 | best | target |\n| --- | ---: | ---: | ---: | --- |\n"
    table += "\n".join(
        f"| {name} | {pct(xs, 0.5):.1f} | {pct(xs, 0.95):.1f} | {min(xs) * 1000:.1f} | {target} |"
        for name, xs, target in rows
    )
    markdown = f"""## Code-strategy sandbox (`scripts/bench_sandbox.py`)

Python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} cores (shared, load average
{os.getloadavg()[0]:.1f} at the end of the run), milliseconds. Wall times depend on how busy the
shared machine is (the load average during the run is given); best is the least disturbed call.

{table}

Each process keeps one **pre-started** sandbox per set of limits (`backend/sandbox/runtime.py`):
booted, numpy and `qyq` imported, waiting for its one request on stdin. A run takes it, sends
the request, reads the answer and kills it, and the next run's sandbox is started at once, so
the fixed start-up (bwrap's namespaces about 6 ms, the interpreter about 20 ms, importing numpy
most of the rest: the cold row) is paid between runs instead of inside one. A sandbox still
serves exactly one run and sees nothing of earlier ones. Python / built-in at 100k bars, compute
only: **{ratio:.1f}x** (moving the bars through the pipes, 4.8 MB in and 400 kB out, and copying
them in the sandbox);{job_ratio} The job rows and the bot tick rows are whole jobs and ticks
in process (Postgres on loopback, mock market bars, commit included), built-in and Python side
by side. Timed calls are {PAUSE_S} s apart (as runs are in use: a bot ticks once a minute), so
the pre-started sandbox has booted; called back to back, a run waits for the rest of that boot
and costs up to the cold figure.
"""
    print(markdown)
    if not args.no_write:
        perfdoc.update_section("sandbox", markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
