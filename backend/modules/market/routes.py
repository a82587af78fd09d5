"""Market endpoints (/api/market, enveloped, token required); the raw UDF feed is backend.modules.udf."""

from __future__ import annotations

from flask_jwt_extended import jwt_required

from backend.core.auth import current_user_id
from backend.core.envelope import EnvelopeBlueprint
from backend.modules.market import service
from backend.modules.market.schemas import (
    HistoryQueryArgsSchema,
    HistorySchema,
    ImportCreateSchema,
    ImportResultSchema,
    SnapshotQueryArgsSchema,
    SnapshotSchema,
    SymbolSchema,
)

blp = EnvelopeBlueprint(
    "market",
    __name__,
    url_prefix="/api/market",
    description="Snapshots, OHLCV history and symbols; CSV candle imports.",
)


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
    return service.get_history(
        symbol=args["symbol"],
        resolution=args["resolution"],
        from_s=args["from_"],
        to_s=args["to"],
        countback=args["countback"],
    )


@blp.route("/symbols")
@jwt_required()
@blp.response(200, SymbolSchema(many=True))
def symbols():
    """List the symbols with data (mock and imported).

    Order: the built-in mock symbols in their fixed order (XAUUSD first), then imported-only
    symbols alphabetically.
    """
    return service.list_symbols()


@blp.route("/import", methods=["POST"])
@jwt_required()
@blp.arguments(ImportCreateSchema)
@blp.response(201, ImportResultSchema)
def import_file(body):
    """Import an uploaded OHLCV CSV as a symbol's candles (admins only; all or nothing)."""
    return service.import_uploaded_csv(actor_id=current_user_id(), **body)
