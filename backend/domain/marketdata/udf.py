"""Build TradingView UDF payloads (the raw datafeed protocol) from bars and symbol descriptions.

UDF speaks Unix **seconds**: every ``t``/``time``/``nextTime`` here is seconds, converted from
the Unix ms bar open times of ``Bars``. History ranges are ``[from, to)`` (``to`` exclusive) and
``countback`` (bars ending before ``to``) wins over ``from``. Errors are ``{"s": "error"}``
payloads; the HTTP layer sends them with status 200 as the chart library expects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from backend.domain.bars import Bars
from backend.domain.marketdata.base import SymbolInfo
from backend.domain.marketdata.intervals import RESOLUTIONS, interval_ms, resolution_to_interval

MAX_HISTORY_BARS = 10_000  # per response; the library pages further back on its own
MAX_SEARCH_RESULTS = 100
SYMBOL_TYPES = ("crypto", "forex", "stock", "commodity", "index")
MAX_TIME_S = 16_725_225_600  # 2500-01-01T00:00:00Z


def error_payload(message: str) -> dict[str, Any]:
    """Return the UDF error object."""
    return {"s": "error", "errmsg": message}


def config_payload(symbols: Iterable[SymbolInfo] = ()) -> dict[str, Any]:
    """Return the ``/config`` answer: search mode, time, marks and the supported resolutions."""
    exchanges = sorted({info.exchange for info in symbols})
    return {
        "supports_search": True,
        "supports_group_request": False,
        "supports_time": True,
        "supports_marks": True,
        "supports_timescale_marks": True,
        "supported_resolutions": list(RESOLUTIONS),
        "exchanges": [{"value": "", "name": "All Exchanges", "desc": ""}]
        + [{"value": ex, "name": ex, "desc": ex} for ex in exchanges],
        "symbols_types": [{"name": "All types", "value": ""}]
        + [{"name": kind.capitalize(), "value": kind} for kind in SYMBOL_TYPES],
    }


def symbol_payload(info: SymbolInfo) -> dict[str, Any]:
    """Return the ``/symbols`` answer (a LibrarySymbolInfo) for one symbol."""
    return {
        "name": info.symbol,
        "ticker": info.symbol,
        "full_name": f"{info.exchange}:{info.symbol}",
        "description": info.description,
        "type": info.type,
        "session": info.session,
        "timezone": info.timezone,
        "exchange": info.exchange,
        "listed_exchange": info.exchange,
        "minmov": 1,
        "pricescale": info.pricescale,
        "has_intraday": True,
        "has_daily": True,
        "has_weekly_and_monthly": False,
        "supported_resolutions": list(RESOLUTIONS),
        "intraday_multipliers": [r for r in RESOLUTIONS if r.isdigit()],
        "volume_precision": 3,
        "data_status": "streaming",
        "currency_code": info.currency,
        "format": "price",
    }


def search_payload(
    symbols: Iterable[SymbolInfo],
    *,
    query: str = "",
    type: str = "",  # noqa: A002
    exchange: str = "",
    limit: int = 30,
) -> list[dict[str, Any]]:
    """Return the ``/search`` answer: symbols whose name or description contains ``query``."""
    needle = query.strip().upper()
    found = []
    for info in symbols:
        if needle and needle not in info.symbol.upper() and needle not in info.description.upper():
            continue
        if (type and info.type != type) or (exchange and info.exchange != exchange):
            continue
        found.append(
            {
                "symbol": info.symbol,
                "full_name": f"{info.exchange}:{info.symbol}",
                "description": info.description,
                "exchange": info.exchange,
                "ticker": info.symbol,
                "type": info.type,
            }
        )
    # Exact and prefix matches first, as a user typing a ticker expects.
    found.sort(key=lambda row: (row["symbol"] != needle, not row["symbol"].startswith(needle), row["symbol"]))
    return found[: max(0, min(int(limit), MAX_SEARCH_RESULTS))]


@dataclass(frozen=True)
class HistoryRequest:
    """A validated ``/history`` query in project units (Unix ms, interval names)."""

    interval: str
    start_ms: int  # inclusive; meaningless when countback is set
    end_ms: int  # exclusive
    countback: int | None


def parse_history_request(
    resolution: str, from_s: int | None, to_s: int | None, countback: int | None
) -> HistoryRequest:
    """Validate UDF history arguments (seconds) into a HistoryRequest; raise ValueError."""
    interval = resolution_to_interval(resolution)
    if to_s is None:
        raise ValueError("to is required")
    if countback is not None and countback <= 0:
        raise ValueError("countback must be a positive number of bars")
    if countback is None:
        if from_s is None:
            raise ValueError("from is required when countback is not given")
        if from_s >= to_s:
            raise ValueError("from must be earlier than to")
    start_ms = clamp_seconds_to_ms(from_s) if from_s is not None else 0
    return HistoryRequest(
        interval, start_ms, clamp_seconds_to_ms(to_s), min(countback, MAX_HISTORY_BARS) if countback else None
    )


def clamp_seconds_to_ms(t_s: int) -> int:
    """Convert Unix seconds to ms, clamped to [0, year ~2500] so any value fits a BIGINT."""
    return max(0, min(int(t_s), MAX_TIME_S)) * 1000


def countback_start_ms(request: HistoryRequest) -> int:
    """Return the start (Unix ms) of a window that holds ``countback`` gap-free bars before ``to``."""
    if request.countback is None:
        raise ValueError("countback_start_ms needs a request with a countback")
    return request.end_ms - request.countback * interval_ms(request.interval)


def history_payload(bars: Bars, request: HistoryRequest, *, earlier_ms: int | None = None) -> dict[str, Any]:
    """Return the ``/history`` answer for bars fetched for ``request`` (any window ending at ``to``).

    ``earlier_ms`` is the open time (Unix ms) of the nearest bar before the window, if any: an
    empty answer then carries it as ``nextTime`` (seconds) so the library can jump back.
    """
    lo = 0 if request.countback else int(bars.time.searchsorted(request.start_ms, side="left"))
    hi = int(bars.time.searchsorted(request.end_ms, side="left"))
    keep = request.countback or MAX_HISTORY_BARS
    window = bars.slice(max(lo, hi - keep), hi)
    if len(window) == 0:
        payload: dict[str, Any] = {"s": "no_data"}
        if earlier_ms is not None:
            payload["nextTime"] = int(earlier_ms) // 1000
        return payload
    return {
        "s": "ok",
        "t": (window.time // 1000).tolist(),
        "o": window.open.tolist(),
        "h": window.high.tolist(),
        "l": window.low.tolist(),
        "c": window.close.tolist(),
        "v": window.volume.tolist(),
    }


def quote_payload(name: str, info: SymbolInfo | None, snapshot: Mapping[str, float] | None) -> dict[str, Any]:
    """Return one ``/quotes`` entry from a snapshot (price, change, changePercent, open, high,
    low, volume), or the per-symbol error when the symbol is unknown."""
    if info is None or snapshot is None:
        return {"s": "error", "n": name, "v": {}}
    price = float(snapshot["price"])
    return {
        "s": "ok",
        "n": name,
        "v": {
            "ch": float(snapshot["change"]),
            "chp": float(snapshot["changePercent"]),
            "short_name": info.symbol,
            "exchange": info.exchange,
            "description": info.description,
            "lp": price,
            "ask": price,
            "bid": price,
            "spread": 0.0,
            "open_price": float(snapshot["open"]),
            "high_price": float(snapshot["high"]),
            "low_price": float(snapshot["low"]),
            "prev_close_price": round(price - float(snapshot["change"]), 10),
            "volume": float(snapshot["volume"]),
        },
    }


@dataclass(frozen=True)
class TradeMark:
    """A trade to show on the chart: id, time (Unix ms), side (buy|sell), price, quantity."""

    id: str
    time_ms: int
    side: str
    price: float
    quantity: float
    source: str = "backtest"


def marks_payload(trades: Iterable[TradeMark], resolution: str) -> list[dict[str, Any]]:
    """Return ``/marks``: one mark per trade, on the open time (seconds) of its bar."""
    step = interval_ms(resolution_to_interval(resolution))
    return [
        {
            "id": trade.id,
            "time": (int(trade.time_ms) // step * step) // 1000,
            "color": "green" if trade.side == "buy" else "red",
            "text": f"{trade.source} {trade.side} {trade.quantity:g} @ {trade.price:g}",
            "label": "B" if trade.side == "buy" else "S",
            "labelFontColor": "white",
            "minSize": 14,
        }
        for trade in trades
    ]


def timescale_marks_payload(trades: Iterable[TradeMark], resolution: str) -> list[dict[str, Any]]:
    """Return ``/timescale_marks``: one time-axis mark per trade, on its bar's open (seconds)."""
    step = interval_ms(resolution_to_interval(resolution))
    return [
        {
            "id": trade.id,
            "time": (int(trade.time_ms) // step * step) // 1000,
            "color": "green" if trade.side == "buy" else "red",
            "label": "B" if trade.side == "buy" else "S",
            "tooltip": [f"{trade.source} {trade.side}", f"{trade.quantity:g} @ {trade.price:g}"],
        }
        for trade in trades
    ]
