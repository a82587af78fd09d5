"""Password hashing with Argon2id.

Production uses argon2-cffi's default (RFC 9106 low-memory) parameters. The test suite sets
``PASSWORD_HASH_PROFILE=fast`` (allowed only when APP_ENV=test) so hundreds of logins stay cheap.
"""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context


@functools.lru_cache(maxsize=2)
def _hasher_for(profile: str) -> PasswordHasher:
    if profile == "fast":
        return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    return PasswordHasher()


def _hasher() -> PasswordHasher:
    fast = (
        has_app_context()
        and current_app.config["ENV"] == "test"
        and current_app.config["PASSWORD_HASH_PROFILE"] == "fast"
    )
    return _hasher_for("fast" if fast else "strong")


@functools.lru_cache(maxsize=2)
def _dummy_hash(profile_id: int) -> str:
    # Verifying unknown usernames against a real hash costs the same time as a real check,
    # so login timing does not reveal which usernames exist.
    return _hasher().hash("qyquant-timing-equaliser")


def hash_password(password: str) -> str:
    """Return an Argon2id hash of `password`."""
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Return True if `password` matches; always spends one hash computation."""
    try:
        ok = _hasher().verify(password_hash or _dummy_hash(id(_hasher())), password)
    except (VerificationError, InvalidHashError):
        return False
    return ok and password_hash is not None
