"""Market data services: bars for other modules, snapshots, symbol lists and candle imports.

Times are Unix ms (UTC) bar open times; bars are complete (open + interval <= now). Other modules
call ``load_bars``, ``latest_bar``, ``list_symbols`` and ``import_candles``; the TradingView UDF
feed (``backend.modules.udf``) builds its payloads from this module.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from backend.core.db import transactional
from backend.domain.bars import Bars
from backend.domain.marketdata import udf
from backend.domain.marketdata.base import SymbolInfo
from backend.domain.marketdata.csv import CSVFormatError, parse_ohlcv_csv
from backend.domain.marketdata.intervals import INTERVALS, floor_time, interval_ms
from backend.domain.marketdata.mock import MOCK_SPECS
from backend.modules.files import service as files_service
from backend.modules.market import sources, store
from backend.modules.market.errors import ImportForbidden, InvalidCandles, InvalidMarketQuery, UnknownSymbol
from backend.modules.users import service as users_service

logger = logging.getLogger(__name__)

_SYMBOL_RE = re.compile(r"^[A-Z0-9._-]{1,32}$")
DAY_MS = 86_400_000


@dataclass(frozen=True)
class Candle:
    """One complete bar: open time in Unix ms, prices and volume as Decimal."""

    time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


@dataclass(frozen=True)
class MarketSymbol:
    """A symbol and where its data comes from."""

    info: SymbolInfo
    sources: tuple[str, ...]  # "mock", "import"
    intervals: tuple[str, ...]


@dataclass(frozen=True)
class Snapshot:
    """A symbol's latest price; open/high/low/volume of its current UTC day; change vs the day before.

    ``time`` is the open time (Unix ms) of the bar whose close is ``price``.
    """

    symbol: str
    price: Decimal
    change: Decimal
    change_percent: Decimal
    open: Decimal
    high: Decimal
    low: Decimal
    volume: Decimal
    time: int


@dataclass(frozen=True)
class ImportResult:
    """What an import wrote: rows upserted and the open times (Unix ms) they span."""

    symbol: str
    interval: str
    rows: int
    first_time: int
    last_time: int


def _dec(value: float) -> Decimal:
    return Decimal(repr(float(value)))


def load_bars(
    *,
    symbol: str,
    interval: str,
    start_ms: int,
    end_ms: int,
    provider: str = "auto",
    now_ms: int | None = None,
) -> Bars:
    """Return bars complete at ``now_ms`` (default: now) with open time in [start_ms, end_ms), ascending.

    ``provider``: "db" (stored candles), "mock" (MockProvider) or "auto" (imported candles for
    that symbol/interval when any exist, else the mock).
    """
    return sources.resolve(symbol, interval, provider, now_ms=now_ms).bars(int(start_ms), int(end_ms))


def load_last_bars(
    *, symbol: str, interval: str, count: int, end_ms: int | None = None, provider: str = "auto"
) -> Bars:
    """Return the latest ``count`` complete bars opening before ``end_ms`` (default: now), ascending.

    Unlike a time window this also holds ``count`` bars when stored candles have gaps.
    """
    source = sources.resolve(symbol, interval, provider, now_ms=end_ms)
    return source.last(source.now_ms, int(count)) if count > 0 else Bars.empty()


def latest_bar(
    *, symbol: str, interval: str, now_ms: int | None = None, provider: str = "auto"
) -> Candle | None:
    """Return the latest bar complete at ``now_ms`` (default: now), or None when there is none."""
    last = sources.resolve(symbol, interval, provider, now_ms=now_ms).last(2**62, 1)
    if len(last) == 0:
        return None
    return Candle(
        int(last.time[0]), *(_dec(getattr(last, f)[0]) for f in ("open", "high", "low", "close", "volume"))
    )


def list_symbols() -> list[MarketSymbol]:
    """Return every symbol: the mock's, then imported-only ones, with sources and intervals."""
    stored = store.stored_series()
    result = []
    for symbol, spec in MOCK_SPECS.items():
        imported = sorted(
            (iv for iv, srcs in stored.get(symbol, {}).items() if "import" in srcs), key=INTERVALS.index
        )
        result.append(MarketSymbol(spec.info, ("mock", "import") if imported else ("mock",), INTERVALS))
    for symbol in sorted(set(stored) - set(MOCK_SPECS)):
        intervals = tuple(sorted(stored[symbol], key=INTERVALS.index))
        kinds = tuple(sorted(set().union(*stored[symbol].values())))
        result.append(
            MarketSymbol(SymbolInfo(symbol, f"{symbol} (imported data)", "stock"), kinds, intervals)
        )
    return result


def find_symbol(symbol: str) -> MarketSymbol:
    """Return one symbol's description; raise UnknownSymbol."""
    name = sources.normalize_symbol(symbol)
    for item in list_symbols():
        if item.info.symbol == name:
            return item
    raise UnknownSymbol(f"Unknown symbol {name!r}.", details={"symbol": name})


def _check_import(symbol: str, interval: str, bars: Bars) -> str:
    name = sources.normalize_symbol(symbol)
    if not _SYMBOL_RE.match(name):
        raise InvalidCandles(
            "A symbol is 1-32 characters of A-Z, 0-9, '.', '_' or '-'.",
            fields={"symbol": ["Use 1-32 characters of A-Z, 0-9, '.', '_' or '-'."]},
        )
    sources.check_interval(interval)
    if len(bars) == 0:
        raise InvalidCandles("There are no candles to import.")
    off_grid = bars.time[bars.time % interval_ms(interval) != 0]
    if len(off_grid):
        raise InvalidCandles(
            f"Candle times must be {interval} bar open times.", details={"times": off_grid[:5].tolist()}
        )
    if len(bars) > 1 and not np.all(np.diff(bars.time) > 0):
        raise InvalidCandles("Candle times must be strictly ascending.")
    _check_prices(bars)
    return name


def _check_prices(bars: Bars) -> None:
    prices = np.stack([bars.open, bars.high, bars.low, bars.close])
    ok = (
        np.isfinite(prices).all(axis=0)
        & (prices > 0).all(axis=0)
        & np.isfinite(bars.volume)
        & (bars.volume >= 0)
        & (bars.low <= np.minimum(bars.open, bars.close))
        & (bars.high >= np.maximum(bars.open, bars.close))
    )
    if not ok.all():
        bad = bars.time[~ok][:5].tolist()
        raise InvalidCandles(
            "Candles need finite positive prices with low <= open, close <= high and a non-negative volume.",
            details={"times": bad},
        )


def _parse_csv(text: str, interval: str) -> Bars:
    sources.check_interval(interval)
    try:
        return parse_ohlcv_csv(text, interval=interval)
    except CSVFormatError as exc:
        rows = [{"line": e.line, "message": e.message} for e in exc.errors]
        raise InvalidCandles(
            f"The CSV cannot be imported: {exc}", details={"rows": rows, "total": exc.total}
        ) from None


def _write(symbol: str, interval: str, bars: Bars, source: str) -> ImportResult:
    name = _check_import(symbol, interval, bars)
    rows = store.upsert(name, interval, bars, source=source)
    logger.info("stored %d %s %s candles (%s)", rows, name, interval, source)
    return ImportResult(name, interval, rows, int(bars.time[0]), int(bars.time[-1]))


@transactional
def import_candles(
    *, symbol: str, interval: str, bars: Bars | None = None, csv_text: str | None = None
) -> ImportResult:
    """Store candles from bars or CSV text, all or nothing; same-time rows are replaced."""
    if bars is None and csv_text is not None:
        bars = _parse_csv(csv_text, interval)
    elif bars is None or csv_text is not None:
        raise InvalidCandles("Give either bars or CSV text to import.")
    return _write(symbol, interval, bars, "import")


@transactional
def import_uploaded_csv(*, actor_id: str, file_id: str, symbol: str, interval: str) -> ImportResult:
    """Import an uploaded CSV file (admins only: candles are shared by every user)."""
    if not users_service.get_user(user_id=actor_id).is_admin:
        raise ImportForbidden()
    _file, content = files_service.get_file_content(actor_id=actor_id, file_id=file_id)
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidCandles(
            "The file is not UTF-8 text.", fields={"file_id": ["Not a UTF-8 CSV file."]}
        ) from None
    return _write(symbol, interval, _parse_csv(text, interval), "import")


@transactional
def seed_mock(
    *, symbols: list[str] | None = None, interval: str = "1h", days: int = 30, now_ms: int | None = None
) -> list[ImportResult]:
    """Materialise the mock's last ``days`` of bars into the table (never over imported rows)."""
    results = []
    for symbol in symbols or list(MOCK_SPECS):
        source = sources.resolve(symbol, interval, "mock", now_ms=now_ms)
        bars = source.bars(source.complete_before - int(days) * DAY_MS, source.complete_before)
        if len(bars):
            results.append(_write(source.symbol, interval, bars, "mock"))
    return results


def get_snapshot(*, symbol: str, now_ms: int | None = None) -> Snapshot:
    """Return the latest price and today's (UTC) open/high/low/volume and change vs yesterday."""
    name = sources.normalize_symbol(symbol)
    interval = store.finest_imported_interval(name) or ("1m" if name in MOCK_SPECS else None)
    if interval is None:
        raise UnknownSymbol(f"Unknown symbol {name!r}.", details={"symbol": name})
    src = sources.resolve(name, interval, now_ms=now_ms)
    last = src.last(2**62, 1)
    if len(last) == 0:
        raise UnknownSymbol(f"No complete bars for {name!r} yet.", details={"symbol": name})
    day_start = floor_time(int(last.time[0]), "1d")
    today = src.bars(day_start, int(last.time[0]) + src.step)
    prev_time = src.before(day_start)
    prev_close = (
        src.bars(prev_time, prev_time + src.step).close[0] if prev_time is not None else today.open[0]
    )
    return _snapshot(find_symbol(name).info, today, float(prev_close))


def _snapshot(info: SymbolInfo, today: Bars, prev_close: float) -> Snapshot:
    decimals = len(str(info.pricescale)) - 1
    price = float(today.close[-1])
    change = round(price - prev_close, decimals)
    return Snapshot(
        symbol=info.symbol,
        price=_dec(price),
        change=_dec(change),
        change_percent=_dec(round(100.0 * change / prev_close, 4)) if prev_close else Decimal(0),
        open=_dec(today.open[0]),
        high=_dec(today.high.max()),
        low=_dec(today.low.min()),
        volume=_dec(round(float(today.volume.sum()), 6)),
        time=int(today.time[-1]),
    )


def normalize_symbol(symbol: str | None) -> str:
    """Return the canonical ticker: upper case, without a TradingView ``EXCHANGE:`` prefix."""
    return sources.normalize_symbol(symbol)


def history_payload(
    *, symbol: str, resolution: str, from_s: int | None, to_s: int | None, countback: int | None
) -> dict:
    """Build a UDF history payload (ok, or no_data with nextTime); raise ValueError or AppError."""
    request = udf.parse_history_request(resolution, from_s, to_s, countback)
    src = sources.resolve(symbol, request.interval)
    if request.countback:
        bars = src.last(request.end_ms, request.countback)
    else:
        bars = src.last(request.end_ms, udf.MAX_HISTORY_BARS, start_ms=request.start_ms)
    earlier = None
    if len(bars) == 0:
        earlier = src.before(request.end_ms if request.countback else request.start_ms)
    return udf.history_payload(bars, request, earlier_ms=earlier)


def get_history(
    *, symbol: str, resolution: str, from_s: int | None, to_s: int | None, countback: int | None
) -> dict:
    """Return the UDF history payload for the enveloped API; raise InvalidMarketQuery/UnknownSymbol."""
    try:
        return history_payload(
            symbol=symbol, resolution=resolution, from_s=from_s, to_s=to_s, countback=countback
        )
    except ValueError as exc:
        raise InvalidMarketQuery(str(exc)) from None
