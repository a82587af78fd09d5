"""Benchmark the backtest engine and write the "engine" section of docs/performance.md.

For SMA crossover (10/30) and RSI (14, 30/70) at 10k, 100k and 1M one-minute bars it times the
whole pipeline: signals + engine run (trade record array included) + compute_metrics, and reports
bars/second (median and best of several repeats), on the compiled kernels (when numba is installed)
and on the numpy path. On the same data it times two references for the SMA crossover: a minimal
numpy one (cumsum SMAs, long-only next-open fills, equity, return and drawdown figures, no trade
list) and, when numba is installed, the same thing as one numba loop (the ceiling), and prints
the engine's figure as a ratio of each. backtesting.py runs the same SMA crossover in the same
process at the sizes where it finishes in reasonable time. Peak memory at 1M bars is measured with
tracemalloc (numpy reports its buffers to it) plus the process's max RSS.

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

from backend.domain.backtest import ENGINE_VERSION, engine, kernels, metrics, strategies  # noqa: E402
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


def numpy_reference(bars, fast: int = 10, slow: int = 30) -> tuple[int, float, float, float]:
    """Minimal numpy SMA crossover: long-only next-open fills with the fee, equity and a few figures.

    Returns (fills, final equity, Sharpe-like mean/std of returns, max drawdown). No trade list,
    no slippage, no shorts: a lower bound of what a whole-array implementation costs.
    """
    close, open_, fee = bars.close, bars.open, CONFIG.fee_bps / 1e4
    csum = np.concatenate(([0.0], np.cumsum(close)))
    fast_ma = (csum[slow:] - csum[slow - fast : -fast]) / fast
    slow_ma = (csum[slow:] - csum[:-slow]) / slow
    state = np.zeros(len(close), dtype=np.int8)
    state[slow - 1 :] = fast_ma > slow_ma
    held = np.concatenate(([0], state[:-1]))
    change = np.flatnonzero(np.diff(held, prepend=np.int8(0)))
    # Equity: close-to-close moves while held, and fill-price moves on the fill bars.
    ratio = np.ones(len(close))
    ratio[1:] = np.where(held[1:] == 1, close[1:] / close[:-1], 1.0)
    buys, sells = change[held[change] == 1], change[held[change] == 0]
    ratio[buys] = close[buys] / (open_[buys] * (1 + fee))
    ratio[sells] = open_[sells] / close[sells - 1] * (1 - fee)
    equity = CONFIG.initial_capital * np.cumprod(ratio)
    returns = ratio - 1.0
    drawdown = equity / np.maximum.accumulate(equity) - 1.0
    return len(change), float(equity[-1]), float(returns.mean() / returns.std()), float(drawdown.min())


def numba_reference():
    """Return the one-loop numba reference (same work as ``numpy_reference``), or None without numba."""
    if not kernels.AVAILABLE:
        return None
    import numba  # noqa: PLC0415 - optional, benchmark only

    @numba.njit(cache=False)
    def one_loop(close, open_, fast, slow, fee, capital):
        n = len(close)
        fast_sum = slow_sum = 0.0
        cash, qty, prev_equity, peak = capital, 0.0, capital, capital
        total = total_sq = 0.0
        worst = 0.0
        fills = 0
        want = False
        for t in range(n):
            if t > 0 and want != (qty > 0):  # the decision of bar t-1 fills at bar t's open
                fills += 1
                if want:
                    qty, cash = cash / (open_[t] * (1 + fee)), 0.0
                else:
                    cash, qty = qty * open_[t] * (1 - fee), 0.0
            fast_sum += close[t]
            slow_sum += close[t]
            if t >= fast:
                fast_sum -= close[t - fast]
            if t >= slow:
                slow_sum -= close[t - slow]
            if t >= slow - 1:
                want = fast_sum / fast > slow_sum / slow
            equity = cash + qty * close[t]
            r = equity / prev_equity - 1.0
            total += r
            total_sq += r * r
            prev_equity = equity
            peak = max(peak, equity)
            worst = min(worst, equity / peak - 1.0)
        mean = total / n
        return fills, prev_equity, mean / np.sqrt(total_sq / n - mean * mean), worst

    def run(bars):
        return one_loop(bars.close, bars.open, 10, 30, CONFIG.fee_bps / 1e4, CONFIG.initial_capital)

    return run


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


def paths() -> list[str]:
    """Return the engine paths to measure: the compiled kernels first when numba is installed."""
    return ["numba", "numpy"] if kernels.AVAILABLE else ["numpy"]


def measure(sizes: list[int], bt_sizes: set[int]) -> tuple[list[dict], dict]:
    """Run every case on every path and the references; return (rows, memory and warm-up figures)."""
    rows, memory = [], {}
    start = time.perf_counter()
    kernels.warm_up()  # compile or load the kernels once, outside the timings (reported)
    memory["warm_up_s"] = time.perf_counter() - start
    one_loop = numba_reference()
    for n in sizes:
        bars = compare_engines.synthetic_bars(n, seed=42)
        repeats = 15 if n <= 100_000 else 9
        for path in paths():
            kernels.use_jit(path == "numba")
            for kind in CASES:
                median, best, cpu = time_it(lambda bars=bars, kind=kind: pipeline(bars, kind), repeats)
                out = pipeline(bars, kind)
                rows.append(
                    {
                        "engine": f"QYQuant {ENGINE_VERSION} ({path})",
                        "path": path,
                        "strategy": kind,
                        "bars": n,
                        "median": median,
                        "best": best,
                        "cpu": cpu,
                        "trades": out["totalTrades"],
                    }
                )
        kernels.use_jit(True)
        references = [("numpy reference", numpy_reference)]
        if one_loop is not None:
            references.append(("numba one-loop reference", one_loop))
        for name, fn in references:
            median, best, cpu = time_it(lambda bars=bars, fn=fn: fn(bars), repeats)
            rows.append(
                {
                    "engine": name,
                    "path": "reference",
                    "strategy": "sma_cross",
                    "bars": n,
                    "median": median,
                    "best": best,
                    "cpu": cpu,
                    "trades": None,
                }
            )
        if n in bt_sizes:
            seconds = backtesting_py_seconds(bars)
            if seconds is not None:
                rows.append(
                    {
                        "engine": "backtesting.py 0.6.6",
                        "path": "backtesting.py",
                        "strategy": "sma_cross",
                        "bars": n,
                        "median": seconds[0],
                        "best": seconds[0],
                        "cpu": seconds[1],
                        "trades": None,
                    }
                )
        if n == max(sizes):
            memory.update(
                {
                    "bars": n,
                    "input_mb": sum(
                        getattr(bars, f).nbytes for f in ("time", "open", "high", "low", "close", "volume")
                    )
                    / 1e6,
                    **{kind: peak_memory_mb(bars, kind) for kind in CASES},
                }
            )
    memory["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return rows, memory


def _row(rows: list[dict], engine_prefix: str, n: int, strategy: str = "sma_cross") -> dict | None:
    """Return the row of ``engine_prefix`` (start of the engine label) for ``strategy`` at n bars."""
    for r in rows:
        if r["engine"].startswith(engine_prefix) and r["bars"] == n and r["strategy"] == strategy:
            return r
    return None


def summary(rows: list[dict], sizes: list[int]) -> list[str]:
    """Return the headline lines: the core figure against the targets and the references, as ratios."""
    core_path = paths()[0]
    core = f"QYQuant {ENGINE_VERSION} ({core_path})"
    big, small = max(sizes), min(sizes)
    lines = []
    top, low = _row(rows, core, big), _row(rows, core, small)
    if top is not None and low is not None:
        lines.append(
            f"**Core figure** (`{core_path}` path, SMA 10/30, signals + run + all metrics + trade list): "
            f"{big / top['best'] / 1e6:.1f} M bars/s at {big:,} bars (best wall; "
            f"{big / top['median'] / 1e6:.1f} M median; target >= 20 M), "
            f"{low['best'] * 1e3:.2f} ms for a {small:,}-bar run (median {low['median'] * 1e3:.2f} ms; "
            "target <= 1 ms)."
        )
    for n in sizes:
        ours = _row(rows, core, n)
        if ours is None:
            continue
        ratios = []
        for label in (
            "QYQuant " + ENGINE_VERSION + " (numpy)",
            "numpy reference",
            "numba one-loop reference",
        ):
            other = _row(rows, label, n)
            if other is not None and other is not ours:
                ratios.append(f"{label} {other['best'] / ours['best']:.2f}x")
        if ratios:
            lines.append(
                f"- {n:,} bars, their best wall time / the core's (above 1: the core is faster): "
                + "; ".join(ratios)
            )
    return lines


def render(rows: list[dict], memory: dict, sizes: list[int], bt_sizes: set[int]) -> str:
    """Return the markdown section."""
    lines = [
        "## Backtest engine (`scripts/bench_engine.py`)",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} "
        f"on {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, numpy {np.__version__}; 2 CPU cores shared with other work, "
        "so medians are noisy. Pipeline = signals + engine run (trade record array) + all metrics; "
        f"synthetic one-minute GBM bars; fee {CONFIG.fee_bps:g} bps, slippage {CONFIG.slippage_bps:g} bps.",
        "",
        "Wall times: median and best of the repeats; CPU = median process time (leaves out waiting "
        "for a core while other work runs). Paths: `numba` = the compiled kernels "
        "(`backend/domain/backtest/kernels.py`), `numpy` = the pure-numpy path (taken when numba is "
        "missing); both give identical trades. References (SMA crossover only, same bars): a minimal "
        "numpy implementation and one numba loop, both long-only with the fee, equity and a few curve "
        "figures but no trade list, no slippage and no metrics dict (what a bare implementation costs).",
        "",
        *summary(rows, sizes),
        "",
        f"Kernel warm-up in this process (`kernels.warm_up()`, compile or load from numba's cache): "
        f"{memory.get('warm_up_s', 0.0) * 1e3:,.0f} ms"
        + ("" if kernels.AVAILABLE else " (numba not installed: numpy path only)")
        + ".",
        "",
        "| engine | strategy | bars | wall median ms | wall best ms | CPU ms | bars/s (best wall) "
        "| bars/s (CPU) | bars/s (median wall) | trades |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['engine']} | {r['strategy']} | {r['bars']:,} "
            f"| {r['median'] * 1e3:,.1f} | {r['best'] * 1e3:,.1f} "
            f"| {r['cpu'] * 1e3:,.1f} | {r['bars'] / r['best']:,.0f} | {r['bars'] / r['cpu']:,.0f} "
            f"| {r['bars'] / r['median']:,.0f} | {r['trades'] if r['trades'] is not None else '-'} |"
        )
    skipped = [n for n in sizes if n not in bt_sizes]
    core_path = paths()[0]
    ours = {r["bars"]: r["cpu"] for r in rows if r["strategy"] == "sma_cross" and r["path"] == core_path}
    ratios = [
        f"{r['bars']:,} bars: {r['cpu'] / ours[r['bars']]:,.0f}x"
        for r in rows
        if r["path"] == "backtesting.py" and r["bars"] in ours
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
        f"Speed-up of this engine ({core_path} path) over backtesting.py (SMA crossover, CPU time): "
        + "; ".join(ratios)
        + ".",
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
