"""The OAuth2 token endpoint's wire format (RFC 6749 sections 4.3, 5.1, 5.2 and 6).

`POST /api/auth/token` answers the RFC's own JSON, not the envelope, so any OAuth2 client (and
Swagger UI's Authorize dialog) can log in. The grants reuse the login and refresh services; this
module only parses the form, names the errors and shapes the answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Response, jsonify

GRANT_TYPES = ("password", "refresh_token")
_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_MAX_VALUE = 4096  # a refresh token is ~500 characters; longer values are refused unread


class OAuthError(Exception):
    """An RFC 6749 section 5.2 error: HTTP 400 with ``{"error", "error_description"}``."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def parse(form: Mapping[str, list[str]]) -> dict[str, str]:
    """Return the grant's parameters from a form given as name -> values; raise OAuthError.

    ``scope`` is accepted and ignored; every parameter may appear at most once (section 3.2).
    """
    values: dict[str, str] = {}
    for name, given in form.items():
        if len(given) != 1:
            raise OAuthError("invalid_request", f"The parameter {name} must appear exactly once.")
        if len(given[0]) > _MAX_VALUE:
            raise OAuthError("invalid_request", f"The parameter {name} is too long.")
        values[name] = given[0]
    grant_type = values.get("grant_type")
    if not grant_type:
        raise OAuthError("invalid_request", "grant_type is required (password or refresh_token).")
    if grant_type not in GRANT_TYPES:
        raise OAuthError("unsupported_grant_type", "Supported grant types: password, refresh_token.")
    needed = ("username", "password") if grant_type == "password" else ("refresh_token",)
    missing = [name for name in needed if not values.get(name)]
    if missing:
        raise OAuthError("invalid_request", f"Missing for grant_type={grant_type}: {', '.join(missing)}.")
    return values


def token_response(access_token: str, refresh_token: str, expires_in: int) -> Response:
    """The successful answer (section 5.1), never cached."""
    return _json(
        200,
        {
            "access_token": access_token,
            "token_type": "bearer",
            "expires_in": expires_in,
            "refresh_token": refresh_token,
        },
    )


def error_response(error: OAuthError) -> Response:
    """The error answer (section 5.2): 400, never cached."""
    return _json(400, {"error": error.error, "error_description": error.description})


def _json(status: int, body: dict[str, Any]) -> Response:
    resp = jsonify(body)
    resp.status_code = status
    resp.headers.update(_HEADERS)
    return resp


# --- the OpenAPI description of the operation ----------------------------------------------------

REQUEST_BODY = {
    "required": True,
    "content": {
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "required": ["grant_type"],
                "properties": {
                    "grant_type": {"type": "string", "enum": list(GRANT_TYPES)},
                    "username": {"type": "string", "minLength": 1, "maxLength": 254},
                    "password": {"type": "string", "minLength": 1, "maxLength": 128},
                    "refresh_token": {"type": "string", "minLength": 1, "maxLength": _MAX_VALUE},
                    "scope": {"type": "string", "maxLength": _MAX_VALUE, "description": "Ignored."},
                },
                "oneOf": [
                    {
                        "properties": {"grant_type": {"enum": ["password"]}},
                        "required": ["username", "password"],
                    },
                    {
                        "properties": {"grant_type": {"enum": ["refresh_token"]}},
                        "required": ["refresh_token"],
                    },
                ],
            }
        }
    },
}
_NO_STORE = {"Cache-Control": {"schema": {"type": "string", "enum": ["no-store"]}}}
RESPONSES = {
    "200": {
        "description": "Tokens (RFC 6749 section 5.1; not enveloped).",
        "headers": _NO_STORE,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["access_token", "token_type", "expires_in", "refresh_token"],
                    "properties": {
                        "access_token": {"type": "string"},
                        "token_type": {"type": "string", "enum": ["bearer"]},
                        "expires_in": {"type": "integer", "description": "Access token lifetime (s)."},
                        "refresh_token": {"type": "string"},
                    },
                }
            }
        },
    },
    "400": {
        "description": "RFC 6749 section 5.2 error (not enveloped): wrong credentials or refresh "
        "token (`invalid_grant`), a missing or repeated parameter (`invalid_request`), another grant "
        "type (`unsupported_grant_type`).",
        "headers": _NO_STORE,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "string",
                            "enum": ["invalid_request", "invalid_grant", "unsupported_grant_type"],
                        },
                        "error_description": {"type": "string"},
                    },
                }
            }
        },
    },
}
