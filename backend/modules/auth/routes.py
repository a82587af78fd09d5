"""Routes of the auth module."""

from __future__ import annotations

from flask import Response, current_app, request
from flask_jwt_extended import get_jwt, jwt_required
from flask_limiter.util import get_remote_address

from backend.core.envelope import EnvelopeBlueprint
from backend.extensions import limiter
from backend.modules.auth import oauth, service
from backend.modules.auth.schemas import LoginSchema, RegisterResultSchema, RegisterSchema, TokenSchema

blp = EnvelopeBlueprint(
    "auth", __name__, url_prefix="/api/auth", description="Tokens: login, refresh, logout."
)


def _login_limit_key() -> str:
    body = request.get_json(silent=True)
    body = body if isinstance(body, dict) else {}  # a JSON array or scalar is a 422 later, not a crash
    who = str(body.get("username") or body.get("email") or "").strip().lower()[:254]
    return f"login:{get_remote_address()}:{who}"


def _token_limit_key() -> str:
    who = str(request.form.get("username") or "").strip().lower()[:254]
    return f"login:{get_remote_address()}:{who}"


def _failed(response: Response) -> bool:
    return response.status_code == 401


def _grant_failed(response: Response) -> bool:
    return response.status_code == 400


# Login and the token endpoint share their limits (scope), so a guesser gains nothing by using both.
_ATTEMPTS = "login-attempts"
_FAILURES = "login-failures"


def _failures_key() -> str:
    return f"login-failures:{get_remote_address()}"


def _not_a_validation_error(response: Response) -> bool:
    return response.status_code != 422


@blp.route("/login", methods=["POST"])
@blp.doc(security=[])
# Guessing one account's password: attempts per address and username.
@limiter.shared_limit(lambda: current_app.config["RATELIMIT_LOGIN"], _ATTEMPTS, key_func=_login_limit_key)
# Password spraying (one password against many usernames): failures per address, any username.
@limiter.shared_limit(
    lambda: current_app.config["RATELIMIT_LOGIN_FAILURES"],
    _FAILURES,
    key_func=_failures_key,
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


@blp.route("/token", methods=["POST"])
@blp.doc(
    security=[],
    requestBody=oauth.REQUEST_BODY,
    responses=oauth.RESPONSES,
)
@limiter.shared_limit(
    lambda: current_app.config["RATELIMIT_LOGIN"],
    _ATTEMPTS,
    key_func=_token_limit_key,
    exempt_when=lambda: request.form.get("grant_type") != "password",  # refreshing is not a login
)
@limiter.shared_limit(
    lambda: current_app.config["RATELIMIT_LOGIN_FAILURES"],
    _FAILURES,
    key_func=_failures_key,
    deduct_when=_grant_failed,
)
@blp.alt_response(429, description="Too many attempts (error envelope, Retry-After header).")
@blp.alt_response(503, description="Too many sign-ins being checked at once (Retry-After header).")
def token():
    """OAuth2 token endpoint (RFC 6749): the password grant, and the refresh_token grant.
    ---
    Form-encoded (`application/x-www-form-urlencoded`): `grant_type=password&username=...&password=...`
    (`scope` is ignored), or `grant_type=refresh_token&refresh_token=...`. The answer is the RFC's
    JSON, not the envelope, with `Cache-Control: no-store`. The same login service, rate limits
    (shared with `/api/auth/login`) and password gate apply; 429 and 503 are the usual envelopes.
    This is the token URL of the `oauth2` security scheme (Swagger UI's Authorize dialog).
    """
    params = oauth.parse(request.form.to_dict(flat=False))
    pair = service.token_grant(params=params)
    return oauth.token_response(pair.access_token, pair.refresh_token, pair.expires_in)


@blp.errorhandler(oauth.OAuthError)
def _oauth_error(error: oauth.OAuthError) -> Response:
    return oauth.error_response(error)
