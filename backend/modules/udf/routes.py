"""The raw TradingView UDF feed (/api/udf): public, not enveloped, times in seconds."""

from __future__ import annotations

from flask import Response, request
from flask_jwt_extended.exceptions import JWTExtendedException
from flask_smorest import Blueprint
from jwt import PyJWTError

from backend.core.auth import optional_user_id
from backend.core.errors import AppError
from backend.modules.udf import schemas as udf
from backend.modules.udf import service

blp = Blueprint(
    "udf",
    __name__,
    url_prefix="/api/udf",
    description="TradingView UDF datafeed: raw (not enveloped), public, times in seconds; "
    'errors are HTTP 200 `{"s": "error", "errmsg": ...}`.',
)


def _optional_actor() -> str | None:
    """Return the caller's id when a valid token came with the request; the feed stays public."""
    try:
        return optional_user_id()
    except (JWTExtendedException, PyJWTError, AppError):
        return None


@blp.route("/config")
@blp.doc(security=[], responses=udf.responses(udf.CONFIG, "The datafeed configuration.", error=False))
def udf_config():
    """UDF: datafeed configuration."""
    return service.config()


@blp.route("/symbols")
@blp.doc(
    security=[],
    parameters=udf.query("symbol"),
    responses=udf.responses(udf.SYMBOL_INFO, "The symbol, or `unknown_symbol`."),
)
def udf_symbols():
    """UDF: one symbol's LibrarySymbolInfo."""
    return service.symbol_info(request.args)


@blp.route("/search")
@blp.doc(
    security=[],
    parameters=udf.query("query", "type", "exchange", "limit"),
    responses=udf.responses({"type": "array", "items": udf.SEARCH_RESULT}, "Matching symbols."),
)
def udf_search():
    """UDF: symbol search (a bare array).

    Order: the symbol equal to the query first, then symbols starting with it, then the
    rest; each group by `symbol` ascending.
    """
    return service.search(request.args)


@blp.route("/history")
@blp.doc(
    security=[],
    parameters=udf.query("symbol", "resolution", "from", "to", "countback"),
    responses=udf.responses(udf.HISTORY, "Bars, `no_data` or an error."),
)
def udf_history():
    """UDF: bars as column arrays (seconds)."""
    return service.history(request.args)


@blp.route("/time")
@blp.doc(security=[], responses=udf.TIME_RESPONSES)
def udf_time():
    """UDF: server time, a bare integer of Unix seconds."""
    return Response(str(service.server_time()), mimetype="text/plain")


@blp.route("/quotes")
@blp.doc(
    security=[], parameters=udf.query("symbols"), responses=udf.responses(udf.QUOTES, "Quotes, or an error.")
)
def udf_quotes():
    """UDF: quotes for comma-separated symbols."""
    return service.quotes(request.args)


@blp.route("/marks")
@blp.doc(
    security=[],
    parameters=udf.query("symbol", "from", "to", "resolution"),
    responses=udf.responses(udf.MARKS, "My trades as bar marks.", error=False),
)
def udf_marks():
    """UDF: my backtest and paper trades on the symbol as bar marks (empty without a token).

    Order: trade time ascending, then backtest fills before paper fills, then `id`.
    """
    return service.marks(request.args, actor_id=_optional_actor())


@blp.route("/timescale_marks")
@blp.doc(
    security=[],
    parameters=udf.query("symbol", "from", "to", "resolution"),
    responses=udf.responses(udf.TIMESCALE_MARKS, "My trades as time-scale marks.", error=False),
)
def udf_timescale_marks():
    """UDF: my trades as time-scale marks (empty without a token).

    Order: trade time ascending, then backtest fills before paper fills, then `id`.
    """
    return service.marks(request.args, actor_id=_optional_actor(), timescale=True)
