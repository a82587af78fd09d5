"""HTTP contract of /api/market (the raw /api/udf feed parses its own query strings)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from backend.core.schemas import BaseSchema, CamelSchema, Id, Money, Symbol, TimestampMs
from backend.domain.marketdata.intervals import INTERVALS


class SnapshotQueryArgsSchema(BaseSchema):
    """`?symbol=` of the snapshot (64: a ticker may carry a TradingView `EXCHANGE:` prefix)."""

    symbol = Symbol(required=True, max_length=64)


class SnapshotSchema(CamelSchema):
    """Latest price; open/high/low/volume of the current UTC day; change vs the previous close."""

    symbol = ma.fields.String()
    price = Money()
    change = Money()
    change_percent = Money()
    open = Money()
    high = Money()
    low = Money()
    volume = Money()
    time = TimestampMs(metadata={"description": "Open time (Unix ms) of the bar whose close is `price`."})


class HistoryQueryArgsSchema(BaseSchema):
    """UDF history query: times in Unix seconds, `to` exclusive, `countback` wins over `from`."""

    symbol = Symbol(required=True, max_length=64)  # a ticker and a TradingView `EXCHANGE:` prefix
    resolution = ma.fields.String(
        required=True,
        validate=validate.Length(min=1, max=8),
        metadata={  # what domain.marketdata.intervals.resolution_to_interval accepts
            "pattern": r"^\s*(1|5|15|30|60|240|1440|1?[dD])\s*$",
            "description": "A TradingView resolution: 1, 5, 15, 30, 60, 240 or 1D (also D, 1440).",
        },
    )
    from_ = ma.fields.Integer(data_key="from", load_default=None)
    to = ma.fields.Integer(required=True)
    countback = ma.fields.Integer(load_default=None, validate=validate.Range(min=1))


class HistorySchema(BaseSchema):
    """UDF history payload: `s` is ok | no_data; times `t` and `nextTime` in Unix seconds."""

    # Dumped from the dict `domain.marketdata.udf` builds: the names are TradingView's UDF names.

    s = ma.fields.String()
    t = ma.fields.List(ma.fields.Integer())
    o = ma.fields.List(ma.fields.Float())
    h = ma.fields.List(ma.fields.Float())
    l = ma.fields.List(ma.fields.Float())  # noqa: E741 - UDF field name
    c = ma.fields.List(ma.fields.Float())
    v = ma.fields.List(ma.fields.Float())
    nextTime = ma.fields.Integer()  # noqa: N815 - TradingView's UDF name


class SymbolSchema(CamelSchema):
    """A symbol, where its data comes from, and the intervals it can be read in."""

    symbol = ma.fields.String(attribute="info.symbol")
    description = ma.fields.String(attribute="info.description")
    type = ma.fields.String(attribute="info.type")
    exchange = ma.fields.String(attribute="info.exchange")
    currency = ma.fields.String(attribute="info.currency")
    pricescale = ma.fields.Integer(attribute="info.pricescale")
    sources = ma.fields.List(ma.fields.String())
    intervals = ma.fields.List(ma.fields.String())


class ImportCreateSchema(BaseSchema):
    """Import an uploaded CSV file (see POST /api/files) as one symbol's candles."""

    file_id = Id(required=True, validate=validate.Length(equal=36))
    symbol = Symbol(required=True)
    interval = ma.fields.String(required=True, validate=validate.OneOf(INTERVALS))


class ImportResultSchema(CamelSchema):
    """What an import stored: rows upserted and the open times (Unix ms) they span."""

    symbol = ma.fields.String()
    interval = ma.fields.String()
    rows = ma.fields.Integer()
    first_time = TimestampMs()
    last_time = TimestampMs()
