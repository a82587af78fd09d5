"""Read paths of the users module that run on every page load: the caller's own profile.

`GET /api/users/me` reads the columns `UserSchema` shows as one Core row (one prebuilt
statement, no ORM object and identity map); the row has the attribute names of `User`, so the
schema (and `service.avatar_url`) dump it exactly as they dump a `User`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select

from backend.extensions import db
from backend.modules.users.errors import UserNotFound
from backend.modules.users.models import User

_PROFILE = select(
    User.id,
    User.username,
    User.email,
    User.name,
    User.avatar,
    User.avatar_file_id,
    User.level,
    User.bio,
    User.timezone,
    User.locale,
    User.onboarding_completed_at,
    User.created_at,
).where(User.id == bindparam("user_id"), User.deleted_at.is_(None))


def profile(*, user_id: str) -> Any:
    """Return the profile row of a live user (a deleted or unknown account is a 404).

    A SQLAlchemy ``Row`` with `User`'s attribute names (typed ``Any``: it stands in for a `User`).
    """
    row = db.session.execute(_PROFILE, {"user_id": user_id}).first()
    if row is None:
        raise UserNotFound()
    return row
