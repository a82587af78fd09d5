"""Moderation: a hidden post or comment vanishes for everyone (author included) but the admin views."""

from __future__ import annotations

from tests.helpers.api import error, ok

MISSING = "00000000-0000-4000-8000-000000000000"


def _audit(client, admin, **filters):
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    return ok(client.get(f"/api/admin/audit-log?{query}", headers=admin.headers))


def test_a_hidden_post_vanishes_for_everyone_until_restored(client, admin, user, other_user, make_post):
    post = make_post(user, title="spam")
    ok(client.post(f"/api/forum/posts/{post['id']}/like", headers=other_user.headers))
    ok(client.post(f"/api/forum/posts/{post['id']}/favorite", headers=other_user.headers))
    item = ok(
        client.post(
            f"/api/admin/forum/posts/{post['id']}/hide", json={"reason": "spam"}, headers=admin.headers
        )
    )
    assert item["hidden"] is True and item["kind"] == "post" and isinstance(item["hiddenAt"], int)
    for viewer in (user, other_user, admin):  # the author and even an admin outside the console
        error(client.get(f"/api/forum/posts/{post['id']}", headers=viewer.headers), 404, "not_found")
        assert post["id"] not in {p["id"] for p in ok(client.get("/api/forum/posts", headers=viewer.headers))}
    assert post["id"] not in {p["id"] for p in ok(client.get("/api/forum/hot"))}  # the anonymous showcase too
    error(client.get(f"/api/forum/posts/{post['id']}/comments", headers=user.headers), 404)
    error(client.post(f"/api/forum/posts/{post['id']}/like", headers=other_user.headers), 404)
    error(client.patch(f"/api/forum/posts/{post['id']}", json={"title": "x"}, headers=user.headers), 404)
    assert ok(client.get(f"/api/users/{user.id}", headers=other_user.headers))["posts"] == 0
    assert ok(client.get("/api/users/me/favorites", headers=other_user.headers)) == []
    listed = ok(client.get("/api/admin/forum/posts?hidden=true", headers=admin.headers))
    assert [p["id"] for p in listed] == [post["id"]]

    restored = ok(client.post(f"/api/admin/forum/posts/{post['id']}/restore", headers=admin.headers))
    assert restored["hidden"] is False and restored["hiddenAt"] is None
    back = ok(client.get(f"/api/forum/posts/{post['id']}", headers=other_user.headers))
    assert back["likes"] == 1 and back["liked"] is True and back["favorited"] is True  # nothing was lost
    assert post["id"] in {p["id"] for p in ok(client.get("/api/forum/hot"))}
    actions = [
        (e["action"], e["targetType"], e["targetId"]) for e in _audit(client, admin, target_type="post")
    ]
    assert actions == [("forum.post.restore", "post", post["id"]), ("forum.post.hide", "post", post["id"])]


def test_a_hidden_comment_vanishes_and_leaves_the_comment_count(client, admin, user, other_user, make_post):
    post = make_post(user)
    url = f"/api/forum/posts/{post['id']}/comments"
    bad = ok(client.post(url, json={"content": "rude"}, headers=other_user.headers), 201)
    ok(client.post(url, json={"content": "kind"}, headers=other_user.headers), 201)
    ok(client.post(f"/api/admin/forum/comments/{bad['id']}/hide", json={}, headers=admin.headers))
    ok(
        client.post(f"/api/admin/forum/comments/{bad['id']}/hide", json={}, headers=admin.headers)
    )  # idempotent
    assert [c["content"] for c in ok(client.get(url, headers=user.headers))] == ["kind"]
    assert ok(client.get(f"/api/forum/posts/{post['id']}", headers=user.headers))["comments"] == 1
    error(client.delete(f"/api/forum/comments/{bad['id']}", headers=other_user.headers), 404)
    hidden = ok(client.get(f"/api/admin/forum/comments?hidden=true&post={post['id']}", headers=admin.headers))
    assert [(c["id"], c["postId"], c["content"]) for c in hidden] == [(bad["id"], post["id"], "rude")]
    ok(client.post(f"/api/admin/forum/comments/{bad['id']}/restore", headers=admin.headers))
    ok(client.post(f"/api/admin/forum/comments/{bad['id']}/restore", headers=admin.headers))
    assert ok(client.get(f"/api/forum/posts/{post['id']}", headers=user.headers))["comments"] == 2
    entries = _audit(client, admin, target_id=bad["id"])
    assert [e["action"] for e in entries] == ["forum.comment.restore"] * 2 + ["forum.comment.hide"] * 2
    assert entries[0]["details"] == {"postId": post["id"]}


def test_unknown_posts_and_comments_are_404_and_bad_input_422(client, admin):
    for path in (
        f"/api/admin/forum/posts/{MISSING}/hide",
        f"/api/admin/forum/posts/{MISSING}/restore",
        f"/api/admin/forum/comments/{MISSING}/hide",
        f"/api/admin/forum/comments/{MISSING}/restore",
    ):
        error(client.post(path, json={}, headers=admin.headers), 404, "not_found")
    body = error(
        client.post(
            f"/api/admin/forum/posts/{MISSING}/hide", json={"reason": "x" * 501}, headers=admin.headers
        ),
        422,
    )
    assert "reason" in body["details"]["fields"]
    body = error(client.get("/api/admin/forum/comments?post=not-an-id!", headers=admin.headers), 422)
    assert "post" in body["details"]["fields"]
    assert _audit(client, admin) == []
