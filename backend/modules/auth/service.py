"""Authentication: registration, login, refresh-token rotation and logout.

Every login starts a token family (``fam`` claim). Refresh rotates: the presented refresh token
is consumed and a new pair is issued in the same family; presenting a consumed token again
revokes the family (a stolen token is useless once either party refreshes). Logout revokes the
presented token and its family, so the matching access/refresh tokens stop working too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from flask import current_app
from flask_jwt_extended import create_access_token, create_refresh_token

from backend.core import auth as core_auth
from backend.modules.auth.errors import InvalidCredentials, RefreshTokenReused
from backend.modules.users import service as users_service


@dataclass(frozen=True)
class TokenPair:
    """What login, register and refresh return."""

    access_token: str
    refresh_token: str
    expires_in: int
    user: users_service.User
    token_type: str = "Bearer"


def _issue(user: users_service.User, *, family: str, fresh: bool) -> TokenPair:
    claims = {"fam": family}
    access = create_access_token(identity=user.id, fresh=fresh, additional_claims=claims)
    refresh = create_refresh_token(identity=user.id, additional_claims=claims)
    expires_in = int(current_app.config["JWT_ACCESS_TOKEN_EXPIRES"].total_seconds())
    return TokenPair(access_token=access, refresh_token=refresh, expires_in=expires_in, user=user)


def register(*, username: str, password: str, email: str | None = None) -> TokenPair:
    """Create an account and log it in."""
    user = users_service.create_user(username=username, password=password, email=email)
    return _issue(user, family=uuid.uuid4().hex, fresh=True)


def login(*, login: str, password: str) -> TokenPair:
    """Check credentials (username or email) and start a new token family."""
    user = users_service.authenticate(login=login, password=password)
    if user is None:
        raise InvalidCredentials()
    return _issue(user, family=uuid.uuid4().hex, fresh=True)


def refresh(*, claims: dict[str, Any]) -> TokenPair:
    """Rotate a refresh token; a replayed one revokes its whole family."""
    if not core_auth.consume_refresh_token(claims):
        core_auth.revoke_family(claims.get("fam", ""), _refresh_ttl())
        raise RefreshTokenReused()
    user = users_service.get_user(user_id=str(claims["sub"]))
    return _issue(user, family=claims.get("fam") or uuid.uuid4().hex, fresh=False)


def logout(*, claims: dict[str, Any]) -> None:
    """Revoke the presented token and every token of its family."""
    core_auth.revoke_token(claims)
    if claims.get("fam"):
        core_auth.revoke_family(claims["fam"], _refresh_ttl())


def _refresh_ttl() -> int:
    return int(current_app.config["JWT_REFRESH_TOKEN_EXPIRES"].total_seconds())
