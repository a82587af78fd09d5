"""Benchmark the backtest engine and write the "engine" section of docs/performance.md.

For SMA crossover (10/30) and RSI (14, 30/70) at 10k, 100k and 1M one-minute bars it times the
whole pipeline: signals + engine run (trade record array included) + compute_metrics, and reports
bars/second (median and best of several repeats). backtesting.py runs the same SMA crossover in the
same process at the sizes where it finishes in reasonable time. Peak memory at 1M bars is measured
with tracemalloc (numpy reports its buffers to it) plus the process's max RSS.

Run: ``.venv/bin/python scripts/bench_engine.py [--quick] [--no-write]``.
"""

from __future__ import annotations

import argparse
import platform
import resource
import statistics
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import compare_engines  # noqa: E402
import perfdoc  # noqa: E402

from backend.domain.backtest import ENGINE_VERSION, engine, metrics, strategies  # noqa: E402
from backend.domain.backtest.types import BacktestConfig  # noqa: E402

CASES = {"sma_cross": {"fast": 10, "slow": 30}, "rsi": {"period": 14, "lower": 30.0, "upper": 70.0}}
CONFIG = BacktestConfig(initial_capital=100_000.0, fee_bps=5.0, slippage_bps=2.0)
PERIODS_PER_YEAR = 365 * 24 * 60  # one-minute crypto bars


def pipeline(bars, kind: str) -> dict:
    """Run signals, the engine and all metrics once; return the metrics."""
    spec = strategies.get_strategy(kind)
    signals = spec.signals(bars, strategies.validate_params(kind, CASES[kind]))
    result = engine.run(bars, signals, CONFIG)
    return metrics.compute_metrics(result, bars, PERIODS_PER_YEAR)


def time_it(fn, repeats: int) -> tuple[float, float, float]:
    """Return (median wall, best wall, median CPU) seconds of ``fn`` over ``repeats`` runs.

    CPU time (process_time) leaves out time spent waiting for a core, which matters on a machine
    shared with other work; best wall time is timeit's convention for the same reason.
    """
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), min(wall), statistics.median(cpu)


def backtesting_py_seconds(bars) -> tuple[float, float] | None:
    """Return (wall, CPU) seconds of backtesting.py's SMA crossover run, or None if not installed."""
    try:
        import backtesting  # noqa: F401
    except ImportError:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start, start_cpu = time.perf_counter(), time.process_time()
        compare_engines.run_backtesting_py(
            bars, 10, 30, CONFIG.fee_bps, False, CONFIG.initial_capital, fractional=True
        )
        return time.perf_counter() - start, time.process_time() - start_cpu


def peak_memory_mb(bars, kind: str) -> float:
    """Return the peak traced allocation (MB) of one pipeline run, excluding the input bars."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    pipeline(bars, kind)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 1e6


def measure(sizes: list[int], bt_sizes: set[int]) -> tuple[list[dict], dict]:
    """Run every case and return (rows, memory figures)."""
    rows, memory = [], {}
    for n in sizes:
        bars = compare_engines.synthetic_bars(n, seed=42)
        repeats = 15 if n <= 100_000 else 9
        for kind in CASES:
            median, best, cpu = time_it(lambda: pipeline(bars, kind), repeats)
            out = pipeline(bars, kind)
            rows.append(
                {
                    "engine": f"QYQuant {ENGINE_VERSION}",
                    "strategy": kind,
                    "bars": n,
                    "median": median,
                    "best": best,
                    "cpu": cpu,
                    "trades": out["totalTrades"],
                }
            )
        if n in bt_sizes:
            seconds = backtesting_py_seconds(bars)
            if seconds is not None:
                rows.append(
                    {
                        "engine": "backtesting.py 0.6.6",
                        "strategy": "sma_cross",
                        "bars": n,
                        "median": seconds[0],
                        "best": seconds[0],
                        "cpu": seconds[1],
                        "trades": None,
                    }
                )
        if n == max(sizes):
            memory = {
                "bars": n,
                "input_mb": sum(
                    getattr(bars, f).nbytes for f in ("time", "open", "high", "low", "close", "volume")
                )
                / 1e6,
                **{kind: peak_memory_mb(bars, kind) for kind in CASES},
            }
    memory["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return rows, memory


def render(rows: list[dict], memory: dict, sizes: list[int], bt_sizes: set[int]) -> str:
    """Return the markdown section."""
    lines = [
        "## Backtest engine (`scripts/bench_engine.py`)",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, numpy {np.__version__}; 2 CPU cores shared with other work, "
        "so medians are noisy. Pipeline = signals + engine run (trade record array) + all metrics; "
        f"synthetic one-minute GBM bars; fee {CONFIG.fee_bps:g} bps, slippage {CONFIG.slippage_bps:g} bps.",
        "",
        "Wall times: median and best of the repeats; CPU = median process time (leaves out waiting "
        "for a core while other work runs).",
        "",
        "| engine | strategy | bars | wall median ms | wall best ms | CPU ms | bars/s (best wall) "
        "| bars/s (CPU) | bars/s (median wall) | trades |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['engine']} | {r['strategy']} | {r['bars']:,} | {r['median'] * 1e3:,.1f} | {r['best'] * 1e3:,.1f} "
            f"| {r['cpu'] * 1e3:,.1f} | {r['bars'] / r['best']:,.0f} | {r['bars'] / r['cpu']:,.0f} "
            f"| {r['bars'] / r['median']:,.0f} | {r['trades'] if r['trades'] is not None else '-'} |"
        )
    skipped = [n for n in sizes if n not in bt_sizes]
    ours = {r["bars"]: r["cpu"] for r in rows if r["strategy"] == "sma_cross" and r["trades"] is not None}
    ratios = [
        f"{r['bars']:,} bars: {r['cpu'] / ours[r['bars']]:,.0f}x"
        for r in rows
        if r["trades"] is None and r["bars"] in ours
    ]
    lines += [
        "",
        "backtesting.py runs the same SMA crossover (its own pandas SMAs, `FractionalBacktest`, stats "
        "included), once per size"
        + (
            f"; it is skipped at {', '.join(f'{n:,}' for n in skipped)} bars "
            "because it is too slow for a short benchmark on shared cores."
            if skipped
            else "."
        ),
        "Speed-up of this engine over backtesting.py (SMA crossover, CPU time): " + "; ".join(ratios) + ".",
        "",
        f"Peak memory at {memory.get('bars', 0):,} bars (tracemalloc, one pipeline run, excluding the "
        f"{memory.get('input_mb', 0):.0f} MB of input bars): "
        + ", ".join(f"{k} {memory[k]:.0f} MB" for k in CASES if k in memory)
        + f"; process max RSS {memory['max_rss_mb']:.0f} MB (includes pandas/backtesting.py).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the markdown and write it to docs/performance.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k and 100k bars only")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    bt_sizes = {10_000, 100_000}
    rows, memory = measure(sizes, bt_sizes)
    markdown = render(rows, memory, sizes, bt_sizes)
    print(markdown)  # noqa: T201 - command-line report
    if not args.no_write:
        perfdoc.update_section("engine", markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
