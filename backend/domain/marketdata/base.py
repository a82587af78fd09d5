"""The Provider protocol every market-data source implements, and the symbol description.

Bars follow ``backend.domain.bars``: ``time`` is the bar open time in Unix ms (UTC), ascending;
a provider returns complete bars only (``time + interval_ms <= now``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from backend.domain.bars import Bars
from backend.domain.marketdata.intervals import interval_ms


class UnknownSymbolError(LookupError):
    """Raise when a provider is asked for a symbol it does not serve."""


@dataclass(frozen=True)
class SymbolInfo:
    """What a chart or a search box needs to know about a symbol."""

    symbol: str
    description: str
    type: str  # crypto | forex | stock | commodity | index
    exchange: str = "QYQ"
    currency: str = "USD"
    pricescale: int = 100  # 10 ** price decimals
    session: str = "24x7"
    timezone: str = "Etc/UTC"


@runtime_checkable
class Provider(Protocol):
    """A source of OHLCV bars."""

    def get_bars(self, symbol: str, interval: str, start_ms: int, end_ms: int) -> Bars:
        """Return complete bars with open time in ``[start_ms, end_ms)``, ascending (Unix ms)."""
        ...

    def symbols(self) -> list[SymbolInfo]:
        """Return the symbols this provider serves."""
        ...


def resample(bars: Bars, interval: str) -> Bars:
    """Aggregate ascending bars into ``interval`` bars on the epoch grid (open times in Unix ms).

    A bucket's open is its first bar's open, high/low the extremes, close the last close and
    volume the sum. Buckets are built from whatever bars exist (gaps are not filled); the caller
    decides whether a partial last bucket is complete.
    """
    if len(bars) == 0:
        return Bars.empty()
    step = interval_ms(interval)
    bucket = (bars.time // step) * step
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    ends = np.r_[starts[1:], len(bars)] - 1
    return Bars.from_arrays(
        bucket[starts],
        bars.open[starts],
        np.maximum.reduceat(bars.high, starts),
        np.minimum.reduceat(bars.low, starts),
        bars.close[ends],
        np.add.reduceat(bars.volume, starts),
    )
