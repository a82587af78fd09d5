"""The TradingView UDF datafeed: raw payloads built from the market services.

Every function here returns a payload and never raises for bad input: UDF errors are
``{"s": "error", "errmsg": ...}`` bodies sent with HTTP 200. Query values arrive as strings;
times on the wire are Unix seconds.
"""
from __future__ import annotations

import importlib
import logging
from typing import Any, Callable, Mapping

from backend.core.db import now_ms
from backend.core.errors import AppError
from backend.domain.marketdata import udf
from backend.domain.marketdata.intervals import resolution_to_interval
from backend.modules.market import service, sources
from backend.modules.market.errors import InvalidMarketQuery

logger = logging.getLogger(__name__)

# Modules whose service may expose `trade_marks(*, actor_id, symbol, start_ms, end_ms)` returning
# objects or dicts with id, time (Unix ms), side (buy|sell), price and quantity.
_MARK_SOURCES = (("backtests", "backtest"), ("bots", "paper"))


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
    return udf.config_payload(item.info for item in service.list_symbols())


def symbol_info(args: Mapping[str, str]) -> dict:
    """Return the /symbols payload for ``symbol`` (or the unknown_symbol error)."""
    return _guarded(lambda: udf.symbol_payload(service.find_symbol(args.get("symbol") or "").info))


def search(args: Mapping[str, str]) -> Any:
    """Return the /search payload: matching symbols as a bare array."""
    def build():
        limit = _int_arg(args, "limit") or 30
        return udf.search_payload((item.info for item in service.list_symbols()), query=args.get("query", ""),
                                  type=args.get("type", ""), exchange=args.get("exchange", ""), limit=limit)
    return _guarded(build)


def history(args: Mapping[str, str]) -> dict:
    """Return the /history payload (ok, no_data with nextTime, or error)."""
    return _guarded(lambda: history_payload(
        symbol=args.get("symbol") or "", resolution=args.get("resolution") or "",
        from_s=_int_arg(args, "from"), to_s=_int_arg(args, "to"), countback=_int_arg(args, "countback")))


def history_payload(*, symbol: str, resolution: str, from_s: int | None, to_s: int | None,
                    countback: int | None) -> dict:
    """Build a UDF history payload; raise ValueError / AppError for bad input."""
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
        snap = service.get_snapshot(symbol=name)
        info = service.find_symbol(name).info
    except AppError:
        return udf.quote_payload(name, None, None)
    return udf.quote_payload(name, info, {k: float(v) for k, v in snap.items() if k not in ("symbol", "time")})


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
    trades = trade_marks(actor_id=actor_id, symbol=sources.normalize_symbol(args.get("symbol")),
                         start_ms=udf.clamp_seconds_to_ms(start), end_ms=udf.clamp_seconds_to_ms(end))
    build = udf.timescale_marks_payload if timescale else udf.marks_payload
    return build(trades, resolution)


def trade_marks(*, actor_id: str, symbol: str, start_ms: int, end_ms: int) -> list[udf.TradeMark]:
    """Collect the caller's backtest and paper trades on symbol in [start_ms, end_ms)."""
    found: list[udf.TradeMark] = []
    for module, label in _MARK_SOURCES:
        try:
            module_service = importlib.import_module(f"backend.modules.{module}.service")
        except ImportError:
            continue
        lister = getattr(module_service, "trade_marks", None)
        if lister is None:
            continue
        for t in lister(actor_id=actor_id, symbol=symbol, start_ms=start_ms, end_ms=end_ms):
            found.append(udf.TradeMark(str(_get(t, "id")), int(_get(t, "time")), str(_get(t, "side")),
                                       float(_get(t, "price")), float(_get(t, "quantity")), label))
    return found


def _get(obj: Any, name: str) -> Any:
    return obj[name] if isinstance(obj, Mapping) else getattr(obj, name)


def get_history(*, symbol: str, resolution: str, from_s: int | None, to_s: int | None,
                countback: int | None) -> dict:
    """Return the UDF history payload for the enveloped API; raise InvalidMarketQuery/UnknownSymbol."""
    try:
        return history_payload(symbol=symbol, resolution=resolution, from_s=from_s, to_s=to_s, countback=countback)
    except ValueError as exc:
        raise InvalidMarketQuery(str(exc)) from None
