"""Follows and public profiles under /api/users/{id}."""

from __future__ import annotations

import uuid

from tests.helpers.api import error, ok


def test_follow_is_idempotent_and_counted(client, make_user):
    alice, bob, carol = make_user(), make_user(), make_user()
    url = f"/api/users/{alice.id}/follow"
    assert ok(client.post(url, headers=bob.headers)) == {"following": True, "followers": 1}
    assert ok(client.post(url, headers=bob.headers)) == {"following": True, "followers": 1}
    assert ok(client.post(url, headers=carol.headers)) == {"following": True, "followers": 2}
    client.post(f"/api/users/{carol.id}/follow", headers=alice.headers)

    followers = client.get(f"/api/users/{alice.id}/followers", headers=bob.headers)
    assert {u["id"] for u in ok(followers)} == {bob.id, carol.id}
    assert '"total": 2' in followers.headers["X-Pagination"]
    assert set(ok(followers)[0]) == {"id", "name", "avatar"}
    assert [u["id"] for u in ok(client.get(f"/api/users/{alice.id}/following", headers=bob.headers))] == [
        carol.id
    ]

    profile = ok(client.get(f"/api/users/{alice.id}", headers=bob.headers))
    assert isinstance(profile.pop("createdAt"), int)
    assert profile == {
        "id": alice.id,
        "name": alice.username,
        "avatar": f"/api/users/{alice.id}/avatar.svg",
        "bio": None,
        "posts": 0,
        "followers": 2,
        "following": 1,
        "isFollowing": True,
        "publishedStrategies": [],
        "publishedStrategiesCount": 0,
    }
    assert ok(client.get(f"/api/users/{bob.id}", headers=alice.headers))["isFollowing"] is False

    assert ok(client.delete(url, headers=bob.headers)) == {"following": False, "followers": 1}
    assert ok(client.delete(url, headers=bob.headers)) == {"following": False, "followers": 1}


def test_profile_counts_posts(client, user, other_user, make_post):
    make_post(user)
    make_post(user)
    assert ok(client.get(f"/api/users/{user.id}", headers=other_user.headers))["posts"] == 2


def test_cannot_follow_yourself(client, user):
    body = error(client.post(f"/api/users/{user.id}/follow", headers=user.headers), 422, "validation_error")
    assert body["details"]["error"] == "forum.cannot_follow_self"
    error(client.delete(f"/api/users/{user.id}/follow", headers=user.headers), 422, "validation_error")
    assert ok(client.get(f"/api/users/{user.id}", headers=user.headers))["followers"] == 0


def test_unknown_users_and_missing_tokens(client, user):
    unknown = str(uuid.uuid4())
    error(client.get(f"/api/users/{unknown}"), 404, "not_found")  # the profile is public
    for path in (
        f"/api/users/{unknown}",
        f"/api/users/{unknown}/followers",
        f"/api/users/{unknown}/following",
    ):
        error(client.get(path, headers=user.headers), 404, "not_found")
        if not path.endswith(unknown):
            error(client.get(path), 401, "token_missing")
    error(client.post(f"/api/users/{unknown}/follow", headers=user.headers), 404, "not_found")
    error(client.delete(f"/api/users/{unknown}/follow", headers=user.headers), 404, "not_found")
    error(client.post(f"/api/users/{user.id}/follow"), 401, "token_missing")
    error(client.get("/api/users/not-a-uuid", headers=user.headers), 404, "not_found")


def test_profile_route_does_not_shadow_users_me(client, user):
    me = ok(client.get("/api/users/me", headers=user.headers))
    assert me["id"] == user.id
    assert "followers" not in me
