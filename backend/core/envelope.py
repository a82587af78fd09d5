"""The response envelope, in exactly one place.

Success: ``{"code": 0, "message": "ok", "data": <payload>, "request_id": "<id>"}``.
Error:   ``{"code": <status*100>, "message": "<sentence>", "details": {...}|null, "request_id": "<id>"}``.

`EnvelopeBlueprint` wraps every `@blp.response` payload and documents the wrapper in OpenAPI;
`EnvelopeApi` routes every error (HTTPException, AppError, validation, JWT, 500) through
`error_response`, so no other code builds an envelope by hand.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import g, jsonify
from flask_smorest import Api, Blueprint

from backend.core.schemas import ErrorEnvelopeSchema


def current_request_id() -> str | None:
    """Return the request id of the current request, if any."""
    return getattr(g, "request_id", None)


def success_body(data: Any) -> dict[str, Any]:
    """Wrap a dumped payload in the success envelope."""
    return {"code": 0, "message": "ok", "data": data, "request_id": current_request_id()}


def error_response(
    status: int, message: str, details: dict[str, Any] | None = None, headers: dict[str, str] | None = None
):
    """Build the error envelope response for an HTTP status."""
    body = {
        "code": status * 100,
        "message": message,
        "details": details or None,
        "request_id": current_request_id(),
    }
    resp = jsonify(body)
    resp.status_code = status
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


_doc_wrappers: dict[str, type[ma.Schema]] = {}


def _wrapper_schema(schema: ma.Schema) -> type[ma.Schema]:
    many = bool(getattr(schema, "many", False))
    name = f"{type(schema).__name__.removesuffix('Schema')}{'List' if many else ''}Envelope"
    if name not in _doc_wrappers:
        inner = type(schema)
        _doc_wrappers[name] = type(
            name,
            (ma.Schema,),
            {
                "code": ma.fields.Integer(metadata={"example": 0}),
                "message": ma.fields.String(metadata={"example": "ok"}),
                "data": ma.fields.List(ma.fields.Nested(inner)) if many else ma.fields.Nested(inner),
                "request_id": ma.fields.String(),
            },
        )
    return _doc_wrappers[name]


class EnvelopeBlueprint(Blueprint):
    """A flask-smorest Blueprint whose responses (and their docs) use the success envelope."""

    @staticmethod
    def _prepare_response_content(data: Any) -> dict[str, Any]:
        return success_body(data)

    @staticmethod
    def _make_doc_response_schema(schema):
        if schema is None or not isinstance(schema, ma.Schema):
            return schema
        return _wrapper_schema(schema)


class EnvelopeApi(Api):
    """A flask-smorest Api whose error responses use the error envelope."""

    ERROR_SCHEMA = ErrorEnvelopeSchema

    def _register_error_handlers(self) -> None:
        from backend.core.error_handlers import register_error_handlers

        register_error_handlers(self._app)

    def handle_http_exception(self, error):  # pragma: no cover - replaced by register_error_handlers
        from backend.core.error_handlers import handle_http_exception

        return handle_http_exception(error)
