"""Users: accounts, profiles and encrypted API keys. The public functions commit."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select

from backend.core import crypto, sessions
from backend.core.db import transactional
from backend.core.password_gate import hashing_slot
from backend.core.passwords import hash_password, verify_password
from backend.extensions import db
from backend.modules.users.errors import (
    ApiKeyNotFound,
    EmailTaken,
    UsernameTaken,
    UserNotFound,
    WrongPassword,
)
from backend.modules.users.models import User, UserApiKey  # User is public: callers type rows with it


def _find_by_login(login: str) -> User | None:
    login = login.strip().lower()
    return db.session.scalars(
        select(User).where((func.lower(User.username) == login) | (func.lower(User.email) == login))
    ).first()


def _hash(password: str) -> str:
    with hashing_slot():
        return hash_password(password)


def _verify(password_hash: str | None, password: str) -> bool:
    with hashing_slot():
        return verify_password(password_hash, password)


def _ensure_unique(
    *, username: str | None = None, email: str | None = None, exclude_id: str | None = None
) -> None:
    if username is not None:
        stmt = select(User.id).where(func.lower(User.username) == username.lower())
        if db.session.scalars(stmt).first() not in (None, exclude_id):
            raise UsernameTaken()
    if email is not None:
        stmt = select(User.id).where(func.lower(User.email) == email.lower())
        if db.session.scalars(stmt).first() not in (None, exclude_id):
            raise EmailTaken()


@transactional
def create_user(
    *, username: str, password: str, email: str | None = None, name: str | None = None, is_admin: bool = False
) -> User:
    """Register a user with a hashed password."""
    _ensure_unique(username=username, email=email)
    user = User(
        username=username,
        email=email,
        password_hash=_hash(password),
        name=name or username,
        is_admin=is_admin,
        level=1,
    )
    db.session.add(user)
    db.session.flush()
    return user


def authenticate(*, login: str, password: str) -> User | None:
    """Return the user whose username or email and password match, else None."""
    user = _find_by_login(login)
    ok = _verify(user.password_hash if user else None, password)  # unknown users cost a hash too
    return user if ok else None


def get_user(*, user_id: str) -> User:
    """Return a user by id."""
    user = db.session.get(User, user_id)
    if user is None:
        raise UserNotFound()
    return user


def get_users(*, ids: Iterable[str]) -> dict[str, User]:
    """Return the users with these ids, keyed by id (missing ids are absent)."""
    wanted = set(ids)
    if not wanted:
        return {}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(wanted)))}


@transactional
def update_me(*, actor_id: str, changes: dict[str, Any], session_id: str | None = None) -> User:
    """Update the caller's profile; a password change needs the current password.

    A password change ends every other session of the user (their access and refresh tokens stop
    working at once); the session `session_id` that made the change continues.
    """
    user = get_user(user_id=actor_id)
    if "password" in changes:
        if not _verify(user.password_hash, changes.pop("current_password", "")):
            raise WrongPassword(fields={"current_password": ["The current password is not correct."]})
        user.password_hash = _hash(changes.pop("password"))
        sessions.revoke_user_sessions(
            user_id=user.id, except_family=session_id, reason=sessions.PASSWORD_CHANGE
        )
    changes.pop("current_password", None)
    _ensure_unique(username=changes.get("username"), email=changes.get("email"), exclude_id=user.id)
    for field, value in changes.items():
        setattr(user, field, value)
    return user


@transactional
def ensure_user(*, username: str, password: str, is_admin: bool = False) -> User:
    """Create the user if missing (idempotent; an existing user's password is left alone)."""
    user = _find_by_login(username)
    if user is None:
        user = User(
            username=username,
            password_hash=_hash(password),
            name=username,
            is_admin=is_admin,
            level=5 if is_admin else 1,
        )
        db.session.add(user)
        db.session.flush()
    return user


# --- API keys -----------------------------------------------------------------------------------


@transactional
def put_api_key(
    *, actor_id: str, exchange: str, api_key: str, api_secret: str | None = None, label: str | None = None
) -> UserApiKey:
    """Store (or replace) the caller's key for an exchange, encrypted."""
    row = db.session.scalars(
        select(UserApiKey).where(UserApiKey.user_id == actor_id, UserApiKey.exchange == exchange)
    ).first()
    if row is None:
        row = UserApiKey(user_id=actor_id, exchange=exchange)
        db.session.add(row)
    row.label = label
    row.key_ciphertext = crypto.encrypt(api_key)
    row.secret_ciphertext = crypto.encrypt(api_secret) if api_secret else None
    row.key_last4 = api_key[-4:]
    db.session.flush()
    return row


def list_api_keys(*, actor_id: str) -> list[UserApiKey]:
    """Return the caller's stored keys (ciphertext rows; schemas mask them)."""
    return list(
        db.session.scalars(
            select(UserApiKey).where(UserApiKey.user_id == actor_id).order_by(UserApiKey.exchange)
        )
    )


@transactional
def delete_api_key(*, actor_id: str, exchange: str) -> None:
    """Forget the caller's key for an exchange."""
    row = db.session.scalars(
        select(UserApiKey).where(UserApiKey.user_id == actor_id, UserApiKey.exchange == exchange)
    ).first()
    if row is None:
        raise ApiKeyNotFound()
    db.session.delete(row)


def get_api_secret(*, user_id: str, exchange: str) -> tuple[str, str | None] | None:
    """Return the decrypted (key, secret) for server-side use only; never send it to a client."""
    row = db.session.scalars(
        select(UserApiKey).where(UserApiKey.user_id == user_id, UserApiKey.exchange == exchange)
    ).first()
    if row is None:
        return None
    secret = crypto.decrypt(row.secret_ciphertext) if row.secret_ciphertext else None
    return crypto.decrypt(row.key_ciphertext), secret
