"""Reject NUL characters before they reach PostgreSQL (which cannot store them in text).

Without this, `/api/<things>/%00` or a JSON string containing "\\u0000" makes psycopg2 raise a
ValueError deep in a query, i.e. a 500. One check here covers every module: a NUL in a path
segment is a 404 (no object can have that id); in the query string or a JSON body it is a 422.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask, request

from backend.core.errors import Invalid, NotFound

# A JSON "\u0000" escape: an odd number of backslashes before "u0000" (an escaped backslash
# followed by the text "u0000" is legitimate).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)


def init_input_guard(app: Flask) -> None:
    """Register the NUL check on every request."""

    @app.before_request
    def _reject_nul() -> None:
        if any("\x00" in str(v) for v in (request.view_args or {}).values()):
            raise NotFound()
        bad_args = sorted({k for k, v in request.args.items(multi=True) if "\x00" in k or "\x00" in v})
        if bad_args:
            raise Invalid(fields={k: ["NUL characters are not allowed."] for k in bad_args})
        if (
            request.is_json
            and request.content_length
            and request.content_length <= app.config["MAX_CONTENT_LENGTH"]
        ):
            raw = request.get_data(cache=True)
            if b"\x00" in raw or _JSON_NUL.search(raw):
                raise Invalid("Text may not contain NUL characters.", fields=_nul_fields(raw))


_MESSAGE = ["Must not contain NUL characters."]


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _nul_fields(raw: bytes) -> dict[str, list[str]]:
    """Name the top-level fields that carry a NUL (the whole body if it is not an object)."""
    try:
        body = json.loads(raw)
    except ValueError:
        return {"_body": _MESSAGE}
    if not isinstance(body, dict):
        return {"_body": _MESSAGE}
    return {str(k).replace("\x00", "?"): _MESSAGE for k, v in body.items() if _has_nul(k) or _has_nul(v)} or {
        "_body": _MESSAGE
    }
