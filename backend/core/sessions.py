"""Login sessions (token families): Postgres is the record, Redis its cache.

Every login or registration starts a family: one `token_families` row, named by the ``fam`` claim
of every access and refresh token it issues. The row holds the jti of the family's one live
refresh token (rotation: refreshing swaps it atomically; presenting an older one is a replay and
revokes the family), when the family expires, and whether it was revoked (logout, replay, password
change). A token is accepted only while its family row exists, belongs to the token's subject, is
not revoked and has not expired.

Every authenticated request asks `is_active`. Redis caches the answer per family: "valid" for
``AUTH_CACHE_TTL_S`` seconds (a short lease), "revoked" until the family would have expired.
A revocation writes Postgres first and then overwrites the cache; a reader fills the cache only
with ``SET NX``, so a reader that saw the row before the revocation cannot overwrite it.

When Redis is unreachable every read goes to Postgres (`cached_call` skips Redis for
``REDIS_BACKOFF_S``), so nobody is logged out and no revoked token works. A revocation made while
Redis is unreachable cannot clear a "valid" lease cached before the outage; such a lease expires
``AUTH_CACHE_TTL_S`` after it was written, and a process that saw the outage reads Postgres for
``REDIS_BACKOFF_S`` (>= AUTH_CACHE_TTL_S) after its last failure, by which time every lease
written before the outage has expired. See docs/security.md and ADR 0008.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from flask import current_app
from sqlalchemy import BigInteger, ForeignKey, Index, String, delete, select, update
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import now_ms, on_commit
from backend.core.redis import cached_call, lane, rkey
from backend.extensions import db

# Cache value of a family that must not be accepted (an active family caches its user id).
_REVOKED = "-"

# Why a family was revoked (the `revoked_reason` column).
LOGOUT = "logout"
REFRESH_REPLAY = "refresh_replay"
PASSWORD_CHANGE = "password_change"
ACCOUNT_DELETED = "account_deleted"
ACCOUNT_DISABLED = "account_disabled"


class TokenFamily(db.Model):  # type: ignore[name-defined,misc]
    """One login session: the tokens issued by one login and its refreshes."""

    __tablename__ = "token_families"
    __table_args__ = (
        Index("ix_token_families_user_id", "user_id"),
        Index("ix_token_families_expires_at", "expires_at"),  # purge_expired
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    refresh_jti: Mapped[str] = mapped_column(String(36), nullable=False)  # the one live refresh token
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False, default=now_ms)
    expires_at: Mapped[int] = mapped_column(BigInteger, nullable=False)  # ms; the refresh token's expiry
    revoked_at: Mapped[int | None] = mapped_column(BigInteger)
    revoked_reason: Mapped[str | None] = mapped_column(String(20))


def _cache_key(family_id: str) -> str:
    return rkey("auth", "family", family_id)


def start(*, family_id: str, user_id: str, refresh_jti: str, expires_at: int) -> None:
    """Record a new family (the caller's transaction commits it before the tokens are handed out)."""
    db.session.add(TokenFamily(id=family_id, user_id=user_id, refresh_jti=refresh_jti, expires_at=expires_at))
    db.session.flush()


def rotate(*, family_id: str, user_id: str, presented_jti: str, new_jti: str, expires_at: int) -> bool:
    """Make `new_jti` the family's live refresh token if `presented_jti` is the live one.

    Returns False for a replay (an older refresh token), a revoked or expired family, or another
    user's family. One conditional UPDATE, so of two concurrent refreshes with the same token only
    one wins.
    """
    result = db.session.execute(
        update(TokenFamily)
        .where(
            TokenFamily.id == family_id,
            TokenFamily.user_id == user_id,
            TokenFamily.refresh_jti == presented_jti,
            TokenFamily.revoked_at.is_(None),
            TokenFamily.expires_at > now_ms(),
        )
        .values(refresh_jti=new_jti, expires_at=expires_at)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def revoke(*, family_ids: Iterable[str], reason: str) -> list[str]:
    """Revoke these families (already revoked ones keep their first reason); return those revoked now.

    The cache is overwritten once the caller's transaction commits.
    """
    ids = list(family_ids)
    if not ids:
        return []
    return _revoke_where(TokenFamily.id.in_(ids), reason)


def revoke_user_sessions(*, user_id: str, except_family: str | None, reason: str) -> list[str]:
    """Revoke every live family of a user except `except_family` (the caller's own session)."""
    condition = TokenFamily.user_id == user_id
    if except_family:
        condition = condition & (TokenFamily.id != except_family)
    return _revoke_where(condition, reason)


def forget_user_sessions(*, user_id: str) -> None:
    """Delete a user's family rows (account deletion; revoke them first so the cache says so).

    A token of a forgotten family names no row, which `is_active` treats as revoked.
    """
    db.session.execute(delete(TokenFamily).where(TokenFamily.user_id == user_id))


PURGE_BATCH = 5000  # rows deleted per purge (the next run takes the rest)


def purge_expired(*, keep_s: int, now: int | None = None, batch: int = PURGE_BATCH) -> int:
    """Delete up to ``batch`` families that expired more than ``keep_s`` seconds ago; return how many.

    Safe at any time: a token of an expired family is refused already, and one whose row is gone
    is refused the same way (`is_active`: no row, not active). The rows are kept ``keep_s`` after
    expiry for their revocation reason.
    """
    cutoff = (now_ms() if now is None else now) - keep_s * 1000
    doomed = select(TokenFamily.id).where(TokenFamily.expires_at < cutoff).limit(batch)
    deleted = db.session.execute(delete(TokenFamily).where(TokenFamily.id.in_(doomed.scalar_subquery())))
    return int(getattr(deleted, "rowcount", 0) or 0)


def _revoke_where(condition: object, reason: str) -> list[str]:
    revoked = list(
        db.session.scalars(
            update(TokenFamily)
            .where(condition, TokenFamily.revoked_at.is_(None))  # type: ignore[arg-type]
            .values(revoked_at=now_ms(), revoked_reason=reason)
            .returning(TokenFamily.id)
        )
    )
    if revoked:
        ttl = int(current_app.config["JWT_REFRESH_TOKEN_EXPIRES"].total_seconds())
        on_commit(lambda: _cache_revoked(revoked, ttl))
    return revoked


def _cache_revoked(family_ids: list[str], ttl_s: int) -> None:
    def write(r: object) -> None:
        pipe = r.pipeline(transaction=False)  # type: ignore[attr-defined]
        for family_id in family_ids:
            pipe.set(_cache_key(family_id), _REVOKED, ex=max(ttl_s, 1))
        pipe.execute()

    cached_call(write, None)


def is_active(
    *, family_id: str, user_id: str, read_cached: Callable[[str], str | None] | None = None
) -> bool:
    """Return True if tokens of this family may be used by `user_id` now (Redis first, then Postgres).

    ``read_cached`` replaces the cache read (``GET`` of the key it is given, None when missing or
    Redis is down): the personal read cache does its lookup in the same round trip.
    """
    key = _cache_key(family_id)
    if read_cached is not None:
        cached = read_cached(key)
    else:
        cached = cached_call(lambda r: lane(r).execute("GET", key), None)
    if cached is not None:
        return bool(cached == user_id)
    row = db.session.execute(
        select(TokenFamily.user_id, TokenFamily.revoked_at, TokenFamily.expires_at).where(
            TokenFamily.id == family_id
        )
    ).first()
    live = row is not None and row.revoked_at is None and row.expires_at > now_ms()
    value = row.user_id if live and row is not None else _REVOKED
    ttl = current_app.config["AUTH_CACHE_TTL_S"]
    cached_call(lambda r: r.set(key, value, ex=ttl, nx=True), None)
    return bool(value == user_id)
