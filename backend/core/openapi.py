"""What the OpenAPI document says beyond apispec's defaults, so that it is exactly as strict as the server.

- `IdConverter` (`<id:name>` in routes): an id path segment is what `db.looks_like_id` accepts, so
  `/api/strategies/recent` never also matches `/api/strategies/<id>` and every `Allow` header lists
  only the documented methods of its path.
- `ContractConverter`: a Range that excludes its bound (`min_inclusive=False`) is documented with
  `exclusiveMinimum` (OpenAPI 3.0's boolean form), and a schema's ``Meta.openapi`` dict (e.g. a
  ``oneOf`` of required fields, ``minProperties``) is merged into its JSON schema.
- Every string may hold anything but NUL (`core/input_guard.py` refuses NUL in queries and bodies),
  so string properties without a pattern get `NO_NUL`; a field's ``metadata["enum_from"]`` (a
  callable) gives an enum known only once the app is wired (strategy kinds); a nullable nested
  object is "that object or null" (apispec's default, "or any object", accepts anything).
- `PAGINATION_HEADER`: `X-Pagination` is a header, so a string (holding JSON), never an object.
- `URI_TOO_LONG_RESPONSE`: gunicorn's own HTML 414 for a request line past its bound, on every operation.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.openapi import OpenAPIConverter
from werkzeug.routing import BaseConverter

ID_PATTERN = r"[0-9A-Fa-f-]{1,36}"  # backend.core.db.looks_like_id: a UUID, or what could be one
NO_NUL = r"^[^\x00]*$"


class IdConverter(BaseConverter):
    """A path segment that can be an id (a UUID string); anything else is not this route."""

    regex = ID_PATTERN


def id_param_schema(_converter: BaseConverter) -> dict[str, Any]:
    """The OpenAPI schema of an `<id:...>` path parameter."""
    return {"type": "string", "pattern": f"^{ID_PATTERN}$", "minLength": 1, "maxLength": 36}


PAGINATION_HEADER: dict[str, Any] = {
    "description": "Pagination metadata as a JSON object in a string: "
    '`{"total", "total_pages", "first_page", "last_page", "page", "previous_page", "next_page"}` '
    "(the page fields are left out when there is no such page).",
    "schema": {"type": "string", "pattern": r"^\{.*\}$"},
}


class ContractConverter(OpenAPIConverter):
    """apispec's converter plus exclusive bounds and per-schema ``Meta.openapi`` additions."""

    def field2range(self, field: ma.fields.Field[Any], ret: dict[str, Any]) -> dict[str, Any]:
        """Document ``Range(min_inclusive=False)`` / ``max_inclusive=False`` as exclusive bounds."""
        out: dict[str, Any] = super().field2range(field, ret)
        for validator in field.validators:
            if isinstance(validator, ma.validate.Range):
                if validator.min is not None and not validator.min_inclusive and "minimum" in out:
                    out["exclusiveMinimum"] = True
                if validator.max is not None and not validator.max_inclusive and "maximum" in out:
                    out["exclusiveMaximum"] = True
        return out

    def field2property(self, field: ma.fields.Field[Any]) -> dict[str, Any]:
        """apispec's property plus the NUL rule and a late-bound enum."""
        ret: dict[str, Any] = super().field2property(field)
        enum_from = field.metadata.get("enum_from")
        if callable(enum_from):
            ret["enum"] = list(enum_from())
        if ret.get("type") == "string" and "pattern" not in ret and "enum" not in ret and "format" not in ret:
            ret["pattern"] = NO_NUL
        return ret

    def field2nullable(self, field: ma.fields.Field[Any], ret: dict[str, Any]) -> dict[str, Any]:
        """A nullable nested object is that object or null, never "or any object"."""
        out: dict[str, Any] = super().field2nullable(field, ret)
        for option in out.get("anyOf", []):
            if option == {"type": "object", "nullable": True}:
                option["enum"] = [None]
        return out

    def schema2jsonschema(self, schema: Any) -> dict[str, Any]:
        """Merge the schema's ``Meta.openapi`` (rules between fields that fields cannot state)."""
        out: dict[str, Any] = super().schema2jsonschema(schema)  # type: ignore[no-untyped-call]
        extra = getattr(getattr(schema, "Meta", None), "openapi", None)
        if extra:
            out.update(extra)
        return out


# gunicorn refuses a request line past its `limit_request_line` (4094 bytes by default) before the
# app sees it, with its own HTML page: every operation can answer this, outside the JSON envelope.
URI_TOO_LONG_RESPONSE: dict[str, Any] = {
    "description": "The request line (method, path and query) is longer than the server's bound "
    "(gunicorn's `limit_request_line`, 4094 bytes): the server's own HTML page, not the JSON envelope.",
    "content": {"text/html": {"schema": {"type": "string"}}},
}


class ContractPlugin(MarshmallowPlugin):
    """The marshmallow plugin with `ContractConverter`; every operation documents the server's 414."""

    Converter = ContractConverter

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        """apispec's marshmallow handling, plus the 414 that gunicorn can answer on any operation."""
        super().operation_helper(path=path, operations=operations, **kwargs)
        for operation in (operations or {}).values():
            if isinstance(operation, dict):
                operation.setdefault("responses", {}).setdefault("414", URI_TOO_LONG_RESPONSE)
