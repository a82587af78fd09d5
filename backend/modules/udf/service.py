"""The TradingView UDF datafeed: raw payloads built from the market, backtests and bots services.

Every function here returns a payload and never raises for bad input: UDF errors are
``{"s": "error", "errmsg": ...}`` bodies sent with HTTP 200. Query values arrive as strings;
times on the wire are Unix seconds. The feed sits above bots in the module graph because its
marks show the caller's backtest and paper trades.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from backend.core.db import now_ms
from backend.core.errors import AppError
from backend.domain.marketdata import udf
from backend.domain.marketdata.intervals import resolution_to_interval
from backend.modules.backtests import service as backtests_service
from backend.modules.bots import service as bots_service
from backend.modules.market import service as market_service

logger = logging.getLogger(__name__)


def _int_arg(args: Mapping[str, str], name: str) -> int | None:
    raw = (args.get(name) or "").strip()
    if raw == "":
        return None
    try:
        return int(float(raw))
    except (ValueError, OverflowError):
        raise ValueError(f"{name} must be an integer") from None


def _guarded(build: Callable[[], Any]) -> Any:
    """Run a payload builder, turning input and lookup errors into the UDF error object."""
    try:
        return build()
    except AppError as exc:
        return udf.error_payload("unknown_symbol" if exc.reason == "not_found" else exc.message)
    except ValueError as exc:
        return udf.error_payload(str(exc))


def config() -> dict:
    """Return the /config payload."""
    return udf.config_payload(item.info for item in market_service.list_symbols())


def symbol_info(args: Mapping[str, str]) -> dict:
    """Return the /symbols payload for ``symbol`` (or the unknown_symbol error)."""
    return _guarded(lambda: udf.symbol_payload(market_service.find_symbol(args.get("symbol") or "").info))


def search(args: Mapping[str, str]) -> Any:
    """Return the /search payload: matching symbols as a bare array."""

    def build() -> list[dict]:
        limit = _int_arg(args, "limit") or 30
        return udf.search_payload(
            (item.info for item in market_service.list_symbols()),
            query=args.get("query", ""),
            type=args.get("type", ""),
            exchange=args.get("exchange", ""),
            limit=limit,
        )

    return _guarded(build)


def history(args: Mapping[str, str]) -> dict:
    """Return the /history payload (ok, no_data with nextTime, or error)."""
    return _guarded(
        lambda: market_service.history_payload(
            symbol=args.get("symbol") or "",
            resolution=args.get("resolution") or "",
            from_s=_int_arg(args, "from"),
            to_s=_int_arg(args, "to"),
            countback=_int_arg(args, "countback"),
        )
    )


def server_time() -> int:
    """Return the server time in Unix seconds."""
    return now_ms() // 1000


def quotes(args: Mapping[str, str]) -> dict:
    """Return the /quotes payload for the comma-separated ``symbols``."""
    names = [name.strip() for name in (args.get("symbols") or "").split(",") if name.strip()]
    if not names:
        return udf.error_payload("symbols is required")
    return {"s": "ok", "d": [_quote(name) for name in names]}


def _quote(name: str) -> dict:
    try:
        snap = market_service.get_snapshot(symbol=name)
        info = market_service.find_symbol(name).info
    except AppError:
        return udf.quote_payload(name, None, None)
    values = {
        "price": snap.price,
        "change": snap.change,
        "changePercent": snap.change_percent,
        "open": snap.open,
        "high": snap.high,
        "low": snap.low,
        "volume": snap.volume,
    }
    return udf.quote_payload(name, info, {k: float(v) for k, v in values.items()})


def marks(args: Mapping[str, str], *, actor_id: str | None, timescale: bool = False) -> list[dict]:
    """Return /marks (or /timescale_marks): the caller's trades on the symbol; [] when anonymous."""
    try:
        resolution = args.get("resolution") or "1D"
        resolution_to_interval(resolution)
        start, end = _int_arg(args, "from"), _int_arg(args, "to")
    except ValueError:
        return []
    if actor_id is None or start is None or end is None:
        return []
    trades = trade_marks(
        actor_id=actor_id,
        symbol=market_service.normalize_symbol(args.get("symbol")),
        start_ms=udf.clamp_seconds_to_ms(start),
        end_ms=udf.clamp_seconds_to_ms(end),
    )
    build = udf.timescale_marks_payload if timescale else udf.marks_payload
    return build(trades, resolution)


def trade_marks(*, actor_id: str, symbol: str, start_ms: int, end_ms: int) -> list[udf.TradeMark]:
    """Collect the caller's backtest and paper fills on ``symbol`` in [start_ms, end_ms).

    Ordered by time, then backtest fills before paper fills, then id (the documented order).
    """
    fills = backtests_service.trade_marks(actor_id=actor_id, symbol=symbol, start_ms=start_ms, end_ms=end_ms)
    orders = bots_service.trade_marks(actor_id=actor_id, symbol=symbol, start_ms=start_ms, end_ms=end_ms)
    backtest = [
        udf.TradeMark(
            str(f["id"]), int(f["time"]), str(f["side"]), float(f["price"]), float(f["quantity"]), "backtest"
        )
        for f in fills
    ]
    paper = [
        udf.TradeMark(str(o.id), int(o.time), str(o.side), float(o.price), float(o.quantity), "paper")
        for o in orders
    ]
    return sorted(backtest + paper, key=lambda m: (m.time_ms, m.source != "backtest", m.id))
