"""Authentication: registration, login, refresh-token rotation and logout.

Every login starts a token family (``fam`` claim), recorded in Postgres by `backend.core.sessions`.
Refresh rotates: the presented refresh token must be the family's live one; it is swapped for a
new pair in the same family. Presenting an older refresh token again (a replay) revokes the
family, so a stolen token is useless once either party refreshes. Logout revokes the presented
token's family, so the matching access and refresh tokens stop working too. A user an admin
disabled cannot log in or refresh (403 ``account_disabled``); disabling also revokes every family.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from flask import current_app
from flask_jwt_extended import create_access_token, create_refresh_token, decode_token
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt import PyJWTError

from backend.core import sessions
from backend.core.db import new_id, now_ms, transactional
from backend.core.errors import NotFound
from backend.modules.auth.errors import AccountDisabled, InvalidCredentials, RefreshTokenReused
from backend.modules.auth.oauth import OAuthError
from backend.modules.users import service as users_service


@dataclass(frozen=True)
class TokenPair:
    """What login, register and refresh return."""

    access_token: str
    refresh_token: str
    expires_in: int
    user: users_service.User
    token_type: str = "Bearer"


@dataclass(frozen=True)
class _Minted:
    pair: TokenPair
    refresh_jti: str
    expires_at: int  # ms, when the refresh token expires


def _mint(user: users_service.User, *, family: str, fresh: bool) -> _Minted:
    refresh_jti = new_id()
    refresh_life = current_app.config["JWT_REFRESH_TOKEN_EXPIRES"]
    access = create_access_token(identity=user.id, fresh=fresh, additional_claims={"fam": family})
    refresh = create_refresh_token(identity=user.id, additional_claims={"fam": family, "jti": refresh_jti})
    expires_in = int(current_app.config["JWT_ACCESS_TOKEN_EXPIRES"].total_seconds())
    pair = TokenPair(access_token=access, refresh_token=refresh, expires_in=expires_in, user=user)
    return _Minted(pair, refresh_jti, now_ms() + int(refresh_life.total_seconds() * 1000))


def _start_session(user: users_service.User) -> TokenPair:
    family = uuid.uuid4().hex
    minted = _mint(user, family=family, fresh=True)
    sessions.start(
        family_id=family, user_id=user.id, refresh_jti=minted.refresh_jti, expires_at=minted.expires_at
    )
    return minted.pair


@transactional
def register(*, username: str, password: str, email: str | None = None) -> TokenPair:
    """Create an account and log it in."""
    user = users_service.create_user(username=username, password=password, email=email)
    return _start_session(user)


@transactional
def login(*, login: str, password: str) -> TokenPair:
    """Check credentials (username or email) and start a new token family."""
    user = users_service.authenticate(login=login, password=password)
    if user is None:
        raise InvalidCredentials()
    if user.disabled_at is not None:  # only after the password matched: nothing leaks to guessers
        raise AccountDisabled()
    return _start_session(user)


@transactional
def start_session_for(*, user_id: str) -> TokenPair:
    """Start a session for an existing user without a password (seed data, tests, benchmarks)."""
    return _start_session(users_service.get_user(user_id=user_id))


def refresh(*, claims: dict[str, Any]) -> TokenPair:
    """Rotate a refresh token; a replayed one revokes its whole family."""
    pair = _rotate(claims)
    if pair is None:
        _revoke(str(claims["fam"]), sessions.REFRESH_REPLAY)
        raise RefreshTokenReused()
    return pair


@transactional
def _rotate(claims: dict[str, Any]) -> TokenPair | None:
    user = users_service.get_user(user_id=str(claims["sub"]))
    if user.disabled_at is not None:  # disabling revokes the families too; this holds regardless
        raise AccountDisabled()
    minted = _mint(user, family=str(claims["fam"]), fresh=False)
    rotated = sessions.rotate(
        family_id=str(claims["fam"]),
        user_id=user.id,
        presented_jti=str(claims["jti"]),
        new_jti=minted.refresh_jti,
        expires_at=minted.expires_at,
    )
    return minted.pair if rotated else None


def logout(*, claims: dict[str, Any]) -> None:
    """Revoke the presented token's family: its access and refresh tokens stop working."""
    _revoke(str(claims["fam"]), sessions.LOGOUT)


@transactional
def _revoke(family: str, reason: str) -> None:
    sessions.revoke(family_ids=[family], reason=reason)


def token_grant(*, params: dict[str, str]) -> TokenPair:
    """Run an OAuth2 grant (RFC 6749) on parsed form ``params``: the login or refresh path.

    ``password``: exactly `login` (the password gate, the dummy hash for unknown users);
    ``refresh_token``: exactly `refresh` (rotation, replay revokes the family). A refusal is
    ``OAuthError("invalid_grant")``; the password gate's 503 and other errors pass through.
    """
    if params["grant_type"] == "password":
        try:
            return login(login=params["username"], password=params["password"])
        except InvalidCredentials:
            raise OAuthError("invalid_grant", InvalidCredentials.default_message) from None
        except AccountDisabled:
            raise OAuthError("invalid_grant", AccountDisabled.default_message) from None
    try:
        claims = decode_token(params["refresh_token"])
    except (PyJWTError, JWTExtendedException):
        raise OAuthError("invalid_grant", "The refresh token is invalid or expired.") from None
    if claims.get("type") != "refresh":
        raise OAuthError("invalid_grant", "This is not a refresh token.")
    try:
        return refresh(claims=claims)
    except (RefreshTokenReused, NotFound, AccountDisabled) as exc:  # replayed, revoked, user gone or disabled
        raise OAuthError("invalid_grant", exc.message) from None
