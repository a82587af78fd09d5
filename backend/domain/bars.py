"""OHLCV bars as column arrays: the one market-data shape every pure core shares.

Units: ``time`` is the bar's *open* time in Unix milliseconds (UTC), int64, strictly
ascending. Prices and volume are float64. A bar at index ``t`` is complete once
``time[t] + interval_ms`` has passed; cores that act on a bar's close act at that moment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

_FIELDS = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True)
class Bars:
    """Column-oriented OHLCV bars (n bars, every array of length n)."""

    time: np.ndarray  # int64 Unix ms, ascending
    open: np.ndarray  # float64
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.time)
        for name in _FIELDS:
            if len(getattr(self, name)) != n:
                raise ValueError(f"bars.{name} has {len(getattr(self, name))} values, time has {n}")

    def __len__(self) -> int:
        return len(self.time)

    @classmethod
    def from_arrays(
        cls,
        time: ArrayLike,
        open: ArrayLike,  # noqa: A002 - the OHLCV name
        high: ArrayLike,
        low: ArrayLike,
        close: ArrayLike,
        volume: ArrayLike,
    ) -> Bars:
        """Build bars from any array-likes, coercing to int64 times and float64 values."""
        return cls(
            time=np.ascontiguousarray(time, dtype=np.int64),
            open=np.ascontiguousarray(open, dtype=np.float64),
            high=np.ascontiguousarray(high, dtype=np.float64),
            low=np.ascontiguousarray(low, dtype=np.float64),
            close=np.ascontiguousarray(close, dtype=np.float64),
            volume=np.ascontiguousarray(volume, dtype=np.float64),
        )

    @classmethod
    def empty(cls) -> Bars:
        """Zero bars."""
        return cls.from_arrays([], [], [], [], [], [])

    def slice(self, start: int, stop: int) -> Bars:
        """Bars ``[start, stop)`` by index (views, no copy)."""
        return Bars(*(getattr(self, f)[start:stop] for f in ("time", *_FIELDS)))

    def between(self, start_ms: int, end_ms: int) -> Bars:
        """Bars whose open time is in ``[start_ms, end_ms)``."""
        lo = int(np.searchsorted(self.time, start_ms, side="left"))
        hi = int(np.searchsorted(self.time, end_ms, side="left"))
        return self.slice(lo, hi)
