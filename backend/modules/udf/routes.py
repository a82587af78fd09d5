"""The raw TradingView UDF feed (/api/udf): public, not enveloped, times in seconds."""

from __future__ import annotations

from flask import Response, request
from flask_jwt_extended.exceptions import JWTExtendedException
from flask_smorest import Blueprint
from jwt import PyJWTError

from backend.core.auth import optional_user_id
from backend.core.errors import AppError
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
@blp.doc(security=[])
def udf_config():
    """UDF: datafeed configuration."""
    return service.config()


@blp.route("/symbols")
@blp.doc(security=[])
def udf_symbols():
    """UDF: one symbol's LibrarySymbolInfo."""
    return service.symbol_info(request.args)


@blp.route("/search")
@blp.doc(security=[])
def udf_search():
    """UDF: symbol search (a bare array).

    Order: the symbol equal to the query first, then symbols starting with it, then the
    rest; each group by `symbol` ascending.
    """
    return service.search(request.args)


@blp.route("/history")
@blp.doc(security=[])
def udf_history():
    """UDF: bars as column arrays (seconds)."""
    return service.history(request.args)


@blp.route("/time")
@blp.doc(security=[])
def udf_time():
    """UDF: server time, a bare integer of Unix seconds."""
    return Response(str(service.server_time()), mimetype="text/plain")


@blp.route("/quotes")
@blp.doc(security=[])
def udf_quotes():
    """UDF: quotes for comma-separated symbols."""
    return service.quotes(request.args)


@blp.route("/marks")
@blp.doc(security=[])
def udf_marks():
    """UDF: my backtest and paper trades on the symbol as bar marks (empty without a token).

    Order: trade time ascending, then backtest fills before paper fills, then `id`.
    """
    return service.marks(request.args, actor_id=_optional_actor())


@blp.route("/timescale_marks")
@blp.doc(security=[])
def udf_timescale_marks():
    """UDF: my trades as time-scale marks (empty without a token).

    Order: trade time ascending, then backtest fills before paper fills, then `id`.
    """
    return service.marks(request.args, actor_id=_optional_actor(), timescale=True)
