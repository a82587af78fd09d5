"""Authentication plumbing: JWT error envelopes, the Redis blocklist, and actor helpers.

Token lifecycle (issued by `backend.modules.auth.service`): every login starts a token *family*
(claim ``fam``). Logout revokes the presented token and its whole family; a refresh token can be
used once (rotation); replaying a used one revokes the family. Revocations live in Redis with a
TTL equal to the token's remaining life. If Redis is down the check fails closed with a 503.
"""

from __future__ import annotations

import time
from typing import Any

import redis
from flask import Flask
from flask_jwt_extended import get_jwt, get_jwt_identity, verify_jwt_in_request

from backend.core.envelope import error_response
from backend.core.errors import Unauthorized, Unavailable
from backend.core.redis import get_redis, rkey
from backend.extensions import jwt


def current_user_id() -> str:
    """Return the authenticated caller's user id (the route must be `@jwt_required()`)."""
    identity = get_jwt_identity()
    if not identity:
        raise Unauthorized()
    return str(identity)


def optional_user_id() -> str | None:
    """Return the caller's user id if a valid token was presented, else None.

    An *invalid* token is still an error (401): anonymous means no token at all.
    """
    verify_jwt_in_request(optional=True)
    identity = get_jwt_identity()
    return str(identity) if identity else None


def _ttl_for(payload: dict[str, Any]) -> int:
    return max(int(payload.get("exp", time.time()) - time.time()), 1)


def revoke_token(payload: dict[str, Any]) -> None:
    """Blocklist one token until it would have expired anyway."""
    _redis_call(lambda r: r.set(rkey("jwt", "revoked", payload["jti"]), "1", ex=_ttl_for(payload)))


def revoke_family(family: str, ttl_s: int) -> None:
    """Revoke every token of a login family (access and refresh)."""
    _redis_call(lambda r: r.set(rkey("jwt", "family", family), "1", ex=max(ttl_s, 1)))


def consume_refresh_token(payload: dict[str, Any]) -> bool:
    """Mark a refresh token used; return False if it had been used before (a replay)."""
    return bool(
        _redis_call(lambda r: r.set(rkey("jwt", "used", payload["jti"]), "1", ex=_ttl_for(payload), nx=True))
    )


def is_revoked(payload: dict[str, Any]) -> bool:
    """Return True if the token or its family is revoked."""
    keys = [rkey("jwt", "revoked", payload["jti"])]
    if payload.get("fam"):
        keys.append(rkey("jwt", "family", payload["fam"]))
    return bool(_redis_call(lambda r: r.exists(*keys)))


def _redis_call(fn):
    try:
        return fn(get_redis())
    except redis.RedisError as exc:
        raise Unavailable(
            "The session store is unavailable; try again shortly.", details={"service": "redis"}
        ) from exc


def _unauthorized(reason: str, message: str):
    return error_response(401, message, {"reason": reason})


def init_jwt_callbacks(app: Flask) -> None:
    """Make every flask-jwt-extended failure a 401 in the error envelope (never `{"msg": ...}`)."""

    @jwt.token_in_blocklist_loader
    def _check_blocklist(_header: dict, payload: dict) -> bool:
        return is_revoked(payload)

    @jwt.unauthorized_loader
    def _missing(reason: str):
        return _unauthorized("token_missing", "A bearer token is required.")

    @jwt.invalid_token_loader
    def _invalid(reason: str):
        return _unauthorized("token_invalid", "The token is invalid.")

    @jwt.expired_token_loader
    def _expired(_header: dict, _payload: dict):
        return _unauthorized("token_expired", "The token has expired.")

    @jwt.revoked_token_loader
    def _revoked(_header: dict, _payload: dict):
        return _unauthorized("token_revoked", "The token has been revoked.")

    @jwt.needs_fresh_token_loader
    def _needs_fresh(_header: dict, _payload: dict):
        return _unauthorized("fresh_token_required", "Log in again to do this (a fresh token is required).")

    @jwt.token_verification_failed_loader
    def _claims_failed(_header: dict, _payload: dict):
        return _unauthorized("token_invalid", "The token is invalid.")

    @jwt.user_lookup_error_loader
    def _user_lookup(_header: dict, _payload: dict):
        return _unauthorized("token_invalid", "The token's user no longer exists.")


def token_claims() -> dict[str, Any]:
    """Return the verified claims of the current request's token."""
    return get_jwt()
