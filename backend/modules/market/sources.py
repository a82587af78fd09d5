"""Where a symbol's bars come from: the candles table or the deterministic mock.

"auto" picks imported candles when that symbol/interval has any, else the mock (for the mock's
symbols), else whatever the table holds (materialised mock rows). Both sources serve complete
bars only: open time + interval <= now.

Mock bars are deterministic (seed, symbol, interval, range), so each process keeps the latest
ones in a bounded LRU (``MARKET_MOCK_CACHE_BARS`` bars in all), keyed by the first day and the
end: re-running a backtest on the same range skips the generator, and so do the bots whose
windows start on the same day. Cached bars are shared, and like every bars value they are never
written to (numpy arrays stay writeable: read-only ones would make numba compile other kernels).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app

from backend.core.db import now_ms as wall_clock_ms
from backend.domain.bars import Bars
from backend.domain.marketdata.intervals import DAY_MS, ceil_time, floor_time, interval_ms
from backend.domain.marketdata.mock import MOCK_SPECS, MockProvider
from backend.modules.market import store
from backend.modules.market.errors import InvalidMarketQuery, UnknownSymbol

PROVIDERS = ("auto", "db", "mock")


def normalize_symbol(symbol: str | None) -> str:
    """Return the canonical ticker: upper case, without a TradingView ``EXCHANGE:`` prefix."""
    name = (symbol or "").strip().upper()
    return name.rsplit(":", 1)[-1]


def check_interval(interval: str) -> int:
    """Return the interval length in ms; raise InvalidMarketQuery for an unknown interval."""
    try:
        return interval_ms(interval)
    except ValueError as exc:
        raise InvalidMarketQuery(str(exc), fields={"interval": [str(exc)]}) from None


def mock_provider(now_ms: Callable[[], int] | None = None) -> MockProvider:
    """Return the configured MockProvider (seed from MARKET_MOCK_SEED)."""
    return MockProvider(seed=int(current_app.config["MARKET_MOCK_SEED"]), now_ms=now_ms)


_CacheKey = tuple[int, str, str, int, int]


class _BarsCache:
    """A least-recently-used map of mock bars, bounded by the bars it holds (thread-safe)."""

    def __init__(self) -> None:
        self._items: OrderedDict[_CacheKey, Bars] = OrderedDict()
        self._bars = 0
        self._lock = threading.Lock()

    def get(self, key: _CacheKey) -> Bars | None:
        """Return the bars stored under ``key`` (now the most recently used), or None."""
        with self._lock:
            bars = self._items.get(key)
            if bars is not None:
                self._items.move_to_end(key)
            return bars

    def put(self, key: _CacheKey, bars: Bars, limit: int) -> None:
        """Store ``bars``, evicting the least recently used until at most ``limit`` bars are held."""
        if len(bars) > limit:
            return
        with self._lock:
            old = self._items.pop(key, None)
            self._bars += len(bars) - (len(old) if old is not None else 0)
            self._items[key] = bars
            while self._bars > limit:
                _, evicted = self._items.popitem(last=False)
                self._bars -= len(evicted)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._items.clear()
            self._bars = 0


MOCK_BARS_CACHE = _BarsCache()


def _mock_bars(symbol: str, interval: str, start_ms: int, end_ms: int, now_ms: int) -> Bars:
    """Return mock bars in [start_ms, end_ms) (end already clipped to complete bars), cached.

    Entries start at 00:00 UTC of ``start_ms``'s day: the generator computes whole days anyway, so
    every window starting that day (each bot's trailing window, say) is a slice of one entry.
    """
    seed = int(current_app.config["MARKET_MOCK_SEED"])
    day_start = int(start_ms) - int(start_ms) % DAY_MS
    key = (seed, symbol, interval, day_start, int(end_ms))
    bars = MOCK_BARS_CACHE.get(key)
    if bars is None:
        bars = MockProvider(seed=seed, now_ms=lambda: now_ms).get_bars(symbol, interval, day_start, end_ms)
        MOCK_BARS_CACHE.put(key, bars, int(current_app.config["MARKET_MOCK_CACHE_BARS"]))
    return bars if day_start == start_ms else bars.between(start_ms, end_ms)


@dataclass(frozen=True)
class Source:
    """One symbol/interval series from one provider, seen at time ``now_ms``."""

    kind: str  # "db" | "mock"
    symbol: str
    interval: str
    now_ms: int

    @property
    def step(self) -> int:
        return interval_ms(self.interval)

    @property
    def complete_before(self) -> int:
        """Bars opening before this time (Unix ms) are complete."""
        return floor_time(self.now_ms, self.interval)

    def bars(self, start_ms: int, end_ms: int) -> Bars:
        """Return bars with open time in [start_ms, end_ms), ascending."""
        end_ms = min(int(end_ms), self.complete_before)
        if self.kind == "db":
            return store.read_range(self.symbol, self.interval, start_ms, end_ms)
        return _mock_bars(self.symbol, self.interval, start_ms, end_ms, self.now_ms)

    def last(self, end_ms: int, count: int, start_ms: int | None = None) -> Bars:
        """Return the latest ``count`` bars opening before end_ms (and at or after start_ms)."""
        end_ms = min(int(end_ms), self.complete_before)
        if self.kind == "db":
            return store.read_last(self.symbol, self.interval, end_ms, count, start_ms)
        # The mock has no gaps: `count` bars end at the last grid time before end_ms.
        window_start = ceil_time(end_ms, self.interval) - count * self.step
        return self.bars(window_start if start_ms is None else max(window_start, start_ms), end_ms)

    def before(self, t_ms: int) -> int | None:
        """Return the open time (Unix ms) of the latest complete bar opening before t_ms, or None."""
        t_ms = min(int(t_ms), self.complete_before)
        if self.kind == "db":
            return store.last_time_before(self.symbol, self.interval, t_ms)
        latest = ceil_time(t_ms, self.interval) - self.step
        first = mock_provider().first_time_ms(self.symbol, self.interval)
        return latest if latest >= first else None


def resolve(symbol: str, interval: str, provider: str = "auto", *, now_ms: int | None = None) -> Source:
    """Pick the source serving symbol/interval; raise UnknownSymbol or InvalidMarketQuery."""
    check_interval(interval)
    if provider not in PROVIDERS:
        message = f"unknown provider {provider!r}; use one of {', '.join(PROVIDERS)}"
        raise InvalidMarketQuery(message, fields={"provider": [message]})
    now = wall_clock_ms() if now_ms is None else int(now_ms)
    kind = _pick(normalize_symbol(symbol), interval, provider)
    return Source(kind, normalize_symbol(symbol), interval, now)


def _pick(symbol: str, interval: str, provider: str) -> str:
    if provider == "mock":
        if symbol in MOCK_SPECS:
            return "mock"
        raise UnknownSymbol(f"The mock provider has no symbol {symbol!r}.", details={"symbol": symbol})
    if provider == "db" or store.has_series(symbol, interval, source="import"):
        if store.has_series(symbol, interval):
            return "db"
        raise UnknownSymbol(
            f"No {interval} candles are stored for {symbol!r}.",
            details={"symbol": symbol, "interval": interval},
        )
    if symbol in MOCK_SPECS:
        return "mock"
    if store.has_series(symbol, interval):
        return "db"
    raise UnknownSymbol(f"Unknown symbol {symbol!r}.", details={"symbol": symbol})
