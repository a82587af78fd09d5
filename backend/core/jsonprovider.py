"""JSON encoding: Decimal is emitted as a JSON number (the contract's money rule).

Decoding turns a RecursionError (JSON nested deeper than the interpreter's stack) into the
ValueError Flask expects from invalid JSON, so a body that slipped past the input guard's depth
check (core/input_guard.py) is a 400, never a 500.
"""

from __future__ import annotations

import decimal
from typing import Any

from flask.json.provider import DefaultJSONProvider


def _default(o: Any) -> Any:
    if isinstance(o, decimal.Decimal):
        if not o.is_finite():
            raise TypeError("non-finite Decimal cannot be encoded")
        # float(Decimal("0.3")) prints as 0.3: the shortest repr round-trips the Decimal's digits.
        return int(o) if o == o.to_integral_value() and abs(o) < 2**53 else float(o)
    return DefaultJSONProvider.default(o)


class AppJSONProvider(DefaultJSONProvider):
    """Flask JSON provider with Decimal-as-number and UTF-8 output."""

    ensure_ascii = False
    sort_keys = False
    default = staticmethod(_default)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse JSON; nesting too deep for the parser is invalid JSON (ValueError)."""
        try:
            return super().loads(s, **kwargs)
        except RecursionError as exc:
            raise ValueError("JSON nested too deeply") from exc
