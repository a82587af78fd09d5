"""A backtest's round trips stored as columnar blocks (`backtest_trade_blocks`, ADRs 0009 and 0017).

A result of ``n`` round trips is stored as blocks of ``BLOCK_TRADES`` consecutive ones (the last
one shorter): each block row holds ``first`` (the seq of its first round trip), ``count``,
``total`` (``n``) and ``data``, the engine's trade record columns of those round trips one after
the other (column-major), each ``count`` little-endian values of its type (``LAYOUT``). A block is
one inline heap tuple of at most ~8 KB (``STORAGE PLAIN``): writing a result is ~n / 87 tuples,
not the ~n / 22 TOAST chunks of one out-of-line value, and a range of round trips reads only the
blocks that cover it, so a page of the trades endpoint costs the same for 100 or 100,000 trades.
A result without round trips has one empty block, so it reads as stored.

Reads give numbers back exactly as the engine computed them; ``stored_trades`` turns them into
``StoredTrade`` values whose money is what the former NUMERIC(28,10) rows read back (``money``),
so every reader (the poll, the trades endpoint, diff, reproduce, UDF marks, charts) and the wire
are unchanged. A round trip's id is its backtest's id with ``seq`` as the last 12 hex digits.
"""

from __future__ import annotations

import decimal
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy import Integer, and_, bindparam, delete, func, or_, select

from backend.core.threads import beside, inline
from backend.domain.backtest.types import TRADE_DTYPE
from backend.extensions import db
from backend.modules.backtests.models import BacktestTradeBlock

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
# Round trips per block: its data stays below ~7,900 bytes, so the whole row (header, id, three
# integers, data) fits in one heap tuple of an 8 KB page (at most 8,160 bytes) and is never TOASTed.
BLOCK_TRADES = 7_900 // ROW_BYTES
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

    One binary ``COPY`` of the result's blocks: the values go to the server as their bytes, in
    1 MiB reads, never as hex literals inside an SQL string (4x their size at 10M bars). With
    ``replace`` a DELETE of any stored blocks comes first; a caller that knows none can exist (the
    first store of a result) passes False and saves that round trip.
    """
    begin_write(backtest_id, trades, replace=replace, on_thread=False)()


def begin_write(
    backtest_id: str,
    trades: np.ndarray,
    *,
    replace: bool = True,
    on_thread: bool = True,
    first: Callable[[Any], None] | None = None,
) -> Callable[[], None]:
    """Start ``write``: the DELETE now, the COPY on a thread over the session's connection.

    ``first(dbapi_connection)`` runs on that thread before the COPY, in the same transaction: a
    caller's own statement sent beside its work (``results.store``: the chart's UPDATE).
    Returns the wait (it re-raises the thread's error). Until it returns the caller computes but
    runs nothing on the session (no query, no flush): the connection is the thread's. Call it in
    a ``finally`` when the caller may fail meanwhile, so the transaction ends after the COPY.
    ``on_thread=False`` runs them at once (the wait then returns at once).
    """
    if replace:
        db.session.execute(delete(BacktestTradeBlock).where(BacktestTradeBlock.backtest_id == backtest_id))
    stream = _Chunks(copy_parts(backtest_id, trades))
    raw = db.session.connection().connection.dbapi_connection
    assert raw is not None  # a checked-out connection always has its DBAPI connection
    return (beside if on_thread else inline)(_copy, raw, stream, first)


def copy_parts(backtest_id: str, trades: np.ndarray) -> list[Any]:
    """Return the binary COPY stream of a result's blocks (``_COPY_SQL``'s columns) as buffers.

    The whole blocks are laid out by whole-array copies into one buffer, a row per block: each
    tuple's fixed header (field count, lengths, the id, ``first``, ``count``, ``total``) through a
    big-endian record view, then each column's ``BLOCK_TRADES`` values; the last, shorter block
    (or the one empty block of a result without round trips) is built alone.
    """
    n = len(trades)
    key = backtest_id.encode()
    columns = [np.ascontiguousarray(trades[name], dtype=t) for name, t in LAYOUT]
    parts: list[Any] = [_COPY_HEADER]
    whole = n // BLOCK_TRADES
    if whole:
        head = _tuple_head(len(key))
        block = np.empty((whole, head.itemsize + BLOCK_TRADES * ROW_BYTES), dtype=np.uint8)
        fields = block[:, : head.itemsize].view(head).reshape(whole)
        fields["fields"] = 5
        fields["key_size"] = len(key)
        fields["key"] = key
        fields["first_size"] = fields["count_size"] = fields["total_size"] = 4
        fields["first"] = np.arange(whole, dtype=np.int64) * BLOCK_TRADES
        fields["count"] = BLOCK_TRADES
        fields["total"] = n
        fields["data_size"] = BLOCK_TRADES * ROW_BYTES
        at = head.itemsize
        for column in columns:
            width = BLOCK_TRADES * column.itemsize
            block[:, at : at + width] = column[: whole * BLOCK_TRADES].view(np.uint8).reshape(whole, width)
            at += width
        parts.append(block.data.cast("B"))
    first = whole * BLOCK_TRADES
    if first < n or n == 0:
        data = b"".join(column[first:].tobytes() for column in columns)
        parts.append(
            struct.pack(">hi", 5, len(key))
            + key
            + struct.pack(">iiiiiii", 4, first, 4, n - first, 4, n, len(data))
            + data
        )
    parts.append(_COPY_TRAILER)
    return parts


def _tuple_head(key_size: int) -> np.dtype:
    """Return the big-endian layout of a block tuple's bytes before its data (binary COPY)."""
    return np.dtype(
        [
            ("fields", ">i2"),
            ("key_size", ">i4"),
            ("key", f"S{key_size}"),
            ("first_size", ">i4"),
            ("first", ">i4"),
            ("count_size", ">i4"),
            ("count", ">i4"),
            ("total_size", ">i4"),
            ("total", ">i4"),
            ("data_size", ">i4"),
        ]
    )


def _copy(raw: Any, stream: _Chunks, first: Callable[[Any], None] | None = None) -> None:
    if first is not None:
        first(raw)
    cursor = raw.cursor()
    try:
        cursor.copy_expert(_COPY_SQL, stream, _COPY_CHUNK)  # psycopg2 extension; waits without the GIL
    finally:
        cursor.close()


_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)  # signature, flags, no extension
_COPY_TRAILER = struct.pack(">h", -1)
_COPY_SQL = (
    "COPY backtest_trade_blocks (backtest_id, first, count, total, data) FROM STDIN WITH (FORMAT binary)"
)
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


_B = BacktestTradeBlock
_COUNT = select(_B.total).where(_B.backtest_id == bindparam("backtest_id"), _B.first == 0)


def count(backtest_id: str) -> int:
    """Return how many round trips a backtest's result holds (0 without a result)."""
    n = db.session.scalar(_COUNT, {"backtest_id": backtest_id})
    return int(n or 0)


# The blocks covering round trips [:first, :stop), and always the first block (it carries the
# total, and tells a stored result from none): from the block holding `first` (the last one
# starting at or before it, found on the primary key) to the last one starting before `stop`.
_ANCHOR = (
    select(func.coalesce(func.max(_B.first), 0))
    .where(_B.backtest_id == bindparam("backtest_id"), _B.first <= bindparam("first", type_=Integer))
    .scalar_subquery()
)
_READ = (
    select(_B.first, _B.count, _B.total, _B.data)
    .where(
        _B.backtest_id == bindparam("backtest_id"),
        or_(_B.first == 0, and_(_B.first >= _ANCHOR, _B.first < bindparam("stop", type_=Integer))),
    )
    .order_by(_B.first)
)
_MAX_SEQ = 2**31 - 1


def read(backtest_id: str, first: int = 0, stop: int | None = None) -> tuple[np.ndarray, int]:
    """Return round trips ``[first, stop)`` (seq order; ``stop`` None: to the end) and the total."""
    first = min(max(0, first), _MAX_SEQ)
    stop = _MAX_SEQ if stop is None else min(max(0, stop), _MAX_SEQ)
    rows = db.session.execute(_READ, {"backtest_id": backtest_id, "first": first, "stop": stop}).all()
    if not rows:
        return np.empty(0, dtype=TRADE_DTYPE), 0
    total = int(rows[0].total)
    stop = min(stop, total)
    blocks = [(start, n, data) for start, n, _total, data in rows if start < stop and start + n > first]
    if not blocks:
        return np.empty(0, dtype=TRADE_DTYPE), total
    base = blocks[0][0]  # the block holding `first`
    return decode_blocks([(n, data) for _start, n, data in blocks])[first - base : stop - base], total


def decode_blocks(blocks: Sequence[tuple[int, Any]]) -> np.ndarray:
    """Return the round trips of consecutive blocks ``(count, data)`` as one TRADE_DTYPE array.

    Blocks of equal size (all but a result's last) are decoded together: a column of all of them
    is one strided copy, whatever their number.
    """
    out = np.empty(sum(n for n, _ in blocks), dtype=TRADE_DTYPE)
    at = i = 0
    while i < len(blocks):
        n = blocks[i][0]
        j = i + 1
        while j < len(blocks) and blocks[j][0] == n:
            j += 1
        if n:
            rows = np.frombuffer(b"".join(data for _, data in blocks[i:j]), dtype=np.uint8)
            rows = rows.reshape(j - i, n * ROW_BYTES)
            for name, t in LAYOUT:
                lo = n * _BEFORE[name]
                column = np.ascontiguousarray(rows[:, lo : lo + n * _SIZE[name]]).view(t)
                out[name][at : at + (j - i) * n] = column.reshape(-1)
        at += (j - i) * n
        i = j
    return out


def _time_slices() -> list[Any]:
    """Return ``substring`` expressions of the entry and exit time columns of a block's data."""
    return [func.substring(_B.data, _B.count * _BEFORE[c] + 1, _B.count * _SIZE[c]) for c in _TIMES]


def read_times(backtest_ids: Sequence[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Return the entry and exit times of every round trip of each backtest that has a result."""
    if not backtest_ids:
        return {}
    rows = db.session.execute(
        select(_B.backtest_id, *_time_slices())
        .where(_B.backtest_id.in_(backtest_ids))
        .order_by(_B.backtest_id, _B.first)
    )
    parts: dict[str, tuple[list[bytes], list[bytes]]] = {}
    for bid, entry, exit_ in rows:
        entries, exits = parts.setdefault(bid, ([], []))
        entries.append(bytes(entry))
        exits.append(bytes(exit_))
    return {
        bid: (np.frombuffer(b"".join(e), dtype="<i8"), np.frombuffer(b"".join(x), dtype="<i8"))
        for bid, (e, x) in parts.items()
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
