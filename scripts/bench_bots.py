"""Benchmark bot ticks through a real Celery worker; write the `bots` section of docs/performance.md.

Setup (not timed): a throw-away database ``qyq_bench_bots_<pid>`` on the test Postgres, one user,
one SMA 10/30 strategy on 1m bars and N bots spread over the mock symbols, each with its cursor
placed so that its next tick has exactly one new 1m bar to process (the steady state of a
1-minute bot). Timed: ``enqueue_due_ticks`` puts N ``bots.tick`` tasks on the ``bots`` queue and a
worker subprocess (``--concurrency`` processes) consumes them; we wait until every bot's
``last_tick_ms`` is set. Reported: ticks per second (wall clock, enqueue to last commit), the
per-tick service time in the worker (tick start to commit, from the bot row) and the
enqueue-to-commit latency, against the 1,000 bots x 1/min requirement.

Usage: .venv/bin/python -m scripts.bench_bots [--bots 1000] [--concurrency 2] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts import services as svc  # noqa: E402
from scripts.perfdoc import update_section  # noqa: E402

SYMBOLS = ("BTCUSDT", "ETHUSDT", "XAUUSD", "EURUSD", "AAPL", "SPY")
MIN = 60_000


def _env(services, db_url: str) -> dict[str, str]:
    return {
        "APP_ENV": "test",
        "DATABASE_URL": db_url,
        "REDIS_URL": services.redis_url,
        "REDIS_KEY_PREFIX": f"qyqbench:{os.getpid()}:",
        "LOG_LEVEL": "WARNING",
        "SECRET_KEY": "bench-secret-key-that-is-long-enough-0123456789",
        "JWT_SECRET_KEY": "bench-jwt-secret-that-is-long-enough-0123456789",
        "PASSWORD_HASH_PROFILE": "fast",
    }


def _setup(app, n_bots: int) -> list[str]:
    """Create the user, strategy and bots; place every cursor one bar behind."""
    from flask_migrate import upgrade
    from sqlalchemy import update

    from backend.app import MIGRATIONS_DIR
    from backend.core.db import now_ms
    from backend.extensions import db
    from backend.modules.bots import service
    from backend.modules.bots.models import BotInstance
    from backend.modules.strategies import service as strategies_service
    from backend.modules.users import service as users_service

    with app.app_context():
        upgrade(directory=MIGRATIONS_DIR, revision="heads")
        user = users_service.ensure_user(username="bench", password="bench-password-1")
        strategy = strategies_service.create_strategy(
            actor_id=user.id,
            name="SMA 10/30",
            symbol="BTCUSDT",
            kind="sma_cross",
            params={"fast": 10, "slow": 30},
            interval="1m",
        )
        now = now_ms()
        ids = [
            service.create_bot(
                actor_id=user.id,
                name=f"bench-{i}",
                strategy_id=strategy.id,
                symbol=SYMBOLS[i % len(SYMBOLS)],
                interval="1m",
                capital=Decimal(10000),
                now=now,
            ).id
            for i in range(n_bots)
        ]
        behind = (now // MIN) * MIN - 3 * MIN  # the next complete bar is then the only new one
        db.session.execute(
            update(BotInstance).values(
                last_bar_ms=behind, flat_bar_ms=behind, next_tick_ms=0, tick_enqueued_ms=None
            )
        )
        db.session.commit()
        return ids


def _start_worker(env: dict[str, str], concurrency: int) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "backend.celery_app",
        "worker",
        "-Q",
        "bots",
        "--concurrency",
        str(concurrency),
        "--loglevel",
        "WARNING",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-n",
        f"bench-{os.getpid()}@%h",
    ]
    log = open(f"/tmp/bench_bots_worker_{os.getpid()}.log", "wb")  # noqa: SIM115 - open while the worker runs
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    time.sleep(6)  # let the pool boot (imports, app factory) before timing starts
    return proc


def _wait_all_ticked(app, n_bots: int, since_ms: int, timeout_s: float) -> float:
    from sqlalchemy import func, select

    from backend.extensions import db
    from backend.modules.bots.models import BotInstance

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with app.app_context():
            done = db.session.scalar(
                select(func.count()).select_from(BotInstance).where(BotInstance.last_tick_ms >= since_ms)
            )
            db.session.remove()
        if done >= n_bots:
            return time.perf_counter()
        time.sleep(0.05)
    raise RuntimeError(f"only {done}/{n_bots} bots ticked in {timeout_s}s")


def _latencies(app, since_ms: int) -> tuple[list[int], list[int], int, int]:
    from sqlalchemy import func, select

    from backend.extensions import db
    from backend.modules.bots.models import BotInstance, Order

    with app.app_context():
        rows = db.session.execute(
            select(BotInstance.last_tick_ms, BotInstance.updated_at, BotInstance.status)
        ).all()
        orders = db.session.scalar(select(func.count()).select_from(Order)) or 0
        db.session.remove()
    service = sorted(r.updated_at - r.last_tick_ms for r in rows)
    end_to_end = sorted(r.updated_at - since_ms for r in rows)
    errors = sum(1 for r in rows if r.status != "running")
    return service, end_to_end, errors, orders


def _pct(values: list[int], p: float) -> int:
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def _report(
    n: int, concurrency: int, seconds: float, service: list[int], e2e: list[int], errors: int, orders: int
) -> str:
    rate = n / seconds
    need = n / 60
    return "\n".join(
        [
            "## Bots (scripts/bench_bots.py)",
            "",
            f"{n:,} bots on 1m bars (6 mock symbols, SMA 10/30, 300-bar trailing window), each with one "
            f"new bar; one `bots.tick` per bot through Redis to a real Celery worker "
            f"(`--concurrency {concurrency}`) on this 2-core machine, Postgres on loopback.",
            "",
            "| measure | value |",
            "|---|---:|",
            f"| ticks | {n:,} ({errors} errors, {orders} orders booked) |",
            f"| wall time, enqueue to last commit | {seconds:.2f} s |",
            f"| throughput | {rate:,.1f} ticks/s |",
            f"| needed for {n:,} bots at 1 bar/min | {need:,.1f} ticks/s (headroom x{rate / need:,.1f}) |",
            f"| per-tick service time p50 / p95 / max | {_pct(service, 50)} / {_pct(service, 95)} / "
            f"{service[-1]} ms |",
            f"| enqueue to commit p50 / p95 / max | {_pct(e2e, 50)} / {_pct(e2e, 95)} / {e2e[-1]} ms |",
            "",
            "Service time is measured from the tick's start (`last_tick_ms`) to its row update "
            "(`updated_at`); enqueue-to-commit includes the queue wait, so its maximum is about the "
            "time one minute's batch takes to drain.",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and (unless --no-write) update docs/performance.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bots", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)

    services = svc.resolve(mode="test")
    db_url = svc.with_database(services.database_url, f"qyq_bench_bots_{os.getpid()}")
    svc.ensure_database(db_url)
    env = _env(services, db_url)
    os.environ.update(env)
    from backend.app import create_app
    from backend.config import load_config
    from backend.core.db import now_ms
    from backend.modules.bots import service

    app = create_app(load_config(env))
    worker = None
    try:
        _setup(app, args.bots)
        worker = _start_worker(env, args.concurrency)
        since = now_ms()
        start = time.perf_counter()
        with app.app_context():
            queued = service.enqueue_due_ticks(now=since)
        assert queued == args.bots, f"{queued} ticks enqueued for {args.bots} bots"
        end = _wait_all_ticked(app, args.bots, since, timeout_s=600)
        markdown = _report(args.bots, args.concurrency, end - start, *_latencies(app, since))
    finally:
        if worker is not None and worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=30)
        _drop(app, db_url)
    print(markdown)
    if not args.no_write:
        update_section("bots", markdown)
    return 0


def _drop(app, db_url: str) -> None:
    import psycopg2
    from sqlalchemy.engine import make_url

    with app.app_context():
        from backend.extensions import db

        db.session.remove()
        db.engine.dispose()
    admin = psycopg2.connect(svc.with_database(db_url, "postgres").replace("+psycopg2", ""))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{make_url(db_url).database}" WITH (FORCE)')
    admin.close()


if __name__ == "__main__":
    sys.exit(main())
