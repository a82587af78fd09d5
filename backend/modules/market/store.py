"""Queries on market_candles. Nothing here commits; the public service functions do."""

from __future__ import annotations

import io
import uuid

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from backend.core.db import now_ms
from backend.domain.bars import Bars
from backend.domain.marketdata.intervals import INTERVAL_MS
from backend.extensions import db
from backend.modules.market.models import MarketCandle, MarketSeries

_COLUMNS = "time, open::float8, high::float8, low::float8, close::float8, volume::float8"
_SERIES = "symbol = %(symbol)s AND interval = %(interval)s"


def _cursor():
    """Return a DBAPI cursor on the session's connection (same transaction), for bulk I/O."""
    return db.session.connection().connection.cursor()


def _fetch_bars(sql: str, params: dict) -> list[tuple]:
    # Plain DBAPI tuples: building SQLAlchemy Row objects costs more than the query itself.
    with _cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def _to_bars(rows) -> Bars:
    if not rows:
        return Bars.empty()
    table = np.array(rows, dtype=np.float64)  # Unix ms < 2**53, so times survive float64 exactly
    return Bars.from_arrays(table[:, 0].astype(np.int64), *(table[:, k] for k in range(1, 6)))


def has_series(symbol: str, interval: str, *, source: str | None = None) -> bool:
    """Return whether candles are stored for symbol/interval (optionally from one source)."""
    query = select(MarketSeries.symbol).where(
        MarketSeries.symbol == symbol, MarketSeries.interval == interval
    )
    if source is not None:
        query = query.where(MarketSeries.source == source)
    return db.session.execute(query.limit(1)).first() is not None


def read_range(symbol: str, interval: str, start_ms: int, end_ms: int) -> Bars:
    """Return stored bars with open time in [start_ms, end_ms), ascending."""
    rows = _fetch_bars(
        f"SELECT {_COLUMNS} FROM market_candles WHERE {_SERIES} AND time >= %(start)s AND time < %(end)s "
        "ORDER BY time",
        {"symbol": symbol, "interval": interval, "start": start_ms, "end": end_ms},
    )
    return _to_bars(rows)


def read_last(symbol: str, interval: str, end_ms: int, count: int, start_ms: int | None = None) -> Bars:
    """Return the latest ``count`` stored bars with open time < end_ms (and >= start_ms), ascending."""
    rows = _fetch_bars(
        f"SELECT {_COLUMNS} FROM market_candles WHERE {_SERIES} AND time < %(end)s AND time >= %(start)s "
        "ORDER BY time DESC LIMIT %(count)s",
        {
            "symbol": symbol,
            "interval": interval,
            "end": end_ms,
            "count": count,
            "start": start_ms if start_ms is not None else -(2**62),
        },
    )
    return _to_bars(rows[::-1])


def last_time_before(symbol: str, interval: str, t_ms: int) -> int | None:
    """Return the open time of the latest stored bar before t_ms, or None."""
    return db.session.execute(
        select(func.max(MarketCandle.time)).where(
            MarketCandle.symbol == symbol, MarketCandle.interval == interval, MarketCandle.time < t_ms
        )
    ).scalar()


def stored_series() -> dict[str, dict[str, set[str]]]:
    """Return {symbol: {interval: {sources}}} for every stored series."""
    rows = db.session.execute(select(MarketSeries.symbol, MarketSeries.interval, MarketSeries.source)).all()
    series: dict[str, dict[str, set[str]]] = {}
    for symbol, interval, source in rows:
        series.setdefault(symbol, {}).setdefault(interval, set()).add(source)
    return series


def finest_imported_interval(symbol: str) -> str | None:
    """Return the shortest interval with imported candles for symbol, or None."""
    rows = (
        db.session.execute(
            select(MarketSeries.interval).where(
                MarketSeries.symbol == symbol, MarketSeries.source == "import"
            )
        )
        .scalars()
        .all()
    )
    return min(rows, key=INTERVAL_MS.__getitem__) if rows else None


def upsert(symbol: str, interval: str, bars: Bars, *, source: str) -> int:
    """Insert bars, replacing stored ones at the same times; mock rows never replace imports.

    Bulk path: COPY into a temporary table, then one INSERT ... ON CONFLICT (fast and atomic).
    """
    if len(bars) == 0:
        return 0
    staging = f"candles_in_{uuid.uuid4().hex}"
    guard = "WHERE market_candles.source = 'mock'" if source == "mock" else ""
    with _cursor() as cur:
        cur.execute(
            f"CREATE TEMP TABLE {staging} (time bigint, open numeric, high numeric, low numeric, "
            "close numeric, volume numeric) ON COMMIT DROP"
        )
        cur.copy_expert(f"COPY {staging} FROM STDIN WITH (FORMAT csv)", io.StringIO(_csv_rows(bars)))
        cur.execute(
            "INSERT INTO market_candles (symbol, interval, time, open, high, low, close, volume, source) "
            "SELECT %(symbol)s, %(interval)s, time, open, high, low, close, volume, %(source)s "
            f"FROM {staging} "
            "ON CONFLICT (symbol, interval, time) DO UPDATE SET open = EXCLUDED.open, high = EXCLUDED.high, "
            "low = EXCLUDED.low, close = EXCLUDED.close, volume = EXCLUDED.volume, source = EXCLUDED.source "
            f"{guard}",
            {"symbol": symbol, "interval": interval, "source": source},
        )
        cur.execute(f"DROP TABLE {staging}")
    _record_series(symbol, interval, source, int(bars.time[0]), int(bars.time[-1]))
    return len(bars)


def _csv_rows(bars: Bars) -> str:
    """Render bars as CSV; repr() gives the shortest exact decimal of each float64."""
    columns = (
        bars.time.tolist(),
        bars.open.tolist(),
        bars.high.tolist(),
        bars.low.tolist(),
        bars.close.tolist(),
        bars.volume.tolist(),
    )
    return "\n".join(
        f"{t},{o!r},{h!r},{lo!r},{c!r},{v!r}" for t, o, h, lo, c, v in zip(*columns, strict=True)
    )


def _record_series(symbol: str, interval: str, source: str, first: int, last: int) -> None:
    stmt = pg_insert(MarketSeries).values(
        symbol=symbol, interval=interval, source=source, first_time=first, last_time=last, updated_at=now_ms()
    )
    table = MarketSeries.__table__
    db.session.execute(
        stmt.on_conflict_do_update(
            index_elements=["symbol", "interval", "source"],
            set_={
                "first_time": func.least(table.c.first_time, stmt.excluded.first_time),
                "last_time": func.greatest(table.c.last_time, stmt.excluded.last_time),
                "updated_at": stmt.excluded.updated_at,
            },
        )
    )
