"""Benchmark the code-strategy sandbox and write the "sandbox" section of docs/performance.md.

Measures, on this machine:
- start latency: one sandboxed ``signals()`` call on a 500-bar window (bwrap + interpreter +
  numpy import + the strategy + the answer), p50/p95 over many runs; this is also a bot tick's
  strategy evaluation;
- ``describe`` (reading PARAMS), p50;
- a 100k-bar SMA crossover backtest (signals + engine + metrics) with the Python template in the
  sandbox against the built-in ``sma_cross`` in process.

Run: ``.venv/bin/python scripts/bench_sandbox.py [--quick] [--no-write]``.
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
from backend.sandbox.templates import SMA_CROSS  # noqa: E402

PARAMS = {"fast": 10, "slow": 30}
CONFIG = BacktestConfig(initial_capital=100_000.0, fee_bps=5.0, slippage_bps=2.0)
PERIODS_PER_YEAR = 365 * 24 * 60


def make_bars(n: int) -> Bars:
    """Return ``n`` one-minute random-walk bars (seeded)."""
    rng = np.random.default_rng(42)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    return Bars.from_arrays(np.arange(n) * 60_000, close, close * 1.001, close * 0.999, close, np.ones(n))


def samples(fn: Callable[[], object], repeats: int) -> list[float]:
    """Return the wall seconds of ``repeats`` calls of ``fn`` after one warm-up call."""
    fn()
    out = []
    for _ in range(repeats):
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


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print (and by default write) the markdown section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    repeats = 10 if args.quick else 40

    window = make_bars(500)
    tick = samples(lambda: sandbox.run_signals(SMA_CROSS, window, PARAMS), repeats)
    describe = samples(lambda: sandbox.describe(SMA_CROSS), repeats // 2)
    big = make_bars(100_000)
    spec = strategies.get_strategy("sma_cross")
    builtin = samples(lambda: backtest(big, lambda: spec.signals(big, PARAMS)), repeats // 4)
    python = samples(lambda: backtest(big, lambda: sandbox.run_signals(SMA_CROSS, big, PARAMS)), repeats // 4)
    ratio = statistics.median(python) / statistics.median(builtin)

    rows = [
        ("start to first result: `run_signals`, 500-bar window (a bot tick's call)", tick, "< 100 / < 150"),
        ("`describe` (read PARAMS in the sandbox)", describe, ""),
        ("100k-bar SMA backtest, built-in `sma_cross` (signals + engine + metrics)", builtin, ""),
        ("100k-bar SMA backtest, Python template in the sandbox", python, "< 2x built-in"),
    ]
    table = "| measure | p50 | p95 | best | target |\n| --- | ---: | ---: | ---: | --- |\n"
    table += "\n".join(
        f"| {name} | {pct(xs, 0.5):.1f} | {pct(xs, 0.95):.1f} | {min(xs) * 1000:.1f} | {target} |"
        for name, xs, target in rows
    )
    markdown = f"""## Code-strategy sandbox (`scripts/bench_sandbox.py`)

Python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} cores (shared, load average
{os.getloadavg()[0]:.1f} at the end of the run), one fresh
bubblewrap sandbox per call (no pre-forked zygote), milliseconds. Wall times depend on how busy the
shared machine is (the load average during the run is given); best is the least disturbed call.

{table}

Python / built-in at 100k bars (compute only, no job overhead): **{ratio:.1f}x**. The built-in
pipeline needs only a few ms at 100k bars, so the fixed cost of a sandbox start dominates: bwrap's
namespaces about 6 ms, the interpreter about 20 ms, importing numpy about 30-40 ms; moving 100k
bars through the pipes is a few ms (4.8 MB in, 400 kB out). Against a backtest *job* (queueing,
loading bars, storing results) the start-up is one fixed cost per job; the measured ratio above is
the pessimistic compute-only figure. The next step if it matters: keep one pre-started sandbox
(booted, numpy imported, waiting on stdin) per worker process, still one request per sandbox.
"""
    print(markdown)
    if not args.no_write:
        perfdoc.update_section("sandbox", markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
