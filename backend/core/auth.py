"""Authentication plumbing: JWT error envelopes, the claims every token must carry, the session
check, and actor helpers.

Token lifecycle (issued by `backend.modules.auth.service`, recorded by `backend.core.sessions`):
every login starts a token *family* (claim ``fam``), a row in Postgres. Logout revokes the family;
a refresh token can be used once (rotation) and replaying a used one revokes the family; a
password change revokes every other family of the user. Every authenticated request checks the
family (Redis cache, Postgres when Redis is unreachable), so a Redis outage neither logs anybody
out nor lets a revoked token in.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Request, Response, current_app
from flask.sessions import SessionInterface, SessionMixin
from flask_jwt_extended import get_jwt, get_jwt_identity, verify_jwt_in_request
from jwt.exceptions import InvalidTokenError, MissingRequiredClaimError

from backend.core import personal, sessions
from backend.core.envelope import error_response
from backend.core.errors import Unauthorized
from backend.extensions import jwt

# Claims every token must carry, with the JSON types they must have (ASVS 5.0 9.2.1 and 9.2.2: a
# token is accepted only with its validity window and its intended use stated and verified).
REQUIRED_CLAIMS: dict[str, tuple[type, ...]] = {
    "exp": (int, float),
    "iat": (int, float),
    "jti": (str,),
    "type": (str,),
    "sub": (str,),
    "fam": (str,),
}
TOKEN_TYPES = frozenset({"access", "refresh"})


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


def token_claims() -> dict[str, Any]:
    """Return the verified claims of the current request's token."""
    return dict(get_jwt())


def check_required_claims(claims: dict[str, Any]) -> None:
    """Raise `InvalidTokenError` unless `claims` has every required claim with the right type.

    flask-jwt-extended fills in a missing ``type`` ("access") and ``jti`` (None) and PyJWT accepts
    a token without ``exp`` (one that never expires), so the raw claims are checked here.
    """
    for name, types in REQUIRED_CLAIMS.items():
        if name not in claims:
            raise MissingRequiredClaimError(name)
        value = claims[name]
        if isinstance(value, bool) or not isinstance(value, types) or value == "":
            raise InvalidTokenError(f"Invalid claim: {name}")
    if claims["type"] not in TOKEN_TYPES:
        raise InvalidTokenError("Invalid claim: type")


def is_revoked(payload: dict[str, Any]) -> bool:
    """Return True unless the token's family is live and belongs to the token's subject.

    On a route with a personal read cache the same Redis round trip looks the caller's entry up
    (`backend.core.personal`); the answer is the same either way.
    """
    user_id = str(payload["sub"])
    return not sessions.is_active(
        family_id=str(payload["fam"]), user_id=user_id, read_cached=personal.session_lookup(user_id)
    )


def _unauthorized(reason: str, message: str) -> Response:
    response: Response = error_response(401, message, {"reason": reason})
    return response


class NoCookieSessions(SessionInterface):
    """Flask's cookie session, switched off: every request is authenticated by its bearer token alone.

    Nothing in the app reads or writes `flask.session`; Flask's default interface still builds a
    signing serializer and looks for the cookie on every request. `open_session` returning None
    gives each request Flask's `NullSession` (any write to it raises), and nothing is saved.
    """

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        return None

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        return None


def init_jwt_callbacks(app: Flask) -> None:
    """Make every flask-jwt-extended failure a 401 in the error envelope (never `{"msg": ...}`).

    Also switches off Flask's cookie session (`NoCookieSessions`): tokens are the only credential.
    """
    app.session_interface = NoCookieSessions()

    @jwt.decode_key_loader
    def _decode_key(_header: dict[str, Any], unverified: dict[str, Any]) -> str:
        # Runs before the signature check; a token failing it is "token_invalid" either way.
        # The serving app's key (the extension is shared by every app of the process), which is
        # also the key `backend.core.jwt_cache` files verified tokens under.
        check_required_claims(unverified)
        return str(current_app.config["JWT_SECRET_KEY"])

    @jwt.token_in_blocklist_loader
    def _check_blocklist(_header: dict[str, Any], payload: dict[str, Any]) -> bool:
        return is_revoked(payload)

    @jwt.unauthorized_loader
    def _missing(reason: str) -> Response:
        return _unauthorized("token_missing", "A bearer token is required.")

    @jwt.invalid_token_loader
    def _invalid(reason: str) -> Response:
        return _unauthorized("token_invalid", "The token is invalid.")

    @jwt.expired_token_loader
    def _expired(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
        return _unauthorized("token_expired", "The token has expired.")

    @jwt.revoked_token_loader
    def _revoked(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
        return _unauthorized("token_revoked", "The token has been revoked.")

    @jwt.needs_fresh_token_loader
    def _needs_fresh(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
        return _unauthorized("fresh_token_required", "Log in again to do this (a fresh token is required).")

    @jwt.token_verification_failed_loader
    def _claims_failed(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
        return _unauthorized("token_invalid", "The token is invalid.")

    @jwt.user_lookup_error_loader
    def _user_lookup(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
        return _unauthorized("token_invalid", "The token's user no longer exists.")
