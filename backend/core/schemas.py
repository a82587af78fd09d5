"""Schema building blocks shared by every module's HTTP contract.

Wire names come from one rule: a `CamelSchema` declares snake_case attribute names and puts
them on the wire in camelCase; a `BaseSchema` puts them on the wire as declared (the contract's
request bodies and a few answers are snake_case: `strategy_id`, `job_id`, `access_token`, ...).
"""

from __future__ import annotations

import decimal
import math
from typing import Any

import marshmallow as ma
from marshmallow import RAISE, validate


def camelize(name: str) -> str:
    """Return the camelCase form of a snake_case name (`created_at` -> `createdAt`)."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class BaseSchema(ma.Schema):
    """Base for every request/response schema: unknown fields are an error, not silently dropped.

    Wire names are the attribute names as declared; use it for snake_case payloads.
    """

    class Meta:
        unknown = RAISE


class CamelSchema(BaseSchema):
    """A schema whose snake_case attributes are camelCase on the wire (loading, dumping, errors, docs).

    A field that gives its own `data_key` keeps it (for the contract's few snake_case names).
    """

    def on_bind_field(self, field_name: str, field_obj: ma.fields.Field[Any]) -> None:
        if field_obj.data_key is None:
            field_obj.data_key = camelize(field_name)


# Ids are UUID strings; the schema only rejects what can never be an id, so an unknown id is a 404.
_ID = validate.Regexp(r"^[A-Za-z0-9-]{1,36}$", error="Must be an id.")


def _symbol_rule(max_length: int) -> validate.Regexp:
    return validate.Regexp(
        rf"^[A-Za-z0-9._:/-]{{1,{max_length}}}$", error=f"1-{max_length} letters, digits or . _ : / -."
    )


class Id(ma.fields.String):
    """A resource id in a request: 1-36 letters, digits or '-' (extra `validate` rules add to it)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.validators.insert(0, _ID)


class Symbol(ma.fields.String):
    """A market symbol in a request: letters, digits and `. _ : / -` (a TradingView `EXCHANGE:` prefix
    and pairs like `BTC/USDT` included), at most `max_length` characters (32, a ticker's limit).

    The market module normalises (upper case, prefix dropped) and decides whether it exists.
    """

    def __init__(self, *args: Any, max_length: int = 32, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.validators.insert(0, _symbol_rule(max_length))


class Money(ma.fields.Decimal):
    """A Decimal inside, a JSON number on the wire (rendered from the Decimal, no float artefacts).

    Loading accepts numbers and numeric strings; rejects booleans, NaN and infinities.
    """

    default_error_messages = {
        "special": "Must be a finite number.",
        "invalid": "Must be a number.",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("as_string", False)
        kwargs.setdefault("allow_nan", False)
        super().__init__(*args, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> decimal.Decimal:
        if isinstance(value, bool) or value is None:
            raise self.make_error("invalid")
        if isinstance(value, float) and not math.isfinite(value):
            raise self.make_error("special")
        if isinstance(value, float):
            value = repr(value)  # 0.1 -> "0.1", never Decimal(0.1000000000000000055...)
        result = super()._deserialize(value, attr, data, **kwargs)
        if not result.is_finite():
            raise self.make_error("special")
        return result


class Rounded(ma.fields.Float):
    """A float shown to a person: dumped rounded to ``places`` decimals, half away from zero.

    For the KPIs of dashboard lists (2.837140923907156 -> 2.84); detailed results keep full
    precision in a plain Float. Rounds the shortest decimal form of the float (2.675 -> 2.68).
    """

    def __init__(self, places: int = 2, **kwargs: Any) -> None:
        self.places = places
        metadata = kwargs.pop("metadata", {})
        note = f"Rounded to {places} decimals."
        description = f"{metadata['description']} {note}" if "description" in metadata else note
        super().__init__(metadata={**metadata, "description": description}, **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> float | None:
        if value is None:
            return None
        number = float(value)
        if not math.isfinite(number):
            return number
        step = decimal.Decimal(1).scaleb(-self.places)
        return float(decimal.Decimal(repr(number)).quantize(step, rounding=decimal.ROUND_HALF_UP))


class TimestampMs(ma.fields.Integer):
    """Unix milliseconds (UTC) as a JSON integer."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("strict", True)
        super().__init__(*args, **kwargs)


class LimitQuerySchema(BaseSchema):
    """`?limit=` for `/recent` and `/hot` lists (default 10, max 100)."""

    limit = ma.fields.Integer(load_default=10, validate=validate.Range(min=1, max=100))


class ErrorEnvelopeSchema(ma.Schema):
    """The error envelope (documentation only)."""

    code = ma.fields.Integer(metadata={"example": 40400})
    message = ma.fields.String(metadata={"example": "Not found."})
    details = ma.fields.Dict(allow_none=True, metadata={"example": {"reason": "not_found"}})
    request_id = ma.fields.String()
