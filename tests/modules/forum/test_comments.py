"""Comments: list/create/delete, counts, ownership and errors."""

from __future__ import annotations

import uuid

from tests.helpers.api import error, ok

UNKNOWN = str(uuid.uuid4())


def test_comment_lifecycle_keeps_count_true(client, user, other_user, make_post):
    post = make_post(user)
    url = f"/api/forum/posts/{post['id']}/comments"
    first = client.post(url, json={"content": "first"}, headers=other_user.headers)
    c1 = ok(first, 201)
    assert (c1["author"], c1["authorId"], c1["content"]) == (other_user.username, other_user.id, "first")
    assert isinstance(c1["timestamp"], int)
    c2 = ok(client.post(url, json={"content": "second"}, headers=user.headers), 201)

    listed = client.get(url, headers=user.headers)
    assert [c["id"] for c in ok(listed)] == [c1["id"], c2["id"]]
    assert '"total": 2' in listed.headers["X-Pagination"]
    assert ok(client.get(f"/api/forum/posts/{post['id']}", headers=user.headers))["comments"] == 2

    error(client.delete(f"/api/forum/comments/{c1['id']}", headers=user.headers), 403, "forbidden")
    assert client.delete(f"/api/forum/comments/{c1['id']}", headers=other_user.headers).status_code == 200
    error(client.delete(f"/api/forum/comments/{c1['id']}", headers=other_user.headers), 404, "not_found")
    assert [c["id"] for c in ok(client.get(url, headers=user.headers))] == [c2["id"]]
    assert ok(client.get(f"/api/forum/posts/{post['id']}", headers=user.headers))["comments"] == 1


def test_comment_errors(client, user, make_post):
    post = make_post(user)
    url = f"/api/forum/posts/{post['id']}/comments"
    error(client.post(url, json={"content": "x"}), 401, "token_missing")
    error(client.get(url), 401, "token_missing")
    body = error(client.post(url, json={}, headers=user.headers), 422, "validation_error")
    assert "content" in body["details"]["fields"]
    error(client.post(url, json={"content": ""}, headers=user.headers), 422, "validation_error")
    error(client.post(url, json={"content": " \n "}, headers=user.headers), 422, "validation_error")
    error(
        client.post(url, json={"content": "x", "author": "me"}, headers=user.headers), 422, "validation_error"
    )
    error(
        client.post(f"/api/forum/posts/{UNKNOWN}/comments", json={"content": "x"}, headers=user.headers),
        404,
        "not_found",
    )
    error(client.get(f"/api/forum/posts/{UNKNOWN}/comments", headers=user.headers), 404, "not_found")
    error(client.delete(f"/api/forum/comments/{UNKNOWN}", headers=user.headers), 404, "not_found")
    error(client.delete(f"/api/forum/comments/{UNKNOWN}"), 401, "token_missing")


def test_deleting_a_post_deletes_its_comments(client, user, other_user, make_post):
    post = make_post(user)
    c = ok(
        client.post(
            f"/api/forum/posts/{post['id']}/comments", json={"content": "x"}, headers=other_user.headers
        ),
        201,
    )
    client.delete(f"/api/forum/posts/{post['id']}", headers=user.headers)
    error(client.delete(f"/api/forum/comments/{c['id']}", headers=other_user.headers), 404, "not_found")
