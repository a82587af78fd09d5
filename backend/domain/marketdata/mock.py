"""A deterministic synthetic market: seeded Brownian paths with an intraday activity U-shape.

Construction (all in log price, all times Unix ms UTC, bars are 1m bars aggregated upwards):

* Daily anchors: the log price at each 00:00 UTC is a Brownian bridge (daily sd =
  ``annual_vol / sqrt(365)``) between "knots" every 32 days; knot levels are smooth seeded noise
  around ``log(base_price)`` with sd ``range_sd``, so prices wander like GBM locally but stay in a
  symbol-specific band for decades.
* Each UTC day: a 1440-step Brownian bridge from that day's anchor to the next day's, with
  per-minute volatility following the symbol's session U-shape (busy at open and close, quiet
  outside the session); wicks and volume come from the same per-day random stream.

Every random number is drawn from a generator seeded by (seed, symbol, stream, index), and each
block of days is always computed whole, so a bar is bit-identical whatever range it is requested
in, and a request near "now" only computes the days it covers. Bars are served from
``MOCK_START_MS`` up to the last complete bar before ``now``. Sessions shape activity only: the
mock trades 24x7 for every symbol.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from backend.domain.bars import Bars
from backend.domain.marketdata.base import SymbolInfo, UnknownSymbolError
from backend.domain.marketdata.intervals import DAY_MS, MINUTE_MS, ceil_time, floor_time, interval_ms

MOCK_START_MS = 1_514_764_800_000  # 2018-01-01T00:00:00Z, the first bar the mock serves
_MINUTES = 1440
_KNOT_DAYS = 32
_OCTAVES = ((1, 0.45), (4, 0.6), (16, 0.65))  # (period in knots, weight) of the knot-level noise
_CHUNK_DAYS = 128  # days generated per pass, bounds memory for long daily requests
_MINUTE_CHUNK_DAYS = 16  # days of 1m bars generated per pass into the preallocated output
_STREAM_KNOT, _STREAM_BLOCK, _STREAM_DAY = 1, 2, 3


@dataclass(frozen=True)
class MockSpec:
    """How one synthetic symbol behaves (prices in quote currency, volume per 1m bar)."""

    info: SymbolInfo
    base_price: float
    annual_vol: float  # sd of log returns over a year
    range_sd: float  # sd of the long-run log level around log(base_price)
    volume: float  # mean volume of a 1m bar
    session: tuple[int, int] = (0, _MINUTES)  # busy window, UTC minutes of the day [start, end)


def _spec(
    symbol: str,
    description: str,
    kind: str,
    base: float,
    vol: float,
    band: float,
    volume: float,
    session: tuple[int, int] = (0, _MINUTES),
    decimals: int = 2,
    exchange: str = "QYQ",
) -> MockSpec:
    info = SymbolInfo(
        symbol,
        description,
        kind,
        exchange=exchange,
        pricescale=10**decimals,
        currency="USDT" if symbol.endswith("USDT") else "USD",
    )
    return MockSpec(info, base, vol, band, volume, session)


MOCK_SPECS: dict[str, MockSpec] = {
    s.info.symbol: s
    for s in (
        _spec("XAUUSD", "Gold spot / US dollar", "commodity", 2200.0, 0.15, 0.045, 150.0, (420, 1260)),
        _spec("XAGUSD", "Silver spot / US dollar", "commodity", 26.0, 0.25, 0.08, 400.0, (420, 1260), 3),
        _spec("BTCUSDT", "Bitcoin / Tether", "crypto", 45000.0, 0.6, 0.17, 8.0, exchange="BINANCE"),
        _spec("ETHUSDT", "Ethereum / Tether", "crypto", 2500.0, 0.7, 0.2, 90.0, exchange="BINANCE"),
        _spec("EURUSD", "Euro / US dollar", "forex", 1.09, 0.07, 0.025, 900.0, (420, 1260), 5),
        _spec("GBPUSD", "British pound / US dollar", "forex", 1.27, 0.08, 0.03, 700.0, (420, 1260), 5),
        _spec("AAPL", "Apple Inc.", "stock", 180.0, 0.28, 0.12, 60000.0, (810, 1200), exchange="NASDAQ"),
        _spec(
            "MSFT",
            "Microsoft Corporation",
            "stock",
            380.0,
            0.25,
            0.1,
            30000.0,
            (810, 1200),
            exchange="NASDAQ",
        ),
        _spec(
            "SPY", "SPDR S&P 500 ETF", "index", 450.0, 0.15, 0.06, 90000.0, (810, 1200), exchange="NYSEARCA"
        ),
    )
}


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class MockProvider:
    """Deterministic synthetic bars for the symbols in ``MOCK_SPECS``."""

    def __init__(self, seed: int = 0, now_ms: Callable[[], int] | None = None) -> None:
        self._seed = int(seed)
        self._now_ms = now_ms or _wall_clock_ms

    def symbols(self) -> list[SymbolInfo]:
        """Return the synthetic symbols, in a fixed order."""
        return [spec.info for spec in MOCK_SPECS.values()]

    def first_time_ms(self, symbol: str, interval: str) -> int:
        """Return the open time (Unix ms) of the first bar served for ``symbol``/``interval``."""
        self._spec(symbol)
        return ceil_time(MOCK_START_MS, interval)

    def get_bars(self, symbol: str, interval: str, start_ms: int, end_ms: int) -> Bars:
        """Return complete bars with open time in ``[start_ms, end_ms)`` (Unix ms), ascending."""
        spec = self._spec(symbol)
        step = interval_ms(interval)
        lo = max(ceil_time(start_ms, interval), MOCK_START_MS)
        hi = min(int(end_ms), floor_time(self._now_ms(), interval))
        if lo >= hi:
            return Bars.empty()
        first_day, last_day = lo // DAY_MS, (hi - 1) // DAY_MS
        if step == MINUTE_MS:
            return self._minute_range(spec, first_day, last_day).between(lo, hi)
        parts = []
        for day0 in range(first_day, last_day + 1, _CHUNK_DAYS):
            days = np.arange(day0, min(day0 + _CHUNK_DAYS, last_day + 1), dtype=np.int64)
            parts.append(self._aggregate(self._minute_bars(spec, days), step // MINUTE_MS).between(lo, hi))
        if len(parts) == 1:
            return parts[0]
        return Bars.from_arrays(*(np.concatenate([getattr(p, f) for p in parts]) for f in _COLUMNS))

    def _spec(self, symbol: str) -> MockSpec:
        try:
            return MOCK_SPECS[symbol]
        except KeyError:
            raise UnknownSymbolError(f"unknown symbol {symbol!r}") from None

    def _rng(self, symbol: str, stream: int, *index: int) -> np.random.Generator:
        key = [self._seed, zlib.crc32(symbol.encode()), stream, *(int(i) for i in index)]
        return np.random.default_rng(np.random.SeedSequence(key))

    def _knot_levels(self, spec: MockSpec, knots: np.ndarray) -> np.ndarray:
        """Return the log level at each knot index (smooth seeded noise around log(base))."""
        norm = np.sqrt(sum(w * w for _, w in _OCTAVES))
        level = np.zeros(len(knots))
        for octave, (period, weight) in enumerate(_OCTAVES):
            cell, frac = np.divmod(knots, period)
            symbol = spec.info.symbol
            a = np.array([self._rng(symbol, _STREAM_KNOT, octave, c).standard_normal() for c in cell])
            b = np.array([self._rng(symbol, _STREAM_KNOT, octave, c + 1).standard_normal() for c in cell])
            smooth = (1 - np.cos(np.pi * frac / period)) / 2
            level += weight * (a + (b - a) * smooth)
        levels: np.ndarray = np.log(spec.base_price) + spec.range_sd * level / norm
        return levels

    def _day_anchors(self, spec: MockSpec, days: np.ndarray) -> np.ndarray:
        """Return the log price at 00:00 UTC of each day index (days since the Unix epoch)."""
        first_knot, last_knot = int(days[0]) // _KNOT_DAYS, int(days[-1]) // _KNOT_DAYS
        knots = np.arange(first_knot, last_knot + 2, dtype=np.int64)
        levels = self._knot_levels(spec, knots)
        sd = spec.annual_vol / np.sqrt(365.0)
        blocks = []
        for i, knot in enumerate(knots[:-1]):
            steps = self._rng(spec.info.symbol, _STREAM_BLOCK, knot).standard_normal(_KNOT_DAYS) * sd
            bridge = _bridge(steps, np.full(_KNOT_DAYS, sd * sd), levels[i + 1] - levels[i])
            blocks.append(levels[i] + bridge[0, :-1])
        path = np.concatenate(blocks)
        anchors: np.ndarray = path[days - first_knot * _KNOT_DAYS]
        return anchors

    def _minute_range(self, spec: MockSpec, first_day: int, last_day: int) -> Bars:
        """Return every 1m bar of the UTC days ``first_day..last_day``, generated a few days at a time.

        The columns are allocated once at their final size and each block of ``_MINUTE_CHUNK_DAYS``
        days is generated and copied in, so the generator's temporaries (about ten arrays the size
        of its block) stay a few MB instead of a multiple of the output. Each day is computed from
        its own random stream and the anchors of whole knot blocks, so the bars are bit-identical
        to generating every day in one pass.
        """
        n_days = last_day - first_day + 1
        cols = {
            f: np.empty(n_days * _MINUTES, dtype=np.int64 if f == "time" else np.float64) for f in _COLUMNS
        }
        for day0 in range(first_day, last_day + 1, _MINUTE_CHUNK_DAYS):
            days = np.arange(day0, min(day0 + _MINUTE_CHUNK_DAYS, last_day + 1), dtype=np.int64)
            part = self._minute_bars(spec, days)
            at = (day0 - first_day) * _MINUTES
            for f in _COLUMNS:
                cols[f][at : at + len(part)] = getattr(part, f)
        return Bars.from_arrays(*(cols[f] for f in _COLUMNS))

    def _minute_bars(self, spec: MockSpec, days: np.ndarray) -> Bars:
        """Return every 1m bar of the given whole UTC days (n_days * 1440 bars)."""
        anchors = self._day_anchors(spec, np.r_[days, days[-1] + 1])
        shape = _activity(spec.session)
        sd = spec.annual_vol / np.sqrt(365.0) * shape / np.sqrt(np.sum(shape * shape))
        # float32 draws: half the generator cost, and noise needs no more precision.
        draws = np.stack(
            [
                self._rng(spec.info.symbol, _STREAM_DAY, d).standard_normal((4, _MINUTES), dtype=np.float32)
                for d in days
            ]
        )
        z, wick_hi, wick_lo, vol_noise = (draws[:, k, :] for k in range(4))
        log_close = anchors[:-1, None] + _bridge(z * sd, sd * sd, np.diff(anchors))[:, 1:]
        close = np.exp(log_close)
        open_ = np.concatenate([np.exp(anchors[:-1])[:, None], close[:, :-1]], axis=1)
        high = np.maximum(open_, close) * np.exp(np.abs(wick_hi) * sd * 0.6)
        low = np.minimum(open_, close) * np.exp(-np.abs(wick_lo) * sd * 0.6)
        volume = spec.volume * (shape / shape.mean()) * np.exp(0.35 * vol_noise - 0.06)
        volume = volume * (1 + 0.6 * np.abs(z))  # same evaluation order as one expression
        tick = float(spec.info.pricescale)
        times = (days[:, None] * _MINUTES + np.arange(_MINUTES)) * MINUTE_MS
        o, h, lo, c = (np.round(p * tick) / tick for p in (open_, high, low, close))
        return Bars.from_arrays(
            times.ravel(), o.ravel(), h.ravel(), lo.ravel(), c.ravel(), np.round(volume, 3).ravel()
        )

    @staticmethod
    def _aggregate(minutes: Bars, per_bar: int) -> Bars:
        """Aggregate whole days of 1m bars into bars of ``per_bar`` minutes (divides 1440)."""
        if per_bar == 1:
            return minutes
        rows = len(minutes) // per_bar
        cols = {f: getattr(minutes, f).reshape(rows, per_bar) for f in _COLUMNS}
        return Bars.from_arrays(
            cols["time"][:, 0],
            cols["open"][:, 0],
            cols["high"].max(axis=1),
            cols["low"].min(axis=1),
            cols["close"][:, -1],
            np.round(cols["volume"].sum(axis=1), 3),
        )


_COLUMNS = ("time", "open", "high", "low", "close", "volume")


def _bridge(steps: np.ndarray, variances: np.ndarray, target: ArrayLike) -> np.ndarray:
    """Turn rows of random steps into paths from 0 to ``target`` (Brownian bridges), n+1 points.

    ``steps`` is (n,) or (rows, n); ``target`` a scalar or one value per row; returns (rows, n+1).
    """
    steps = np.atleast_2d(steps)
    target = np.reshape(np.asarray(target, dtype=np.float64), (-1, 1))
    walk = np.concatenate([np.zeros((len(steps), 1)), np.cumsum(steps, axis=1)], axis=1)
    clock = np.concatenate([[0.0], np.cumsum(variances)])
    path: np.ndarray = walk - clock / clock[-1] * (walk[:, -1:] - target)
    path[:, -1] = target[:, 0]
    return path


def _activity(session: tuple[int, int]) -> np.ndarray:
    """Return the relative volatility of each UTC minute: a U over the session, quiet outside."""
    start, end = session
    minute = np.arange(_MINUTES) + 0.5
    u = (minute - start) / (end - start)
    inside = (minute >= start) & (minute < end)
    return np.where(inside, 1.0 + 1.5 * (2 * u - 1) ** 2, 0.3)
