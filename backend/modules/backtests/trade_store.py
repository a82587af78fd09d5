"""A backtest's round trips stored as one columnar value (`backtest_trade_columns`, ADR 0009).

One row per backtest result: ``count`` round trips and ``data``, the engine's trade record columns
one after the other (column-major), each ``count`` little-endian values of its type (``LAYOUT``).
Column ``c`` of ``n`` trades starts at byte ``n * (sum of the item sizes before c)``, so a range
of round trips ``[first, stop)`` is read with one ``substring`` per column: the column is stored
uncompressed (``STORAGE EXTERNAL``), so Postgres fetches only the TOAST chunks it needs and a page
of the trades endpoint costs the same for 100 or 100,000 trades.

Reads give numbers back exactly as the engine computed them; ``stored_trades`` turns them into
``StoredTrade`` values whose money is what the former NUMERIC(28,10) rows read back (``money``),
so every reader (the poll, the trades endpoint, diff, reproduce, UDF marks, charts) and the wire
are unchanged. A round trip's id is its backtest's id with ``seq`` as the last 12 hex digits.
"""

from __future__ import annotations

import decimal
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Integer, bindparam, delete, func, select

from backend.core.threads import beside, inline
from backend.domain.backtest.types import TRADE_DTYPE
from backend.extensions import db
from backend.modules.backtests.models import BacktestTradeColumns

# The stored columns, in storage order, with their little-endian wire types.
LAYOUT: tuple[tuple[str, str], ...] = (
    ("entry_index", "<i8"),
    ("exit_index", "<i8"),
    ("entry_time", "<i8"),
    ("exit_time", "<i8"),
    ("entry_price", "<f8"),
    ("exit_price", "<f8"),
    ("quantity", "<f8"),
    ("pnl", "<f8"),
    ("fees", "<f8"),
    ("return_pct", "<f8"),
    ("holding_ms", "<i8"),
    ("side", "i1"),
    ("closed_at_end", "u1"),
)
_SIZE = {name: np.dtype(t).itemsize for name, t in LAYOUT}
_BEFORE = {name: sum(np.dtype(t).itemsize for _, t in LAYOUT[:i]) for i, (name, _) in enumerate(LAYOUT)}
ROW_BYTES = sum(_SIZE.values())
MONEY_FIELDS = ("entry_price", "exit_price", "quantity", "pnl", "fees", "return_pct")
_SCALE = Decimal("1e-10")  # the former NUMERIC(28,10) columns
_NUMERIC = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_UP)  # Postgres rounds half away from 0
_ZERO = Decimal(0).quantize(_SCALE)
_TIMES = ("entry_time", "exit_time")


def money(value: float) -> Decimal:
    """Return an engine float as NUMERIC(28,10) held it (its shortest repr, rounded half away from 0)."""
    d = Decimal(repr(float(value))).quantize(_SCALE, context=_NUMERIC)
    return _ZERO if d.is_zero() else d  # NUMERIC has no negative zero


def encode(trades: np.ndarray) -> bytes:
    """Return a TRADE_DTYPE record array as the stored value (column-major, ``LAYOUT``)."""
    return b"".join(np.ascontiguousarray(trades[name], dtype=t).tobytes() for name, t in LAYOUT)


def decode_columns(parts: Sequence[Any], n: int) -> np.ndarray:
    """Return ``n`` trades from one byte string per ``LAYOUT`` column as a TRADE_DTYPE array."""
    out = np.empty(n, dtype=TRADE_DTYPE)
    for (name, t), part in zip(LAYOUT, parts, strict=True):
        out[name] = np.frombuffer(part, dtype=t, count=n)
    return out


def decode(data: bytes, n: int) -> np.ndarray:
    """Return the whole stored value of ``n`` trades as a TRADE_DTYPE array."""
    view = memoryview(data)
    return decode_columns([view[n * _BEFORE[c] : n * (_BEFORE[c] + _SIZE[c])] for c, _ in LAYOUT], n)


def write(backtest_id: str, trades: np.ndarray, *, replace: bool = True) -> None:
    """Store (or replace: a requeued run) the trades of a backtest, in the session's transaction.

    One binary ``COPY`` of the row: the value goes to the server as its bytes, in 1 MiB reads,
    never as a hex literal inside an SQL string (4x its size at 10M bars). With ``replace`` a
    DELETE of any stored value comes first; a caller that knows none can exist (the first store
    of a result) passes False and saves that round trip.
    """
    begin_write(backtest_id, trades, replace=replace, on_thread=False)()


def begin_write(
    backtest_id: str, trades: np.ndarray, *, replace: bool = True, on_thread: bool = True
) -> Callable[[], None]:
    """Start ``write``: the DELETE now, the COPY on a thread over the session's connection.

    Returns the wait (it re-raises the COPY's error). Until it returns the caller computes but
    runs nothing on the session (no query, no flush): the connection is the COPY's. Call it in
    a ``finally`` when the caller may fail meanwhile, so the transaction ends after the COPY.
    ``on_thread=False`` copies at once (the wait then returns at once).
    """
    if replace:
        db.session.execute(
            delete(BacktestTradeColumns).where(BacktestTradeColumns.backtest_id == backtest_id)
        )
    columns = [np.ascontiguousarray(trades[name], dtype=t) for name, t in LAYOUT]
    size = sum(c.nbytes for c in columns)
    key = backtest_id.encode()
    head = b"".join(
        (
            _COPY_SIGNATURE,
            struct.pack(">iih", 0, 0, 3),  # flags, header extension length; 3 fields
            struct.pack(">i", len(key)),
            key,
            struct.pack(">ii", 4, len(trades)),
            struct.pack(">i", size),
        )
    )
    stream = _Chunks([head, *(c.data.cast("B") for c in columns), struct.pack(">h", -1)])
    raw = db.session.connection().connection.dbapi_connection
    assert raw is not None  # a checked-out connection always has its DBAPI connection
    return (beside if on_thread else inline)(_copy, raw, stream)


def _copy(raw: Any, stream: _Chunks) -> None:
    cursor = raw.cursor()
    try:
        cursor.copy_expert(_COPY_SQL, stream, _COPY_CHUNK)  # psycopg2 extension; waits without the GIL
    finally:
        cursor.close()


_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_COPY_SQL = "COPY backtest_trade_columns (backtest_id, count, data) FROM STDIN WITH (FORMAT binary)"
_COPY_CHUNK = 1 << 20


class _Chunks:
    """A read-only file over buffers, read in order (what ``copy_expert`` reads from)."""

    def __init__(self, parts: list[Any]) -> None:
        self._parts = [memoryview(p) for p in parts if len(p)]

    def read(self, size: int = -1) -> bytes:
        out = bytearray()
        while self._parts and (size < 0 or len(out) < size):
            part = self._parts[0]
            take = len(part) if size < 0 else min(len(part), size - len(out))
            out += part[:take]
            if take == len(part):
                self._parts.pop(0)
            else:
                self._parts[0] = part[take:]
        return bytes(out)

    def readline(self, size: int = -1) -> bytes:  # pragma: no cover - COPY FROM never calls it
        raise NotImplementedError


def count(backtest_id: str) -> int:
    """Return how many round trips a backtest's result holds (0 without a result)."""
    n = db.session.scalar(
        select(BacktestTradeColumns.count).where(BacktestTradeColumns.backtest_id == backtest_id)
    )
    return int(n or 0)


def _slices(names: Iterable[str]) -> list[ColumnElement[Any]]:
    """Return ``substring`` expressions reading round trips ``[:first, :stop)`` of each named column
    (bound parameters, so the statement is built and compiled once)."""
    n = BacktestTradeColumns.count
    # `first` past the end reads from the end: its byte offset (first * size, a PostgreSQL integer)
    # would overflow for a far page (a 500 Schemathesis found with page=2121108829555).
    first = func.least(bindparam("first", type_=Integer), n)
    rows = func.greatest(func.least(n, bindparam("stop", type_=Integer)) - first, 0)
    return [
        func.substring(BacktestTradeColumns.data, n * _BEFORE[c] + first * _SIZE[c] + 1, rows * _SIZE[c])
        for c in names
    ]


_NAMES = [c for c, _ in LAYOUT]
_READ = select(BacktestTradeColumns.count, *_slices(_NAMES)).where(
    BacktestTradeColumns.backtest_id == bindparam("backtest_id")
)
_MAX_SEQ = 2**31 - 1


def read(backtest_id: str, first: int = 0, stop: int | None = None) -> tuple[np.ndarray, int]:
    """Return round trips ``[first, stop)`` (seq order; ``stop`` None: to the end) and the total."""
    first = min(max(0, first), _MAX_SEQ)
    stop = _MAX_SEQ if stop is None else min(max(0, stop), _MAX_SEQ)
    row = db.session.execute(_READ, {"backtest_id": backtest_id, "first": first, "stop": stop}).first()
    if row is None:
        return np.empty(0, dtype=TRADE_DTYPE), 0
    total, *parts = row
    return decode_columns([bytes(p) for p in parts], len(parts[0]) // _SIZE[_NAMES[0]]), int(total)


def read_times(backtest_ids: Sequence[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Return the entry and exit times of every round trip of each backtest that has a result."""
    if not backtest_ids:
        return {}
    rows = db.session.execute(
        select(BacktestTradeColumns.backtest_id, BacktestTradeColumns.count, *_slices(_TIMES)).where(
            BacktestTradeColumns.backtest_id.in_(backtest_ids)
        ),
        {"first": 0, "stop": _MAX_SEQ},
    )
    return {
        bid: (np.frombuffer(bytes(e), dtype="<i8", count=n), np.frombuffer(bytes(x), dtype="<i8", count=n))
        for bid, n, e, x in rows
    }


@dataclass(frozen=True, slots=True)
class StoredTrade:
    """One stored round trip as the former `backtest_trades` row read back (money as Decimal)."""

    id: str
    seq: int
    side: str  # long | short
    entry_index: int
    exit_index: int
    entry_time: int
    exit_time: int
    entry_price: Decimal
    exit_price: Decimal
    quantity: Decimal
    pnl: Decimal
    fees: Decimal
    return_pct: Decimal
    holding_ms: int
    closed_at_end: bool


def trade_id(backtest_id: str, seq: int) -> str:
    """Return the id of round trip ``seq`` of a backtest (UUID-shaped, stable across re-stores)."""
    return f"{backtest_id[:24]}{seq:012x}"


def stored_trades(backtest_id: str, trades: np.ndarray, first: int = 0) -> list[StoredTrade]:
    """Return records ``trades`` (round trips ``first``, ``first + 1``, ...) as StoredTrade values."""
    n = len(trades)
    if n == 0:
        return []
    columns: list[list[Any]] = [
        [trade_id(backtest_id, seq) for seq in range(first, first + n)],
        list(range(first, first + n)),
        ["long" if s > 0 else "short" for s in trades["side"].tolist()],
        trades["entry_index"].tolist(),
        trades["exit_index"].tolist(),
        trades["entry_time"].tolist(),
        trades["exit_time"].tolist(),
        *([money(v) for v in trades[name].tolist()] for name in MONEY_FIELDS),
        trades["holding_ms"].tolist(),
        [bool(v) for v in trades["closed_at_end"].tolist()],
    ]
    return [StoredTrade(*values) for values in zip(*columns, strict=True)]


def round_trips(backtest_id: str, first: int = 0, stop: int | None = None) -> list[StoredTrade]:
    """Return the stored round trips ``[first, stop)`` of a backtest as StoredTrade values."""
    trades, _ = read(backtest_id, first, stop)
    return stored_trades(backtest_id, trades, max(0, first))
