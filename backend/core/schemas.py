"""Schema building blocks shared by every module's HTTP contract."""
from __future__ import annotations

import decimal
import math
from typing import Any

import marshmallow as ma
from marshmallow import RAISE, validate


class BaseSchema(ma.Schema):
    """Base for every request/response schema: unknown fields are an error, not silently dropped."""

    class Meta:
        unknown = RAISE


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


class MessageSchema(BaseSchema):
    """A payload that only says what happened."""

    message = ma.fields.String()
