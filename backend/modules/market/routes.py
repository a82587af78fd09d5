"""Market endpoints (/api/market, enveloped, token required) and the raw UDF feed (/api/udf, public)."""
from __future__ import annotations

from flask import Response, request
from flask_jwt_extended import jwt_required
from flask_jwt_extended.exceptions import JWTExtendedException
from flask_smorest import Blueprint
from jwt import PyJWTError

from backend.core.auth import current_user_id, optional_user_id
from backend.core.envelope import EnvelopeBlueprint
from backend.core.errors import AppError
from backend.modules.market import service, udf_service
from backend.modules.market.schemas import (HistoryQueryArgsSchema, HistorySchema, ImportCreateSchema,
                                            ImportResultSchema, SnapshotQueryArgsSchema, SnapshotSchema,
                                            SymbolSchema)

blp = EnvelopeBlueprint("market", __name__, url_prefix="/api/market",
                        description="Snapshots, OHLCV history and symbols; CSV candle imports.")
udf_blp = Blueprint("udf", __name__, url_prefix="/api/udf",
                    description="TradingView UDF datafeed: raw (not enveloped), public, times in seconds; "
                                "errors are HTTP 200 `{\"s\": \"error\", \"errmsg\": ...}`.")
blueprints = [blp, udf_blp]


@blp.route("/snapshot")
@jwt_required()
@blp.arguments(SnapshotQueryArgsSchema, location="query")
@blp.response(200, SnapshotSchema)
def snapshot(args):
    """Return a symbol's latest price and today's (UTC) range and change."""
    return service.get_snapshot(symbol=args["symbol"])


@blp.route("/history")
@jwt_required()
@blp.arguments(HistoryQueryArgsSchema, location="query")
@blp.response(200, HistorySchema)
def history(args):
    """Return OHLCV bars as a UDF history payload (seconds; `to` exclusive; countback wins)."""
    return udf_service.get_history(symbol=args["symbol"], resolution=args["resolution"],
                                   from_s=args["from_"], to_s=args["to"], countback=args["countback"])


@blp.route("/symbols")
@jwt_required()
@blp.response(200, SymbolSchema(many=True))
def symbols():
    """List the symbols with data (mock and imported)."""
    return service.list_symbols()


@blp.route("/import", methods=["POST"])
@jwt_required()
@blp.arguments(ImportCreateSchema)
@blp.response(201, ImportResultSchema)
def import_file(body):
    """Import an uploaded OHLCV CSV as a symbol's candles (admins only; all or nothing)."""
    return service.import_uploaded_csv(actor_id=current_user_id(), **body)


def _optional_actor() -> str | None:
    """Return the caller's id when a valid token came with the request; the feed stays public."""
    try:
        return optional_user_id()
    except (JWTExtendedException, PyJWTError, AppError):
        return None


@udf_blp.route("/config")
@udf_blp.doc(security=[])
def udf_config():
    """UDF: datafeed configuration."""
    return udf_service.config()


@udf_blp.route("/symbols")
@udf_blp.doc(security=[])
def udf_symbols():
    """UDF: one symbol's LibrarySymbolInfo."""
    return udf_service.symbol_info(request.args)


@udf_blp.route("/search")
@udf_blp.doc(security=[])
def udf_search():
    """UDF: symbol search (a bare array)."""
    return udf_service.search(request.args)


@udf_blp.route("/history")
@udf_blp.doc(security=[])
def udf_history():
    """UDF: bars as column arrays (seconds)."""
    return udf_service.history(request.args)


@udf_blp.route("/time")
@udf_blp.doc(security=[])
def udf_time():
    """UDF: server time, a bare integer of Unix seconds."""
    return Response(str(udf_service.server_time()), mimetype="text/plain")


@udf_blp.route("/quotes")
@udf_blp.doc(security=[])
def udf_quotes():
    """UDF: quotes for comma-separated symbols."""
    return udf_service.quotes(request.args)


@udf_blp.route("/marks")
@udf_blp.doc(security=[])
def udf_marks():
    """UDF: my backtest and paper trades on the symbol as bar marks (empty without a token)."""
    return udf_service.marks(request.args, actor_id=_optional_actor())


@udf_blp.route("/timescale_marks")
@udf_blp.doc(security=[])
def udf_timescale_marks():
    """UDF: my trades as time-scale marks (empty without a token)."""
    return udf_service.marks(request.args, actor_id=_optional_actor(), timescale=True)
