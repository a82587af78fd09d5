"""Benchmark the workflow engine and write the "workflows" section of docs/performance.md.

Figures: (1) validation + ordering of a 500-node graph (target < 5 ms), (2) one tick of a typical
10-node graph with its bars already loaded (target < 5 ms), (3) the vectorised backtest of the
SMA(10)/SMA(30) crossover workflow at 1M bars vs the built-in ``sma_cross`` (target >= 0.5x).
Run: ``.venv/bin/python scripts/bench_workflows.py [--bars 1000000]``.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.domain.backtest import engine  # noqa: E402
from backend.domain.backtest.strategies import get_strategy  # noqa: E402
from backend.domain.bars import Bars  # noqa: E402
from backend.domain.workflow import compile_graph, run_tick, validate, workflow_signals  # noqa: E402
from scripts.perfdoc import update_section  # noqa: E402


def _node(node_id: str, node_type: str, **data) -> dict:
    return {"id": node_id, "type": node_type, "position": {"x": 0, "y": 0}, "data": data}


def _edge(src: str, dst: str, handle: str | None = None, target: str | None = None) -> dict:
    return {
        "id": f"{src}-{dst}",
        "source": src,
        "target": dst,
        "sourceHandle": handle,
        "targetHandle": target,
    }


def big_graph(n_nodes: int = 500) -> dict:
    """Return a valid graph of ``n_nodes``: one trigger, then data -> logic -> action chains."""
    nodes, edges, i = (
        [_node("t", "trigger", mode="cron", cron="*/5 * * * *", timezone="Europe/Berlin")],
        [],
        0,
    )
    while len(nodes) + 3 <= n_nodes:
        d, lg, a = f"d{i}", f"l{i}", f"a{i}"
        nodes += [
            _node(d, "data", indicator="rsi", period=14, symbol="BTCUSDT"),
            _node(lg, "logic", op="<", value=30),
            _node(a, "action", action="buy"),
        ]
        edges += [_edge("t", d), _edge(d, lg), _edge(lg, a, "true")]
        i += 1
    while len(nodes) < n_nodes:
        nodes.append(_node(f"x{len(nodes)}", "data", indicator="price"))
        edges.append(_edge("t", nodes[-1]["id"]))
    return {"nodes": nodes, "edges": edges, "viewport": {"x": 0, "y": 0, "zoom": 1}}


def typical_graph() -> dict:
    """Return a 10-node graph: SMA cross with an RSI filter, buy and sell."""
    return {
        "nodes": [
            _node("t", "trigger", mode="cron", cron="0 * * * *", timezone="UTC"),
            _node("f", "data", indicator="sma", period=10),
            _node("s", "data", indicator="sma", period=30),
            _node("r", "data", indicator="rsi", period=14),
            _node("up", "logic", op="crosses_above"),
            _node("down", "logic", op="crosses_below"),
            _node("calm", "logic", op="<", value=70),
            _node("go", "logic", op="and"),
            _node("buy", "action", action="buy"),
            _node("sell", "action", action="sell"),
        ],
        "edges": [
            _edge("t", "f"),
            _edge("t", "s"),
            _edge("t", "r"),
            _edge("f", "up", target="a"),
            _edge("s", "up", target="b"),
            _edge("f", "down", target="a"),
            _edge("s", "down", target="b"),
            _edge("r", "calm"),
            _edge("up", "go", "true"),
            _edge("calm", "go", "true"),
            _edge("go", "buy", "true"),
            _edge("down", "sell", "true"),
        ],
    }


def sma_graph() -> dict:
    """Return the SMA(10)/SMA(30) crossover workflow (equivalent to built-in sma_cross)."""
    g = typical_graph()
    dropped = {"r", "calm", "go"}
    g["nodes"] = [n for n in g["nodes"] if n["id"] not in dropped]
    g["edges"] = [e for e in g["edges"] if e["source"] not in dropped and e["target"] not in dropped]
    g["edges"].append(_edge("up", "buy", "true"))
    return g


def walk(n: int, seed: int = 1) -> Bars:
    """Return ``n`` minute bars of a seeded random walk."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    return Bars.from_arrays(
        np.arange(n, dtype=np.int64) * 60_000,
        open_,
        np.maximum(open_, close),
        np.minimum(open_, close),
        close,
        np.ones(n),
    )


def best_ms(fn, repeat: int) -> float:
    """Return the best wall time of ``repeat`` calls, in ms."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000.0)
    return min(times)


def main() -> None:
    """Measure the three figures and write them to docs/performance.md."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--bars", type=int, default=1_000_000)
    n = parser.parse_args().bars
    big = big_graph()
    assert validate(big).valid, validate(big).problems[:3]
    validate_ms = best_ms(lambda: validate(big), 30)
    plan, window = compile_graph(typical_graph()), walk(300)
    tick_ms = best_ms(lambda: run_tick(plan, lambda *_a: window, symbol="BTCUSDT"), 50)
    bars, spec = walk(n), get_strategy("sma_cross")
    flow_plan = compile_graph(sma_graph())
    builtin_ms = best_ms(lambda: engine.run(bars, spec.signals(bars, {"fast": 10, "slow": 30})), 3)
    flow_ms = best_ms(lambda: engine.run(bars, workflow_signals(flow_plan, bars)), 3)
    ratio = builtin_ms / flow_ms
    rows = [
        ("Validate + order a 500-node graph", f"{validate_ms:.2f} ms", "< 5 ms"),
        ("One tick of a 10-node graph (bars loaded)", f"{tick_ms:.2f} ms", "< 5 ms"),
        (f"Workflow SMA(10/30) backtest, {n:,} bars", f"{n / flow_ms * 1000:,.0f} bars/s", ""),
        (f"Built-in sma_cross backtest, {n:,} bars", f"{n / builtin_ms * 1000:,.0f} bars/s", ""),
        ("Workflow / built-in throughput", f"{ratio:.2f}x", ">= 0.5x"),
    ]
    md = [
        "## Workflows",
        "",
        f"`scripts/bench_workflows.py` on Python {platform.python_version()}, "
        f"{platform.machine()}; best of several runs; shared 2-core machine.",
        "",
        "| Measure | Result | Target |",
        "|---|---|---|",
    ]
    md += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    update_section("workflows", "\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
