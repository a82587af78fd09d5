"""JSON encoding: Decimal is emitted as a JSON number (the contract's money rule), and `RawJSON`
(already encoded JSON) is written into the output as it is.

Decoding turns a RecursionError (JSON nested deeper than the interpreter's stack) into the
ValueError Flask expects from invalid JSON, so a body that slipped past the input guard's depth
check (core/input_guard.py) is a 400, never a 500.
"""

from __future__ import annotations

import decimal
import json
import secrets
from typing import Any

from flask.json.provider import DefaultJSONProvider


class RawJSON:
    """A value that is already encoded JSON text (e.g. a stored result's chart, rendered once when
    it was written): `AppJSONProvider.dumps` writes ``text`` into its output unchanged, so a
    response carrying it neither parses nor encodes it again. ``text`` must be valid JSON.

    Only this provider knows it: the stdlib's ``json.dumps`` refuses it (TypeError).
    """

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RawJSON) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"RawJSON({self.text[:40]!r}{'...' if len(self.text) > 40 else ''})"


# What the encoder writes in place of a RawJSON, replaced by its text afterwards. A random token
# per process: no client value can hold it (it is never sent).
_RAW_MARK = f"@@qyq-raw-{secrets.token_hex(16)}@@"
_RAW_QUOTED = json.dumps(_RAW_MARK)


def decimal_number(o: decimal.Decimal) -> int | float:
    """Return the JSON number a Decimal is written as: an int when whole and below 2**53, else
    the float (the contract's money rule). Non-finite values are refused (TypeError)."""
    if not o.is_finite():
        raise TypeError("non-finite Decimal cannot be encoded")
    # float(Decimal("0.3")) prints as 0.3: the shortest repr round-trips the Decimal's digits.
    return int(o) if o == o.to_integral_value() and abs(o) < 2**53 else float(o)


def decimal_json(o: decimal.Decimal) -> str:
    """Return the JSON text this provider writes for ``o`` (`decimal_number`, then json's repr)."""
    number = decimal_number(o)
    return str(number) if type(number) is int else float.__repr__(number)


def _default(o: Any) -> Any:
    if isinstance(o, decimal.Decimal):
        return decimal_number(o)
    return DefaultJSONProvider.default(o)


class AppJSONProvider(DefaultJSONProvider):
    """Flask JSON provider with Decimal-as-number, RawJSON spliced in and UTF-8 output."""

    ensure_ascii = False
    sort_keys = False
    default = staticmethod(_default)

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        """Encode ``obj``; each `RawJSON` in it becomes its text, as it is."""
        raws: list[str] = []

        def default(o: Any) -> Any:
            if type(o) is RawJSON:
                raws.append(o.text)
                return _RAW_MARK
            return _default(o)

        kwargs.setdefault("default", default)
        text: str = super().dumps(obj, **kwargs)
        if not raws:
            return text
        parts = text.split(_RAW_QUOTED)
        if len(parts) != len(raws) + 1:  # pragma: no cover - the mark is never in a value
            raise ValueError("a raw JSON value's mark is ambiguous")
        out = [parts[0]]
        for raw, part in zip(raws, parts[1:], strict=True):
            out += (raw, part)
        return "".join(out)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse JSON; nesting too deep for the parser is invalid JSON (ValueError)."""
        try:
            return super().loads(s, **kwargs)
        except RecursionError as exc:
            raise ValueError("JSON nested too deeply") from exc
