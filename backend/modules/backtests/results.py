"""A backtest's result: load its bars, compute signals, run the engine, and write the result rows.

`service.run_backtest` (the job's work) calls these in order: ``load_bars`` -> ``compute`` ->
(``with_walk_forward`` when the run asked for one) -> ``store``; the optional ``progress``
callback receives 30 (signals), 55 (engine), 80 (metrics and guardrails), then 80-94 (walk-forward).
From ``BESIDE_MIN_BARS`` bars on, the guardrails run on a thread (``core.threads.beside``) from
the engine's result until the store needs them, and the chart's UPDATE and the trades' COPY on
another (``trade_store.begin_write``) while the store computes the metrics (deferred until then:
``compute``).
Storing a run again (a requeue after a lost worker) replaces its trades (one columnar value,
trade_store.py), so it is written once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import partial
from typing import Any

import numpy as np
import orjson
from flask import current_app
from sqlalchemy.orm.attributes import set_committed_value

from backend.core.db import now_ms
from backend.core.errors import AppError
from backend.core.jobs import JobFailed
from backend.core.threads import Once, beside, inline
from backend.domain.backtest import engine, kernels
from backend.domain.backtest.guardrails import Guardrails, result_guardrails
from backend.domain.backtest.metrics import compute_metrics, return_sums
from backend.domain.backtest.types import BacktestConfig, BacktestResult, Signals
from backend.domain.bars import Bars
from backend.domain.marketdata.intervals import interval_ms
from backend.modules.backtests import fingerprint, trade_store, walk_forward
from backend.modules.backtests.models import Backtest
from backend.modules.market import service as market_service
from backend.modules.strategies import service as strategies_service

logger = logging.getLogger(__name__)

YEAR_MS = 365.25 * 86_400_000
# From this many bars on, the guardrails and the result's writer (chart UPDATE, trades' COPY) run
# on threads beside the rest of the job (``compute``, ``store``). Below it they run inline:
# at 100k bars a thread saved no time and cost ~4 ms of CPU (the threads contend for the cores;
# scripts/bench_job_worker.py), while at 1M bars the job's worker side took ~17 % less time for
# the same CPU.
BESIDE_MIN_BARS = 500_000


@dataclass(frozen=True)
class Computed:
    """The inputs and outputs of one engine run.

    The guardrails of a long run are computed on a thread of their own (``compute``):
    ``guardrails_wait`` waits for them, and ``guardrails`` is that wait's result, so whoever needs
    them first waits (the store, as late as it can), and work in between runs beside them. Its
    metrics are computed when first read (``metrics_wait``; the store reads them with its writer
    in flight); a short run's are computed at once.
    """

    bars: Bars
    signals: Signals
    config: BacktestConfig
    result: BacktestResult
    metrics_wait: Callable[[], dict[str, Any]]
    guardrails_wait: Callable[[], Guardrails]
    walk_forward: dict[str, Any] | None = None  # the stored walk-forward object, when asked for

    @property
    def metrics(self) -> dict[str, Any]:
        """Return the metrics (computing them on the first read of a long run's)."""
        return self.metrics_wait()

    @property
    def guardrails(self) -> Guardrails:
        """Return the guardrails (waiting for a long run's thread the first time)."""
        return self.guardrails_wait()


def periods_per_year(interval: str) -> float:
    """Return bars per calendar year for ``interval`` (markets are treated as trading 24/7)."""
    return YEAR_MS / interval_ms(interval)


def config_of(row: Backtest) -> BacktestConfig:
    """Return the engine configuration recorded on a backtest row."""
    return BacktestConfig(
        initial_capital=float(row.initial_capital),
        fee_bps=float(row.fee_bps),
        slippage_bps=float(row.slippage_bps),
        allow_short=bool(row.allow_short),
    )


def load_bars(row: Backtest) -> Bars:
    """Return the bars of the row's symbol, interval and range; fail the job when there are none."""
    try:
        bars = market_service.load_bars(
            symbol=row.symbol,
            interval=row.interval,
            start_ms=row.start_ms,
            end_ms=row.end_ms,
            provider=row.provider,
        )
    except (LookupError, AppError) as exc:
        raise JobFailed(f"No market data for {row.symbol} {row.interval}: {exc}", reason="no_data") from exc
    if len(bars) < 2:
        raise JobFailed(
            f"No market data for {row.symbol} {row.interval} in the requested range.", reason="no_data"
        )
    return bars


def _no_progress(pct: float) -> None:
    """Ignore progress (runs outside a job)."""


def compute(
    row: Backtest,
    bars: Bars,
    *,
    progress: Callable[[float], None] = _no_progress,
    config: BacktestConfig | None = None,
) -> Computed:
    """Run the row's strategy version on ``bars`` and compute every metric.

    A long run (``BESIDE_MIN_BARS``) returns once the engine has run: its guardrails are computed
    on a thread and its metrics when first read (``Computed.guardrails`` / ``metrics``), so the
    caller's store starts writing the chart and the trades first and computes them while that is
    in flight.
    """
    progress(30)
    signals = strategies_service.compute_signals(
        kind=row.kind, params=row.params, bars=bars, version_id=row.strategy_version_id, actor_id=row.owner_id
    )
    progress(55)
    config = config or config_of(row)
    result = engine.run(bars, signals, config)
    ppy = periods_per_year(row.interval)
    # The curve's return sums serve the metrics and the guardrails (the PSR): computed once. A
    # long run's guardrails start on their thread (the bootstrap and the moments' sums are nogil
    # kernel calls: the thread seldom needs the GIL, beside what follows); its metrics are
    # computed when first read, on the job's thread while the result's chart and trades are
    # being written (``store``); the sums by whichever of the two needs them first.
    if len(bars) >= BESIDE_MIN_BARS:
        shared = Once(return_sums, result)  # None to the other taker after a failure: it computes its own
        guardrails = beside(partial(result_guardrails, sums=shared.get), result, ppy)
        progress(80)
        metrics = _when_read(lambda: compute_metrics(result, bars, ppy, sums=shared.get()))
    else:
        sums = return_sums(result)
        guardrails = inline(partial(result_guardrails, sums=sums), result, ppy)
        progress(80)
        metrics = inline(partial(compute_metrics, sums=sums), result, bars, ppy)
    return Computed(
        bars=bars,
        signals=signals,
        config=config,
        result=result,
        metrics_wait=metrics,
        guardrails_wait=guardrails,
    )


def _when_read(fn: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    """Return a wait that computes ``fn()`` on its first call, on the caller's thread, and keeps it
    (an error is raised again on the next call: nothing kept)."""
    kept: list[dict[str, Any]] = []

    def wait() -> dict[str, Any]:
        if not kept:
            kept.append(fn())
        return kept[0]

    return wait


def with_walk_forward(
    row: Backtest,
    done: Computed,
    request: dict[str, Any],
    *,
    progress: Callable[[float], None] = _no_progress,
) -> Computed:
    """Add the planned walk-forward analysis (``walk_forward.plan``) and its in/out gap to ``done``."""
    analysis = walk_forward.run(
        kind=row.kind,
        bars=done.bars,
        config=done.config,
        periods_per_year=periods_per_year(row.interval),
        request=request,
        progress=lambda f: progress(80 + 14 * f),
    )
    limit = int(current_app.config["BACKTEST_CURVE_MAX"])
    stored = walk_forward.to_json(analysis, request, done.bars, lambda t, e: equity_rows(t, e, limit))
    guardrails = replace(done.guardrails, in_out=analysis.degradation)
    return replace(done, guardrails_wait=lambda: guardrails, walk_forward=stored)


def _dec(value: float) -> Decimal:
    """Convert an engine float to Decimal once, at the boundary (shortest repr, no binary noise)."""
    return Decimal(repr(float(value)))


def fill_marks(n: int, trades: np.ndarray) -> np.ndarray:
    """Return per-bar marks: +1 buy fill, -1 sell fill, 0 none (the opening fill wins a tie)."""
    marks = np.zeros(n, dtype=np.int8)
    side = trades["side"].astype(np.int8)
    marks[trades["exit_index"]] = -side
    marks[trades["entry_index"]] = side
    return marks


def fill_points(trades: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the bars ``fill_marks`` marks (ascending) and their marks, without an n-long array.

    Exits first, entries after them (a stable sort keeps that order among equal bars), and the
    last of each bar's marks kept: the opening fill wins a tie, as ``fill_marks`` writes it last.
    """
    side = trades["side"].astype(np.int8)
    bars = np.concatenate((trades["exit_index"], trades["entry_index"])).astype(np.int64, copy=False)
    marks = np.concatenate((-side, side))
    order = np.argsort(bars, kind="stable")  # two sorted runs in practice: one merge
    bars, marks = bars[order], marks[order]
    last = np.ones(len(bars), dtype=bool)
    np.not_equal(bars[1:], bars[:-1], out=last[:-1])
    return bars[last], marks[last]


def _group_starts(n: int, limit: int) -> np.ndarray:
    """Return the first index of each of at most ``limit`` equal groups covering ``n`` bars."""
    size = max(1, -(-n // limit))
    return np.arange(0, n, size)


def _kline_arrays(bars: Bars, trades: np.ndarray, limit: int) -> tuple[np.ndarray, ...]:
    """Return the columns of up to ``limit`` candles: time (int64), open, high, low, close, volume
    (float64) and the fill mark (int8: +1 buy, -1 sell, 0 none).

    The prices are numpy's (``reduceat``: its SIMD loops beat a compiled per-candle loop); with the
    compiled kernels the marks come from one pass over the trades (``kernels.kline_marks``) instead
    of ``fill_points`` and a search (``_kline_arrays_numpy``). The two are bit-identical.
    """
    if not kernels.active():
        return _kline_arrays_numpy(bars, trades, limit)
    n = len(bars)
    size = max(1, -(-n // limit))  # as _group_starts
    starts = np.arange(0, n, size)
    signal = np.zeros(len(starts), dtype=np.int8)
    kernels.kline_marks(n, size, trades["exit_index"], trades["entry_index"], trades["side"], signal)
    return _kline_prices(bars, starts, signal)


def _kline_prices(bars: Bars, starts: np.ndarray, signal: np.ndarray) -> tuple[np.ndarray, ...]:
    """Return the candles' columns (``_kline_arrays``) of the groups beginning at ``starts``."""
    ends = np.append(starts[1:], len(bars)) - 1
    prices = (
        bars.open[starts],
        np.maximum.reduceat(bars.high, starts),
        np.minimum.reduceat(bars.low, starts),
        bars.close[ends],
        np.add.reduceat(bars.volume, starts),
    )
    time = np.asarray(bars.time[starts], dtype=np.int64)
    return (time, *(np.asarray(c, dtype=np.float64) for c in prices), signal)


def _kline_arrays_numpy(bars: Bars, trades: np.ndarray, limit: int) -> tuple[np.ndarray, ...]:
    """``_kline_arrays`` without the kernels: the marks from ``fill_points`` and a search."""
    n = len(bars)
    starts = _group_starts(n, limit)
    ends = np.append(starts[1:], n) - 1
    marked, marks = fill_points(trades)
    first_mark = np.searchsorted(marked, starts)
    signal = np.zeros(len(starts), dtype=np.int8)
    has = first_mark < len(marked)
    has[has] = marked[first_mark[has]] <= ends[has]
    signal[has] = marks[first_mark[has]]
    return _kline_prices(bars, starts, signal)


def _numbers(values: np.ndarray | list[Any]) -> list[str]:
    """Return each number's JSON text: orjson's, the shortest text that reads back as the same
    float (Python's repr but for the exponent's form: ``1e-7`` for ``1e-07``), ~20x faster.

    A non-finite float has no JSON text (orjson would write null): ValueError, so the result's
    store fails as it did when ``jsonb`` refused ``NaN``.
    """
    if isinstance(values, np.ndarray) and values.dtype.kind == "f" and not np.isfinite(values).all():
        raise ValueError("a chart value is not finite")
    text = orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    return text[1:-1].split(",") if len(text) > 2 else []


# A candle's end: its signal, if any (left out on bars without a fill).
_KLINE_TAIL = {0: "}", 1: ',"signal":"buy"}', -1: ',"signal":"sell"}'}


@dataclass(frozen=True)
class _Records:
    """The fixed text of a list of JSON objects for ``kernels.json_records``: the keys before each
    object's numbers and the tails that may end an object, as bytes laid end to end."""

    keys: np.ndarray
    key_ends: np.ndarray
    tails: np.ndarray
    tail_ends: np.ndarray
    most: int  # the most fixed bytes one object takes (its keys, its longest tail, a comma)

    @classmethod
    def of(cls, keys: list[str], tails: list[str]) -> _Records:
        def packed(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
            raw = [t.encode() for t in texts]
            return np.frombuffer(b"".join(raw), dtype=np.uint8), np.cumsum([len(r) for r in raw])

        keys_bytes, key_ends = packed(keys)
        tails_bytes, tail_ends = packed(tails)
        most = len(keys_bytes) + max(map(len, tails)) + 1
        return cls(keys_bytes, key_ends.astype(np.int64), tails_bytes, tail_ends.astype(np.int64), most)

    def wire(self, times: np.ndarray, values: np.ndarray, tail_of: np.ndarray) -> str:
        """Return the objects' JSON text: object r has ``times[r]``, the numbers of ``values[r]``
        (finite: the caller checks) after the keys, and tail ``tail_of[r]``; numbers as orjson
        writes them, as ``_numbers`` does."""
        if len(times) == 0:
            return "[]"
        t = orjson.dumps(np.ascontiguousarray(times, dtype=np.int64), option=orjson.OPT_SERIALIZE_NUMPY)
        v = orjson.dumps(
            np.ascontiguousarray(values, dtype=np.float64).ravel(), option=orjson.OPT_SERIALIZE_NUMPY
        )
        out = np.empty(len(t) + len(v) + len(times) * self.most + 2, dtype=np.uint8)
        size = kernels.json_records(
            np.frombuffer(t, dtype=np.uint8),
            np.frombuffer(v, dtype=np.uint8),
            self.keys,
            self.key_ends,
            self.tails,
            self.tail_ends,
            tail_of,
            out,
        )
        return out[:size].tobytes().decode()


# Candles: tail ``signal + 1`` (sell, none, buy). Curve points: one tail.
_KLINE_RECORDS = _Records.of(
    ['{"time":', ',"open":', ',"high":', ',"low":', ',"close":', ',"volume":'],
    [_KLINE_TAIL[-1], _KLINE_TAIL[0], _KLINE_TAIL[1]],
)
_EQUITY_RECORDS = _Records.of(['{"time":', ',"value":'], ["}"])


def kline_wire(bars: Bars, trades: np.ndarray, limit: int) -> str:
    """Return up to ``limit`` candles as the API sends them (``KlineBarSchema`` of each, compact;
    floats as their shortest round-trip text, ``_numbers``); longer runs are aggregated.

    An aggregated candle spans consecutive bars (first open, max high, min low, last close, summed
    volume) and carries the first fill mark inside it (``signal``: buy|sell, absent without one).
    With the compiled kernels the text is laid out by ``kernels.json_records`` from two orjson
    calls (no string per number); else by an f-string per candle. The two are byte-identical.
    """
    time, *prices, signal = _kline_arrays(bars, trades, limit)
    if kernels.active():
        values = np.column_stack(prices) if prices[0].size else np.empty((0, 5))
        if not np.isfinite(values).all():
            raise ValueError("a chart value is not finite")
        return _KLINE_RECORDS.wire(time, values, signal + 1)
    t, o, h, low, c, v = (_numbers(col) for col in (time, *prices))
    tails = [_KLINE_TAIL[k] for k in signal.tolist()]
    body = ",".join(
        [
            f'{{"time":{a},"open":{b},"high":{d},"low":{e},"close":{f},"volume":{g}{k}'
            for a, b, d, e, f, g, k in zip(t, o, h, low, c, v, tails, strict=True)
        ]
    )
    return f"[{body}]"


def _equity_points(time: np.ndarray, equity: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the times (int64) and values (rounded to 8 decimals, ``round_8``) of up to ``limit``
    evenly spaced points, always the first and last."""
    n = len(equity)
    if n == 0:
        return np.empty(0, dtype=np.int64), np.empty(0)
    idx = _distinct(np.linspace(0, n - 1, max(2, min(n, limit))).round().astype(np.int64))
    times = np.asarray(time[idx], dtype=np.int64)
    return times, _round_8_array(np.asarray(equity[idx], dtype=np.float64))


def _distinct(ascending: np.ndarray) -> np.ndarray:
    """Return ``np.unique(ascending)`` for a non-decreasing array (as rounded ``linspace`` points
    are) without its sort, ~20x cheaper at 2,000 points; any other array goes to ``np.unique``."""
    if not (ascending[1:] >= ascending[:-1]).all():
        return np.unique(ascending)
    return ascending[np.concatenate(([True], ascending[1:] != ascending[:-1]))]


def _equity_columns(time: np.ndarray, equity: np.ndarray, limit: int) -> tuple[list[int], list[float]]:
    """Return ``_equity_points`` as lists."""
    times, values = _equity_points(time, equity, limit)
    return times.tolist(), values.tolist()


# |x| * 1e8 below this is exact to well under half a unit: rint then decides as round() does.
_ROUND_8_EXACT = float(2**52)


def round_8(values: np.ndarray) -> list[float]:
    """Return ``[round(v, 8) for v in values]``, bit for bit, mostly without a call per value
    (``_round_8_array``)."""
    rounded: list[float] = _round_8_array(values).tolist()
    return rounded


def _round_8_array(values: np.ndarray) -> np.ndarray:
    """Return ``round(v, 8)`` of each value, bit for bit, as a new float64 array.

    ``round(v, 8)`` is the double nearest to ``N / 10**8``, ``N`` the exact ``v * 10**8`` rounded
    half to even. ``y = v * 1e8`` is that product within half a unit in its last place, so where
    ``y``'s fraction is not that close to one half (and ``|y| < 2**52``), ``rint(y)`` is ``N`` and
    ``rint(y) / 1e8`` (both exact, one correctly rounded division) is ``round``'s value. The
    values near a half, the large ones and the non-finite ones go through ``round`` itself.
    """
    v = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        y = v * 1e8
        whole = np.rint(y)
        out: np.ndarray = whole / 1e8
        off = np.abs(np.abs(y - np.floor(y)) - 0.5)  # distance of the fraction from a half
        sure = (np.abs(y) < _ROUND_8_EXACT) & (off > 4.0 * np.spacing(np.abs(y)))
    if not sure.all():
        for i in np.flatnonzero(~sure).tolist():
            out[i] = round(float(v[i]), 8)
    return out


def equity_rows(time: np.ndarray, equity: np.ndarray, limit: int) -> list[list[Any]]:
    """Return up to ``limit`` ``[time, equity]`` points, evenly spaced, always the first and last."""
    return [[t, v] for t, v in zip(*_equity_columns(time, equity, limit), strict=True)]


def equity_wire(time: np.ndarray, equity: np.ndarray, limit: int) -> str:
    """Return ``equity_rows``' points as the API sends them: the JSON text of
    ``BacktestEquityPointSchema`` of each (compact; floats as ``_numbers`` writes them), laid out
    by ``kernels.json_records`` with the compiled kernels, else by an f-string per point."""
    times, values = _equity_points(time, equity, limit)
    if not np.isfinite(values).all():
        raise ValueError("an equity value is not finite")
    if kernels.active():
        return _EQUITY_RECORDS.wire(times, values, np.zeros(len(times), dtype=np.int8))
    pairs = zip(_numbers(times.tolist()), _numbers(values.tolist()), strict=True)
    body = ",".join([f'{{"time":{t},"value":{v}}}' for t, v in pairs])
    return f"[{body}]"


# A long run's chart, written on the trades' writer thread before their COPY (``store``): the
# values are sent as the ORM sends them (JSONText: the text as it is; Postgres checks it is JSON).
_CHART_SQL = "UPDATE backtests SET kline = %s, equity_curve = %s WHERE id = %s"


def _chart_writer(backtest_id: str, kline: str, curve: str) -> Callable[[Any], None]:
    def write(raw: Any) -> None:
        cursor = raw.cursor()
        try:
            cursor.execute(_CHART_SQL, (kline, curve, backtest_id))
            if cursor.rowcount != 1:
                raise RuntimeError(f"backtest {backtest_id} not found to store its chart")
        finally:
            cursor.close()

    return write


def store(
    row: Backtest, done: Computed, *, replace_trades: bool = True, pinned_hash: str | None = None
) -> None:
    """Write the result onto ``row`` and replace its trades (the caller commits, with the job).

    ``replace_trades=False`` when no trades of the row can be stored yet (see ``trade_store.write``).
    ``pinned_hash``: the row's strategy version's content hash when the caller read it with the row
    (``fingerprint.strategy_hash``; None: the fingerprint reads it).
    A long run's chart (kline and curve: ~400 KB of JSON text, the most Postgres work of the row's
    UPDATE) and trades are written on a thread (``trade_store.begin_write``: the chart's UPDATE,
    then the trades' COPY, over the session's connection, waiting on Postgres without the GIL)
    while this thread computes the metrics and guardrails; the row's UPDATE then sends the rest
    (the chart is set on ``row`` as stored, not as a change). A short run's row goes in one UPDATE.
    Either way the fingerprint's query runs before any result column is set, so its autoflush has
    nothing to write, and the strategy's latest-backtest UPDATE flushes the row's columns at once.
    """
    cfg = current_app.config
    fingerprint.stamp(row, done.bars, pinned_hash)
    kline = kline_wire(done.bars, done.result.trades, int(cfg["BACKTEST_KLINE_MAX"]))
    curve = equity_wire(done.bars.time, done.result.equity, int(cfg["BACKTEST_CURVE_MAX"]))
    long = len(done.bars) >= BESIDE_MIN_BARS
    written = trade_store.begin_write(
        row.id,
        done.result.trades,
        replace=replace_trades,
        on_thread=long,
        first=_chart_writer(row.id, kline, curve) if long else None,
    )
    try:  # nothing on the session until the writer is done
        if long:
            set_committed_value(row, "kline", kline)  # as stored by the writer: not in the row's UPDATE
            set_committed_value(row, "equity_curve", curve)
        else:
            row.kline, row.equity_curve = kline, curve
        row.bars_count = len(done.bars)
        row.final_equity = _dec(done.result.final_equity)
        row.walk_forward = done.walk_forward
        row.metrics = done.metrics  # a long run's computed now, beside the writer
        row.guardrails = done.guardrails.to_dict()
        row.finished_at = finished_at = now_ms()
    finally:
        written()
    if row.strategy_id is not None:
        strategies_service.record_backtest(
            strategy_id=row.strategy_id,
            owner_id=row.owner_id,
            backtest_id=row.id,
            metrics=done.metrics,
            finished_at=finished_at,
        )
