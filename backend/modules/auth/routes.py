"""Routes of the auth module."""

from __future__ import annotations

from flask import Response, current_app, request
from flask_jwt_extended import get_jwt, jwt_required
from flask_limiter.util import get_remote_address

from backend.core.envelope import EnvelopeBlueprint
from backend.extensions import limiter
from backend.modules.auth import service
from backend.modules.auth.schemas import LoginSchema, RegisterResultSchema, RegisterSchema, TokenSchema

blp = EnvelopeBlueprint(
    "auth", __name__, url_prefix="/api/auth", description="Tokens: login, refresh, logout."
)


def _login_limit_key() -> str:
    body = request.get_json(silent=True)
    body = body if isinstance(body, dict) else {}  # a JSON array or scalar is a 422 later, not a crash
    who = str(body.get("username") or body.get("email") or "").strip().lower()[:254]
    return f"login:{get_remote_address()}:{who}"


def _failed(response: Response) -> bool:
    return response.status_code == 401


def _not_a_validation_error(response: Response) -> bool:
    return response.status_code != 422


@blp.route("/login", methods=["POST"])
@blp.doc(security=[])
# Guessing one account's password: attempts per address and username.
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN"], key_func=_login_limit_key)
# Password spraying (one password against many usernames): failures per address, any username.
@limiter.limit(
    lambda: current_app.config["RATELIMIT_LOGIN_FAILURES"],
    key_func=lambda: f"login-failures:{get_remote_address()}",
    deduct_when=_failed,
)
@blp.arguments(LoginSchema)
@blp.response(200, TokenSchema)
@blp.alt_response(429, description="Too many attempts (error envelope, Retry-After header).")
@blp.alt_response(503, description="Too many sign-ins being checked at once (Retry-After header).")
@blp.alt_response(403, description="The account was disabled by an admin (`account_disabled`).")
def login(body):
    """Log in with username (or email) and password."""
    return service.login(login=body.get("username") or body["email"], password=body["password"])


@blp.route("/register", methods=["POST"])
@blp.doc(security=[])
@limiter.limit(
    lambda: current_app.config["RATELIMIT_REGISTER"],
    key_func=lambda: f"register:{get_remote_address()}",
    deduct_when=_not_a_validation_error,
)
@blp.arguments(RegisterSchema)
@blp.response(201, RegisterResultSchema)
@blp.alt_response(429, description="Too many registrations from this address (Retry-After header).")
def register(body):
    """Create an account and return its first tokens."""
    return service.register(username=body["username"], password=body["password"], email=body["email"])


@blp.route("/refresh", methods=["POST"])
@jwt_required(refresh=True)
@blp.response(200, TokenSchema)
def refresh():
    """Exchange a refresh token (as Bearer) for a new pair; the old one stops working."""
    return service.refresh(claims=get_jwt())


@blp.route("/logout", methods=["POST"])
@jwt_required(verify_type=False)
@blp.response(200)
def logout():
    """Revoke the presented token and the rest of its login family."""
    service.logout(claims=get_jwt())
