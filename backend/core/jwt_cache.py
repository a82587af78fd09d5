"""A JWTManager that verifies each distinct token once per process, not once per request.

flask-jwt-extended decodes a token three times per request (unverified claims for the key
loader, the unverified header, then the verified decode), and PyJWT checks every base64 character
in Python each time: about a third of an authenticated read's own CPU on the hot paths
(docs/performance.md, section api). A client sends the same access token on every request until
it expires, so the outcome of verifying it is remembered: the verified claims are kept per token
string (signature included) and per verification setting (secret, algorithms, audience, issuer,
leeway), and a later request with the same token gets a copy of them as long as the token has not
expired (checked on every request, with PyJWT's rule and leeway). ``nbf`` and ``iat`` can only
become more valid with time, so they need no re-check.

The verification settings are flask-jwt-extended's (``config.decode_key``, ``decode_algorithms``...),
each a property reading ``current_app.config``: about a dozen context-proxy reads per request.
They are a function of a few raw config values (`SETTING_NAMES`), so they are worked out through
those properties only when the raw values differ from the ones they were last worked out from
(compared by equality on every request, against copies of any list, set or dict, so one changed
in place counts as changed); otherwise the last result is reused.

Only successful verifications are kept: a malformed, forged, expired or otherwise refused token
goes through the full decode every time and fails exactly as before (same exceptions, same 401
envelopes). The revocation check (`backend.core.sessions.is_active`) is not part of this and still
runs on every request. The cache is bounded (``MAX_TOKENS``; emptied when full).

After the verified decode flask-jwt-extended reads the token's header once more
(``get_unverified_jwt_headers``, PyJWT's base64 checks again). The header is a pure function of
the token string, so `unverified_headers` remembers it per token string (successes only, bounded
the same way); so is the token found in the ``Authorization`` header (`token_from_headers`).
`install_header_memo` puts both where flask-jwt-extended's request verification looks them up.
"""

from __future__ import annotations

import time
from typing import Any

import flask_jwt_extended.view_decorators as view_decorators
from flask import current_app, request
from flask_jwt_extended import JWTManager
from flask_jwt_extended.config import config
from flask_jwt_extended.exceptions import NoAuthorizationError
from flask_jwt_extended.utils import get_unverified_jwt_headers

MAX_TOKENS = 4096

# The app config values flask-jwt-extended's decode settings are worked out from (`_Config`'s
# properties: decode_key, decode_algorithms, decode_audience, decode_issuer, leeway,
# identity_claim_key, verify_sub).
SETTING_NAMES = (
    "JWT_ALGORITHM",
    "JWT_SECRET_KEY",
    "SECRET_KEY",
    "JWT_PUBLIC_KEY",
    "JWT_DECODE_ALGORITHMS",
    "JWT_DECODE_AUDIENCE",
    "JWT_DECODE_ISSUER",
    "JWT_DECODE_LEEWAY",
    "JWT_IDENTITY_CLAIM",
    "JWT_VERIFY_SUB",
)


class CachingJWTManager(JWTManager):
    """`JWTManager` whose token decode remembers verified tokens (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._verified: dict[tuple[Any, ...], dict[str, Any]] = {}
        # (raw config values, the settings worked out from them, the leeway): see `_settings`.
        self._settings_memo: tuple[tuple[Any, ...], tuple[Any, ...], Any] | None = None
        install_header_memo()

    def clear_verified(self) -> None:
        """Forget every remembered token (tests; after rotating JWT_SECRET_KEY nothing else is needed)."""
        self._verified.clear()
        self._settings_memo = None
        _headers.clear()
        _tokens.clear()

    def _decode_jwt_from_config(
        self, encoded_token: str, csrf_value: str | None = None, allow_expired: bool = False
    ) -> dict[str, Any]:
        settings, leeway = self._settings()
        key = (encoded_token, csrf_value, allow_expired, settings)
        claims = self._verified.get(key)
        if claims is not None:
            if allow_expired or _not_expired(claims, leeway):
                return dict(claims)
            self._verified.pop(key, None)
        decoded: dict[str, Any] = super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)
        if len(self._verified) >= MAX_TOKENS:
            self._verified.clear()
        self._verified[key] = dict(decoded)
        return decoded

    def _settings(self) -> tuple[tuple[Any, ...], Any]:
        """Return (the verification settings as a hashable tuple, the leeway) for the current app.

        Worked out through flask-jwt-extended's ``config`` when the raw values of `SETTING_NAMES`
        differ from the last ones (or the first time), else the last result.
        """
        app_config = current_app.config
        raw = tuple(map(app_config.get, SETTING_NAMES))
        memo = self._settings_memo
        if memo is not None and memo[0] == raw:
            return memo[1], memo[2]
        settings = (
            config.decode_key,
            tuple(config.decode_algorithms),
            repr(config.decode_audience),
            config.decode_issuer,
            config.leeway,
            config.identity_claim_key,
            config.verify_sub,
        )
        leeway = config.leeway
        # Read again after the properties (decode_algorithms may append to its list); containers copied.
        raw = tuple(
            v.copy() if isinstance(v, (list, set, dict)) else v for v in map(app_config.get, SETTING_NAMES)
        )
        self._settings_memo = (raw, settings, leeway)
        return settings, leeway


def _not_expired(claims: dict[str, Any], leeway: Any) -> bool:
    """PyJWT's expiry rule: expired when ``exp <= now - leeway``."""
    exp = claims.get("exp")
    if exp is None:  # never stored (REQUIRED_CLAIMS), but a token without exp is never expired to PyJWT
        return True
    seconds = leeway.total_seconds() if hasattr(leeway, "total_seconds") else float(leeway)
    return bool(float(exp) > time.time() - seconds)


_headers: dict[str, dict[str, Any]] = {}


def unverified_headers(encoded_token: str) -> dict[str, Any]:
    """flask-jwt-extended's ``get_unverified_jwt_headers``, remembered per token string.

    Same result and same exceptions: a token string whose header fails to decode is never
    remembered and fails again every time.
    """
    found = _headers.get(encoded_token)
    if found is None:
        found = get_unverified_jwt_headers(encoded_token)
        if len(_headers) >= MAX_TOKENS:
            _headers.clear()
        _headers[encoded_token] = dict(found)
        return found
    return dict(found)


_tokens: dict[tuple[str, str, Any], tuple[str, None]] = {}
_stock_token_from_headers = view_decorators._decode_jwt_from_headers


def token_from_headers() -> tuple[str, None]:
    """flask-jwt-extended's ``_decode_jwt_from_headers``, remembered per header value and settings.

    Its answer (the token in ``<JWT_HEADER_NAME>: <JWT_HEADER_TYPE> <token>``) depends only on
    that header's value, ``JWT_HEADER_NAME`` and ``JWT_HEADER_TYPE``; a remembered one skips the
    two config properties, the ``re.split`` and the scan of the comma-separated values. Only
    answers are remembered (bounded like the tokens): a malformed header goes through the
    library's function every time and raises what it raises. A request without the header (every
    anonymous request) gets the library's error for that case at once, a new one each time.
    """
    app_config = current_app.config
    name = app_config["JWT_HEADER_NAME"]
    if not name:  # the library's RuntimeError
        return _stock_token_from_headers()
    value = request.headers.get(name, "")
    if not value:  # what the library raises for a missing or empty header (tested against it)
        raise NoAuthorizationError(f"Missing {name} Header")
    key = (value, name, app_config["JWT_HEADER_TYPE"])
    found = _tokens.get(key)
    if found is None:
        found = _stock_token_from_headers()
        if len(_tokens) >= MAX_TOKENS:
            _tokens.clear()
        _tokens[key] = found
    return found


def install_header_memo() -> None:
    """Make flask-jwt-extended's request verification use `unverified_headers` and
    `token_from_headers` (idempotent).

    ``verify_jwt_in_request`` calls the module-level names ``get_unverified_jwt_headers`` and
    ``_decode_jwt_from_headers`` of ``flask_jwt_extended.view_decorators``; if a release stops
    doing so, nothing changes (the tests pinning this fail instead of the app).
    """
    if getattr(view_decorators, "get_unverified_jwt_headers", None) is get_unverified_jwt_headers:
        view_decorators.get_unverified_jwt_headers = unverified_headers
    if getattr(view_decorators, "_decode_jwt_from_headers", None) is _stock_token_from_headers:
        view_decorators._decode_jwt_from_headers = token_from_headers
