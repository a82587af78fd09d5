"""Benchmark the pure market-data code and write the `market` section of docs/performance.md.

Measures: MockProvider generating 1M 1m bars (cold, then a near-"now" request), 10 years of
daily bars (aggregated from minute paths), and the CSV parser on 100k rows. Best of 3 runs.
Usage: .venv/bin/python -m scripts.bench_market
"""

from __future__ import annotations

import time
import tracemalloc

from backend.domain.marketdata.csv import parse_ohlcv_csv
from backend.domain.marketdata.mock import MockProvider
from scripts.perfdoc import update_section

NOW = 1_763_164_800_000  # 2025-11-15T00:00:00Z
M, D = 60_000, 86_400_000


def _best(fn, runs: int = 3) -> tuple[float, int]:
    best, n = float("inf"), 0
    for _ in range(runs):
        start = time.perf_counter()
        n = len(fn())
        best = min(best, time.perf_counter() - start)
    return best, n


def _peak_mb(fn) -> float:
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 1e6


def _csv_text(rows: int) -> str:
    lines = ["time,open,high,low,close,volume"]
    for k in range(rows):
        t = 1_700_000_000 + 60 * k
        lines.append(f"{t},{100 + k % 7},{108 + k % 7},{95 + k % 7},{101 + k % 7},{k % 1000}")
    return "\n".join(lines)


def main() -> None:
    """Run the benchmarks and update docs/performance.md."""
    mock = MockProvider(seed=0, now_ms=lambda: NOW)
    million = lambda: mock.get_bars("BTCUSDT", "1m", NOW - 1_000_000 * M, NOW)  # noqa: E731
    recent = lambda: mock.get_bars("BTCUSDT", "1m", NOW - 500 * M, NOW)  # noqa: E731
    decade = lambda: mock.get_bars("XAUUSD", "1d", NOW - 3650 * D, NOW)  # noqa: E731
    text = _csv_text(100_000)
    rows = [
        ("MockProvider 1m bars, 1M bars", *_best(million), _peak_mb(million)),
        ("MockProvider 1m bars near now (500 bars)", *_best(recent), _peak_mb(recent)),
        ("MockProvider 1d bars since 2018 (aggregated from 1m)", *_best(decade), _peak_mb(decade)),
        (
            "parse_ohlcv_csv, 100k rows",
            *_best(lambda: parse_ohlcv_csv(text)),
            _peak_mb(lambda: parse_ohlcv_csv(text)),
        ),
    ]
    table = ["| case | bars | seconds | bars/second | peak MB |", "|---|---:|---:|---:|---:|"]
    for name, seconds, n, peak in rows:
        table.append(f"| {name} | {n:,} | {seconds:.3f} | {n / seconds:,.0f} | {peak:.0f} |")
    update_section(
        "market",
        "## Market data (scripts/bench_market.py)\n\n"
        "Best of 3 on the shared dev machine; pure numpy, no database.\n\n" + "\n".join(table),
    )
    print("\n".join(table))


if __name__ == "__main__":
    main()
