"""Reject input PostgreSQL or the JSON parser cannot take, before any view sees it.

NUL characters: without this, `/api/<things>/%00` or a JSON string containing "\\u0000" makes
psycopg2 raise a ValueError deep in a query, i.e. a 500. A NUL in a path segment is a 404 (no
object can have that id); in the query string or a JSON body it is a 422.

Nesting depth: Python's JSON decoder recurses once per nesting level, so a body such as
``[[[[...]]]]`` 1,000 levels deep raises RecursionError in whichever parser meets it first (the
rate limiter's key function, webargs, Flask): a 500 on every JSON endpoint, anonymous ones
included. The depth is measured here on the raw bytes, without recursion and without parsing,
and a body deeper than ``JSON_MAX_DEPTH`` is a 422 (reason ``json_too_deep``).

Huge numbers: Python's decoder turns ``1e400`` into ``inf`` and ``1`` followed by 400 zeros into
an int no float can hold, and either one crashes the first ``float()`` or ``math.isfinite()`` that
meets it in a free-form field (a sweep's space, a workflow's graph). RFC 8259 section 6 bounds
interoperable JSON numbers by IEEE 754 binary64, so a number beyond a double's range (about
1.8e308) is a 422 (reason ``number_too_large``), checked on the raw bytes like the depth. Each
field's own bounds stay its schema's business. ``NaN`` and ``Infinity`` are not JSON at all (the
RFC has no such literals) but Python's decoder accepts them, and PostgreSQL's JSONB refuses them
later: outside a string they are a 422 (reason ``number_not_finite``).
"""

from __future__ import annotations

import json
import math
import re
import sys
from typing import Any

import numpy as np
from flask import Flask, current_app, request

from backend.core.errors import Invalid, NotFound

# A JSON "\u0000" escape: an odd number of backslashes before "u0000" (an escaped backslash
# followed by the text "u0000" is legitimate).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)
# A JSON string literal (unrolled-loop form: linear, no backtracking blow-up on long strings).
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
# +1 for an opening bracket, -1 for a closing one, 0 for every other byte.
_DEPTH_STEP = np.zeros(256, dtype=np.int8)
_DEPTH_STEP[[ord("["), ord("{")]] = 1
_DEPTH_STEP[[ord("]"), ord("}")]] = -1
# Largest magnitude a JSON number may have: a double's (RFC 8259 section 6).
MAX_NUMBER = sys.float_info.max
# A number with an exponent, or a run of 309+ digits (>= 1e308): the only ones that may overflow.
_BIG_NUMBER_HINT = re.compile(rb"\d[eE]|\d{309}")
_NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_NON_FINITE = re.compile(rb"NaN|Infinity")


class JsonNumberTooLarge(Invalid):
    """Raise when a JSON body holds a number beyond a double's range (a float() of it is inf)."""

    reason = "number_too_large"
    code = "app.number_too_large"


class JsonNumberNotFinite(Invalid):
    """Raise when a JSON body holds the non-standard literals NaN or Infinity outside a string."""

    reason = "number_not_finite"
    code = "app.number_not_finite"


class JsonTooDeep(Invalid):
    """Raise when a JSON body nests arrays/objects deeper than JSON_MAX_DEPTH."""

    reason = "json_too_deep"
    code = "app.json_too_deep"


def init_input_guard(app: Flask) -> None:
    """Register the NUL and nesting-depth checks on every request.

    The checks look at the WSGI environ first, so an ordinary request pays for none of them: no
    NUL in ``PATH_INFO`` (the view args are parts of it), an empty query string (no arguments to
    parse) or no ``Content-Type`` (not JSON) skips that check. Outcomes are the same as checking
    everything (tests/core/test_input_guard.py compares the two).
    """
    app.before_request(_guard_request)


def _guard_request() -> None:
    req = request._get_current_object()  # type: ignore[attr-defined]
    environ = req.environ
    # The view args are parts of the decoded path (PATH_INFO): without a NUL there, none has one.
    if "\x00" in environ.get("PATH_INFO", "") and any(
        "\x00" in str(v) for v in (req.view_args or {}).values()
    ):
        raise NotFound()
    # An empty query string has no arguments (nothing to parse; werkzeug's `args` would be empty).
    if environ.get("QUERY_STRING"):
        bad_args = sorted({k for k, v in req.args.items(multi=True) if "\x00" in k or "\x00" in v})
        if bad_args:
            raise Invalid(fields={k: ["NUL characters are not allowed."] for k in bad_args})
    # No Content-Type header: the mimetype is "" and `is_json` false.
    if environ.get("CONTENT_TYPE") and req.is_json:
        # Reads at most MAX_CONTENT_LENGTH (werkzeug answers 413 beyond it), chunked bodies included.
        raw = req.get_data(cache=True)
        if raw:
            _check_depth(raw, current_app.config["JSON_MAX_DEPTH"])
            _check_numbers(raw)
            if b"\x00" in raw or _JSON_NUL.search(raw):
                raise Invalid("Text may not contain NUL characters.", fields=_nul_fields(raw))


def json_depth(raw: bytes) -> int:
    """Return the deepest array/object nesting of a JSON text (brackets inside strings ignored).

    Linear in the body's size and recursion-free; for malformed text it is the depth the brackets
    outside string literals would give.
    """
    stripped = _JSON_STRING.sub(b'""', raw)
    steps = _DEPTH_STEP[np.frombuffer(stripped, dtype=np.uint8)]
    return int(np.cumsum(steps, dtype=np.int64).max(initial=0))


def _check_depth(raw: bytes, limit: int) -> None:
    # Fewer brackets than the limit cannot nest deeper than it: skip the scan for ordinary bodies.
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return
    if json_depth(raw) > limit:
        raise JsonTooDeep(
            f"JSON nested deeper than {limit} levels is not accepted.", details={"maxDepth": limit}
        )


def _check_numbers(raw: bytes) -> None:
    non_finite = _NON_FINITE.search(raw) is not None
    if not non_finite and not _BIG_NUMBER_HINT.search(raw):  # the usual body: nothing to look at
        return
    outside_strings = _JSON_STRING.sub(b'""', raw)
    if non_finite and _NON_FINITE.search(outside_strings):
        raise JsonNumberNotFinite("NaN and Infinity are not JSON numbers.")
    for token in _NUMBER.findall(outside_strings):
        # Only a long or exponent token can overflow; float() of it is inf then (it never raises).
        if (len(token) > 308 or b"e" in token or b"E" in token) and math.isinf(float(token)):
            raise JsonNumberTooLarge(
                f"JSON numbers must be within a double's range (±{MAX_NUMBER:.4g}).",
                details={"maxMagnitude": MAX_NUMBER},
            )


_MESSAGE = ["Must not contain NUL characters."]


def _has_nul(value: Any) -> bool:
    """Return True if a string anywhere in `value` holds a NUL (iterative: no recursion limit)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _nul_fields(raw: bytes) -> dict[str, list[str]]:
    """Name the top-level fields that carry a NUL (the whole body if it is not an object)."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        return {"_body": _MESSAGE}
    if not isinstance(body, dict):
        return {"_body": _MESSAGE}
    return {str(k).replace("\x00", "?"): _MESSAGE for k, v in body.items() if _has_nul(k) or _has_nul(v)} or {
        "_body": _MESSAGE
    }
