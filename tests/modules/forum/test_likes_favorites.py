"""Likes and favorites: idempotent both ways, counts, my favorites, errors."""

from __future__ import annotations

import uuid

from tests.helpers.api import error, ok

UNKNOWN = str(uuid.uuid4())


def test_like_and_unlike_are_idempotent(client, user, other_user, make_post):
    post = make_post(user)
    url = f"/api/forum/posts/{post['id']}/like"
    assert ok(client.post(url, headers=other_user.headers)) == {"likes": 1, "liked": True}
    assert ok(client.post(url, headers=other_user.headers)) == {"likes": 1, "liked": True}
    assert ok(client.post(url, headers=user.headers)) == {"likes": 2, "liked": True}
    detail = ok(client.get(f"/api/forum/posts/{post['id']}", headers=other_user.headers))
    assert (detail["likes"], detail["liked"]) == (2, True)
    assert ok(client.delete(url, headers=other_user.headers)) == {"likes": 1, "liked": False}
    assert ok(client.delete(url, headers=other_user.headers)) == {"likes": 1, "liked": False}
    detail = ok(client.get(f"/api/forum/posts/{post['id']}", headers=other_user.headers))
    assert (detail["likes"], detail["liked"]) == (1, False)


def test_favorites_are_idempotent_and_listed(client, user, other_user, make_post):
    p1, p2, p3 = make_post(user, "one"), make_post(user, "two"), make_post(user, "three")
    for post in (p2, p1, p1):
        assert ok(client.post(f"/api/forum/posts/{post['id']}/favorite", headers=other_user.headers)) == {
            "favorited": True
        }
    resp = client.get("/api/users/me/favorites", headers=other_user.headers)
    assert {p["id"] for p in ok(resp)} == {p1["id"], p2["id"]}
    assert '"total": 2' in resp.headers["X-Pagination"]
    detail = ok(client.get(f"/api/forum/posts/{p1['id']}", headers=other_user.headers))
    assert detail["favorited"] is True
    assert ok(client.get(f"/api/forum/posts/{p1['id']}", headers=user.headers))["favorited"] is False
    assert ok(client.get("/api/users/me/favorites", headers=user.headers)) == []

    for _ in range(2):
        assert ok(client.delete(f"/api/forum/posts/{p1['id']}/favorite", headers=other_user.headers)) == {
            "favorited": False
        }
    assert [p["id"] for p in ok(client.get("/api/users/me/favorites", headers=other_user.headers))] == [
        p2["id"]
    ]
    assert p3  # never favorited


def test_like_favorite_errors(client, user):
    for kind in ("like", "favorite"):
        for method in ("post", "delete"):
            error(
                getattr(client, method)(f"/api/forum/posts/{UNKNOWN}/{kind}", headers=user.headers),
                404,
                "not_found",
            )
            error(getattr(client, method)(f"/api/forum/posts/{UNKNOWN}/{kind}"), 401, "token_missing")
    error(client.get("/api/users/me/favorites"), 401, "token_missing")
