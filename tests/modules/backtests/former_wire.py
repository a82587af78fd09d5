"""The chart's wire text as ``results`` made it before the compiled layout (``kernels.kline_marks``,
``kernels.json_records``), kept as the tests' oracle: ``kline_wire`` and ``equity_wire`` here are
the former functions, copied verbatim with their helpers. Nothing in the product uses them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import orjson

from backend.domain.bars import Bars


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
    (float64) and the fill mark (int8: +1 buy, -1 sell, 0 none)."""
    n = len(bars)
    starts = _group_starts(n, limit)
    ends = np.append(starts[1:], n) - 1
    marked, marks = fill_points(trades)
    first_mark = np.searchsorted(marked, starts)
    signal = np.zeros(len(starts), dtype=np.int8)
    has = first_mark < len(marked)
    has[has] = marked[first_mark[has]] <= ends[has]
    signal[has] = marks[first_mark[has]]
    prices = (
        bars.open[starts],
        np.maximum.reduceat(bars.high, starts),
        np.minimum.reduceat(bars.low, starts),
        bars.close[ends],
        np.add.reduceat(bars.volume, starts),
    )
    time = np.asarray(bars.time[starts], dtype=np.int64)
    return (time, *(np.asarray(c, dtype=np.float64) for c in prices), signal)


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


def kline_wire(bars: Bars, trades: np.ndarray, limit: int) -> str:
    """Return up to ``limit`` candles as the API sends them (``KlineBarSchema`` of each, compact;
    floats as their shortest round-trip text, ``_numbers``); longer runs are aggregated.

    An aggregated candle spans consecutive bars (first open, max high, min low, last close, summed
    volume) and carries the first fill mark inside it (``signal``: buy|sell, absent without one).
    """
    *columns, signal = _kline_arrays(bars, trades, limit)
    t, o, h, low, c, v = (_numbers(col) for col in columns)
    tails = [_KLINE_TAIL[k] for k in signal.tolist()]
    body = ",".join(
        [
            f'{{"time":{a},"open":{b},"high":{d},"low":{e},"close":{f},"volume":{g}{k}'
            for a, b, d, e, f, g, k in zip(t, o, h, low, c, v, tails, strict=True)
        ]
    )
    return f"[{body}]"


def _equity_columns(time: np.ndarray, equity: np.ndarray, limit: int) -> tuple[list[int], list[float]]:
    """Return the times and values (rounded to 8 decimals) of up to ``limit`` evenly spaced points."""
    n = len(equity)
    if n == 0:
        return [], []
    idx = np.unique(np.linspace(0, n - 1, max(2, min(n, limit))).round().astype(np.int64))
    times = np.asarray(time[idx], dtype=np.int64).tolist()
    return times, round_8(np.asarray(equity[idx], dtype=np.float64))


# |x| * 1e8 below this is exact to well under half a unit: rint then decides as round() does.
_ROUND_8_EXACT = float(2**52)


def round_8(values: np.ndarray) -> list[float]:
    """Return ``[round(v, 8) for v in values]``, bit for bit, mostly without a call per value.

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
        out = whole / 1e8
        off = np.abs(np.abs(y - np.floor(y)) - 0.5)  # distance of the fraction from a half
        sure = (np.abs(y) < _ROUND_8_EXACT) & (off > 4.0 * np.spacing(np.abs(y)))
    result: list[float] = out.tolist()
    if not sure.all():
        for i in np.flatnonzero(~sure).tolist():
            result[i] = round(float(v[i]), 8)
    return result


def equity_rows(time: np.ndarray, equity: np.ndarray, limit: int) -> list[list[Any]]:
    """Return up to ``limit`` ``[time, equity]`` points, evenly spaced, always the first and last."""
    return [[t, v] for t, v in zip(*_equity_columns(time, equity, limit), strict=True)]


def equity_wire(time: np.ndarray, equity: np.ndarray, limit: int) -> str:
    """Return ``equity_rows``' points as the API sends them: the JSON text of
    ``BacktestEquityPointSchema`` of each (compact; floats as ``_numbers`` writes them)."""
    times, values = _equity_columns(time, equity, limit)
    if not all(map(math.isfinite, values)):
        raise ValueError("an equity value is not finite")
    pairs = zip(_numbers(times), _numbers(values), strict=True)
    body = ",".join([f'{{"time":{t},"value":{v}}}' for t, v in pairs])
    return f"[{body}]"
