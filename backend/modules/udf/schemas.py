"""OpenAPI documents of the raw UDF payloads (the shapes TradingView's UDFCompatibleDatafeed reads).

The feed is not enveloped, so its routes document these JSON schemas directly (`responses(...)`)
instead of dumping through marshmallow; `backend/domain/marketdata/udf.py` builds the payloads.
Every endpoint answers HTTP 200, including its errors (`ERROR`), as the chart library expects.
"""

from __future__ import annotations

from typing import Any

from backend.core.openapi import NO_NUL

ERROR: dict[str, Any] = {
    "type": "object",
    "properties": {"s": {"type": "string", "enum": ["error"]}, "errmsg": {"type": "string"}},
    "required": ["s", "errmsg"],
    "additionalProperties": False,
}
_STRINGS = {"type": "array", "items": {"type": "string"}}
_NUMBERS = {"type": "array", "items": {"type": "number"}}
_OPTION = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "value": {"type": "string"}, "desc": {"type": "string"}},
    "required": ["name", "value"],
    "additionalProperties": False,
}

CONFIG: dict[str, Any] = {
    "type": "object",
    "properties": {
        "supports_search": {"type": "boolean", "enum": [True]},
        "supports_group_request": {"type": "boolean", "enum": [False]},
        "supports_time": {"type": "boolean", "enum": [True]},
        "supports_marks": {"type": "boolean", "enum": [True]},
        "supports_timescale_marks": {"type": "boolean", "enum": [True]},
        "supported_resolutions": _STRINGS,
        "exchanges": {"type": "array", "items": _OPTION},
        "symbols_types": {"type": "array", "items": _OPTION},
    },
    "required": [
        "supports_search",
        "supports_group_request",
        "supports_time",
        "supports_marks",
        "supports_timescale_marks",
        "supported_resolutions",
        "exchanges",
        "symbols_types",
    ],
    "additionalProperties": False,
}

SYMBOL_INFO: dict[str, Any] = {
    "type": "object",
    "description": "LibrarySymbolInfo.",
    "properties": {
        "name": {"type": "string"},
        "ticker": {"type": "string"},
        "full_name": {"type": "string"},
        "description": {"type": "string"},
        "type": {"type": "string"},
        "session": {"type": "string"},
        "timezone": {"type": "string"},
        "exchange": {"type": "string"},
        "listed_exchange": {"type": "string"},
        "minmov": {"type": "integer"},
        "pricescale": {"type": "integer"},
        "has_intraday": {"type": "boolean"},
        "has_daily": {"type": "boolean"},
        "has_weekly_and_monthly": {"type": "boolean"},
        "supported_resolutions": _STRINGS,
        "intraday_multipliers": _STRINGS,
        "volume_precision": {"type": "integer"},
        "data_status": {"type": "string"},
        "currency_code": {"type": "string"},
        "format": {"type": "string"},
    },
    "required": ["name", "ticker", "full_name", "description", "type", "session", "timezone", "pricescale"],
    "additionalProperties": False,
}

SEARCH_RESULT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "symbol": {"type": "string"},
        "full_name": {"type": "string"},
        "description": {"type": "string"},
        "exchange": {"type": "string"},
        "ticker": {"type": "string"},
        "type": {"type": "string"},
    },
    "required": ["symbol", "full_name", "description", "exchange", "ticker", "type"],
    "additionalProperties": False,
}

HISTORY: dict[str, Any] = {
    "oneOf": [
        {
            "type": "object",
            "description": "Bars, ascending; times in Unix seconds.",
            "properties": {
                "s": {"type": "string", "enum": ["ok"]},
                "t": {"type": "array", "items": {"type": "integer"}},
                "o": _NUMBERS,
                "h": _NUMBERS,
                "l": _NUMBERS,
                "c": _NUMBERS,
                "v": _NUMBERS,
            },
            "required": ["s", "t", "o", "h", "l", "c", "v"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "description": "No bars in the range; `nextTime` (seconds) is the latest earlier bar, if any.",
            "properties": {"s": {"type": "string", "enum": ["no_data"]}, "nextTime": {"type": "integer"}},
            "required": ["s"],
            "additionalProperties": False,
        },
        ERROR,
    ]
}

_QUOTE_VALUES = {
    "type": "object",
    "properties": {
        name: {"type": "number"}
        for name in (
            "ch",
            "chp",
            "lp",
            "ask",
            "bid",
            "spread",
            "open_price",
            "high_price",
            "low_price",
            "prev_close_price",
            "volume",
        )
    }
    | {"short_name": {"type": "string"}, "exchange": {"type": "string"}, "description": {"type": "string"}},
    "additionalProperties": False,
}
QUOTES: dict[str, Any] = {
    "oneOf": [
        {
            "type": "object",
            "properties": {
                "s": {"type": "string", "enum": ["ok"]},
                "d": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "description": "One quote; `s` is `error` (`v` empty) for an unknown symbol.",
                        "properties": {
                            "s": {"type": "string", "enum": ["ok", "error"]},
                            "n": {"type": "string"},
                            "v": _QUOTE_VALUES,
                        },
                        "required": ["s", "n", "v"],
                        "additionalProperties": False,
                    },
                },
            },
            "required": ["s", "d"],
            "additionalProperties": False,
        },
        ERROR,
    ]
}

_MARK_COMMON = {
    "id": {"type": "string"},
    "time": {"type": "integer", "description": "The bar's open time, Unix seconds."},
    "color": {"type": "string", "enum": ["green", "red"]},
    "label": {"type": "string", "enum": ["B", "S"]},
}
MARKS: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": _MARK_COMMON
        | {"text": {"type": "string"}, "labelFontColor": {"type": "string"}, "minSize": {"type": "integer"}},
        "required": ["id", "time", "color", "text", "label"],
        "additionalProperties": False,
    },
}
TIMESCALE_MARKS: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": _MARK_COMMON | {"tooltip": _STRINGS},
        "required": ["id", "time", "color", "label", "tooltip"],
        "additionalProperties": False,
    },
}


def responses(schema: dict[str, Any], description: str, *, error: bool = True) -> dict[str, Any]:
    """The `responses` of a UDF operation: HTTP 200 with ``schema`` (or, when ``error``, the UDF error)."""
    body = {"oneOf": [schema, ERROR]} if error and "oneOf" not in schema else schema
    return {"200": {"description": description, "content": {"application/json": {"schema": body}}}}


TIME_RESPONSES: dict[str, Any] = {
    "200": {
        "description": "The server time in Unix seconds, as a bare integer in plain text.",
        "content": {"text/plain": {"schema": {"type": "string", "pattern": "^[0-9]+$"}}},
    }
}


def query(*names: str) -> list[dict[str, Any]]:
    """Optional query parameters read as text: any value is accepted (a bad one gets `ERROR`, HTTP 200)."""
    schema = {"type": "string", "pattern": NO_NUL}  # NUL is refused (422) before any view
    return [{"in": "query", "name": name, "required": False, "schema": schema} for name in names]
