"""GET /api/users/me reads one Core row: its payload is exactly UserSchema's dump of the User."""

from __future__ import annotations

from backend.extensions import db
from backend.modules.users.models import User
from backend.modules.users.schemas import UserSchema
from tests.helpers.api import error, ok


def test_me_is_the_schema_dump_of_the_user_row(client, user):
    ok(
        client.patch(
            "/api/users/me",
            headers=user.headers,
            json={"name": "Ada", "bio": "Hi", "timezone": "Europe/Paris", "locale": "en-GB",
                  "avatar": "https://example.com/a.png"},
        )
    )  # fmt: skip
    ok(client.post("/api/users/me/onboarding", headers=user.headers))
    me = ok(client.get("/api/users/me", headers=user.headers))
    db.session.expire_all()
    expected = UserSchema().dump(db.session.get(User, user.id))
    assert me == expected
    assert me["bio"] == "Hi" and me["avatar"] == "https://example.com/a.png" and me["onboardingCompletedAt"]


def test_me_with_nulls_and_the_default_avatar_matches_the_schema(client, user):
    me = ok(client.get("/api/users/me", headers=user.headers))
    assert me == UserSchema().dump(db.session.get(User, user.id))
    assert me["avatar"] == f"/api/users/{user.id}/avatar.svg" and me["bio"] is None


def test_me_of_a_tombstoned_account_is_404(client, user):
    db.session.get(User, user.id).deleted_at = 1
    db.session.flush()
    error(client.get("/api/users/me", headers=user.headers), 404)
