"""Assertions on the response envelope (docs/api-contract.md, backend/core/envelope.py).

Success: ``{"code": 0, "message": "ok", "data": <payload>, "request_id": "<id>"}``.
Error:   ``{"code": <status*100>, "message": "<sentence>", "details": {"reason": ..., ...},
"request_id": "<id>"}``.

Every helper checks the status code and the whole envelope shape, and on a mismatch fails with
the method, path, status and body of the response, so a failing test shows what the API said.
"""

from __future__ import annotations

import json
from typing import Any

from werkzeug.test import TestResponse

SUCCESS_KEYS = frozenset({"code", "message", "data", "request_id"})
ERROR_KEYS = frozenset({"code", "message", "details", "request_id"})


def body_of(resp: TestResponse) -> dict[str, Any]:
    """Return the JSON body of ``resp``; fail (showing the raw text) when it is not a JSON object."""
    body = resp.get_json(silent=True)
    assert isinstance(body, dict), f"not a JSON object: {describe(resp)}"
    return body


def describe(resp: TestResponse) -> str:
    """Return ``METHOD path -> status`` and the body, for assertion messages."""
    request = getattr(resp, "request", None)
    where = f"{request.method} {request.path}" if request is not None else "response"
    body = resp.get_json(silent=True)
    if body is None:
        return f"{where} -> {resp.status_code}\n{resp.get_data(as_text=True)[:2000]}"
    return f"{where} -> {resp.status_code}\n{json.dumps(body, indent=1, default=str)}"


def _check_request_id(resp: TestResponse, body: dict[str, Any]) -> None:
    request_id = body["request_id"]
    assert isinstance(request_id, str), f"request_id is not a string: {describe(resp)}"
    assert request_id, f"empty request_id: {describe(resp)}"
    header = resp.headers.get("X-Request-ID")
    assert header == request_id, f"request_id != X-Request-ID header {header!r}: {describe(resp)}"


def ok(resp: TestResponse, status: int = 200) -> Any:
    """Assert a success envelope with HTTP ``status`` and return its ``data``."""
    assert resp.status_code == status, f"expected {status}: {describe(resp)}"
    body = body_of(resp)
    assert set(body) == SUCCESS_KEYS, f"not a success envelope: {describe(resp)}"
    assert body["code"] == 0, f"success code is not 0: {describe(resp)}"
    assert body["message"] == "ok", f"success message is not 'ok': {describe(resp)}"
    _check_request_id(resp, body)
    return body["data"]


def error(
    resp: TestResponse, status: int, reason: str | None = None, code: str | None = None
) -> dict[str, Any]:
    """Assert an error envelope with HTTP ``status`` and return the whole body.

    ``reason`` is checked against ``details.reason`` (the stable machine word) and ``code``
    against ``details.error`` (the dotted code of an AppError) when given.
    """
    assert resp.status_code == status, f"expected {status}: {describe(resp)}"
    body = body_of(resp)
    assert set(body) == ERROR_KEYS, f"not an error envelope: {describe(resp)}"
    assert body["code"] == status * 100, f"code is not {status * 100}: {describe(resp)}"
    assert isinstance(body["message"], str), f"message is not a string: {describe(resp)}"
    assert body["message"], f"empty message: {describe(resp)}"
    details = body["details"]
    assert isinstance(details, dict), f"details is not an object: {describe(resp)}"
    assert isinstance(details.get("reason"), str), f"details.reason missing: {describe(resp)}"
    _check_request_id(resp, body)
    if reason is not None:
        assert details["reason"] == reason, f"expected reason {reason!r}: {describe(resp)}"
    if code is not None:
        assert details.get("error") == code, f"expected details.error {code!r}: {describe(resp)}"
    return body


def fields(resp: TestResponse, code: str | None = None) -> dict[str, Any]:
    """Assert a 422 validation error and return ``details.fields`` (field name -> messages)."""
    found = error(resp, 422, "validation_error", code)["details"]
    assert isinstance(found.get("fields"), dict), f"details.fields missing: {describe(resp)}"
    return found["fields"]
