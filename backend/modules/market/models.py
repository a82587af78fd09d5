"""The market_candles table: imported (and optionally materialised mock) OHLCV bars.

Prices and volume are NUMERIC (the project's Money type): an imported CSV's decimals round-trip
exactly and the table follows the "money is NUMERIC" rule; bulk reads cast to float8 in SQL, so
the engine still gets float64 arrays without building Decimal objects. The natural key
(symbol, interval, time) is the primary key, so candles carry no UUID (nothing refers to a
single candle) and TimescaleDB can partition on ``time`` when the extension is installed.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Money, now_ms
from backend.extensions import Model

SOURCES = ("import", "mock")


class MarketCandle(Model):
    """One bar: open time in Unix ms (UTC), OHLCV as NUMERIC."""

    __tablename__ = "market_candles"
    __table_args__ = (
        CheckConstraint("source IN ('import', 'mock')", name="source"),
        CheckConstraint("low <= high", name="low_high"),
    )

    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    interval: Mapped[str] = mapped_column(String(8), primary_key=True)
    time: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    open: Mapped[Decimal] = mapped_column(Money, nullable=False)
    high: Mapped[Decimal] = mapped_column(Money, nullable=False)
    low: Mapped[Decimal] = mapped_column(Money, nullable=False)
    close: Mapped[Decimal] = mapped_column(Money, nullable=False)
    volume: Mapped[Decimal] = mapped_column(Money, nullable=False)
    source: Mapped[str] = mapped_column(String(8), nullable=False, default="import")


class MarketSeries(Model):
    """One stored (symbol, interval, source) series and the open times it spans (Unix ms).

    Kept in step by every write, so symbol lists and "is this imported?" checks never scan candles.
    """

    __tablename__ = "market_series"

    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    interval: Mapped[str] = mapped_column(String(8), primary_key=True)
    source: Mapped[str] = mapped_column(String(8), primary_key=True)
    first_time: Mapped[int] = mapped_column(BigInteger, nullable=False)
    last_time: Mapped[int] = mapped_column(BigInteger, nullable=False)
    updated_at: Mapped[int] = mapped_column(BigInteger, nullable=False, default=now_ms, onupdate=now_ms)
