"""Errors of the market module."""

from __future__ import annotations

from backend.core.errors import Forbidden, Invalid, NotFound


class UnknownSymbol(NotFound):
    """Raise when no provider serves the requested symbol (or that symbol/interval)."""

    code = "market.unknown_symbol"
    default_message = "Unknown symbol."


class InvalidMarketQuery(Invalid):
    """Raise when an interval, resolution, provider or time range is not acceptable."""

    code = "market.invalid_query"


class InvalidCandles(Invalid):
    """Raise when CSV text or bars cannot be imported (row problems go in `details.rows`)."""

    code = "market.invalid_candles"


class ImportForbidden(Forbidden):
    """Raise when a non-admin tries to change the shared market data."""

    code = "market.import_forbidden"
    default_message = "Only administrators may import market data."
