"""Avatars: a generated default for everyone, uploaded images made public, and the PATCH rule."""

from __future__ import annotations

import io
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import event

from backend.extensions import db
from tests.helpers.api import error, fields, ok

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 200
GIF = b"GIF89a\x01\x00\x01\x00\x00\x00\x00" + b"\x00" * 50
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 40


def default_url(user_id: str) -> str:
    return f"/api/users/{user_id}/avatar.svg"


def put_avatar(client, user, data: bytes, filename: str = "me.png"):
    return client.put(
        "/api/users/me/avatar",
        data={"file": (io.BytesIO(data), filename)},
        headers=user.headers,
        content_type="multipart/form-data",
    )


@contextmanager
def sql_statements(app) -> Iterator[list[str]]:
    """Collect the SQL statements the app sends while the block runs."""
    seen: list[str] = []

    def _record(conn, cursor, statement, *args):
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", _record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", _record)


# --- the default everywhere ---------------------------------------------------------------------


def test_every_user_payload_carries_the_default_avatar(client, user, make_user):
    expected = default_url(user.id)
    assert ok(client.get("/api/users/me", headers=user.headers))["avatar"] == expected

    fresh = make_user()
    registered = ok(
        client.post("/api/auth/register", json={"username": "avatar_new", "password": "pw-12345678"}), 201
    )
    assert registered["avatar"] == default_url(registered["id"])
    login = ok(client.post("/api/auth/login", json={"username": fresh.username, "password": fresh.password}))
    assert login["user"]["avatar"] == default_url(fresh.id)


def test_posts_comments_and_follow_lists_carry_the_default_avatar(client, user, other_user, make_post):
    post = make_post(user, "Hello")
    expected = default_url(user.id)
    assert post["avatar"] == expected
    listed = ok(client.get("/api/forum/posts", headers=user.headers))
    assert {p["avatar"] for p in listed if p["id"] == post["id"]} == {expected}
    assert ok(client.get(f"/api/forum/posts/{post['id']}", headers=user.headers))["avatar"] == expected
    hot = ok(client.get("/api/forum/hot"))
    assert all(p["avatar"] for p in hot) and expected in {p["avatar"] for p in hot if p["id"] == post["id"]}

    comment = ok(
        client.post(
            f"/api/forum/posts/{post['id']}/comments", json={"content": "hi"}, headers=other_user.headers
        ),
        201,
    )
    assert comment["avatar"] == default_url(other_user.id)
    comments = ok(client.get(f"/api/forum/posts/{post['id']}/comments", headers=user.headers))
    assert [c["avatar"] for c in comments] == [default_url(other_user.id)]

    ok(client.post(f"/api/users/{user.id}/follow", headers=other_user.headers))
    followers = ok(client.get(f"/api/users/{user.id}/followers", headers=user.headers))
    assert [f["avatar"] for f in followers] == [default_url(other_user.id)]
    following = ok(client.get(f"/api/users/{other_user.id}/following", headers=user.headers))
    assert [f["avatar"] for f in following] == [expected]
    assert ok(client.get(f"/api/users/{user.id}", headers=other_user.headers))["avatar"] == expected


def test_openapi_declares_avatar_as_a_non_null_string(client):
    schemas = client.get("/api/openapi.json").get_json()["components"]["schemas"]
    for name in ("User", "Post", "Comment"):
        avatar = schemas[name]["properties"]["avatar"]
        assert avatar["type"] == "string" and not avatar.get("nullable"), (name, avatar)


# --- the generated SVG --------------------------------------------------------------------------


def test_default_avatar_is_a_cacheable_safe_svg_without_login(client, user):
    resp = client.get(default_url(user.id))
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "image/svg+xml"
    assert "immutable" in resp.headers["Cache-Control"] and "public" in resp.headers["Cache-Control"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    etag = resp.headers["ETag"]
    assert etag
    root = ET.fromstring(resp.data)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    tags = {el.tag.split("}")[-1] for el in root.iter()}
    assert tags <= {"svg", "rect", "g"}  # no script, no foreignObject, no text
    assert not [
        v for el in root.iter() for k, v in el.attrib.items() if k.startswith("on") or "javascript" in v
    ]

    again = client.get(default_url(user.id), headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""


def test_default_avatar_is_deterministic_per_user(client, user, other_user):
    first, second = client.get(default_url(user.id)), client.get(default_url(user.id))
    assert first.data == second.data and first.headers["ETag"] == second.headers["ETag"]
    other = client.get(default_url(other_user.id))
    assert other.data != first.data and other.headers["ETag"] != first.headers["ETag"]
    assert client.get(default_url(user.id.upper())).data == first.data  # one image per UUID


def test_default_avatar_of_an_unknown_user_is_a_404_envelope(app, client):
    with sql_statements(app) as seen:
        resp = client.get(default_url(str(uuid.uuid4())))
    error(resp, 404, "not_found")
    assert seen, "a well-formed id is looked up"


@pytest.mark.parametrize(
    "bad_id",
    [
        "me",
        "not-a-uuid",
        "..%2F..%2Fetc%2Fpasswd",
        "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "'%20OR%201=1--",
        "%00",
        "x" * 5000,
        "12345678-1234-1234-1234-1234567890123",
    ],
)
def test_hostile_ids_are_404_without_touching_the_database(app, client, bad_id):
    with sql_statements(app) as seen:
        resp = client.get(f"/api/users/{bad_id}/avatar.svg")
    error(resp, 404)
    assert seen == []


# --- uploads ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "ctype"), [(PNG, "image/png"), (JPEG, "image/jpeg"), (GIF, "image/gif"), (WEBP, "image/webp")]
)
def test_uploaded_avatar_is_public_cacheable_and_shown_everywhere(client, user, make_post, data, ctype):
    me = ok(put_avatar(client, user, data, "whatever.bin"))
    url = me["avatar"]
    assert url.startswith("/api/files/public/") and url != default_url(user.id)

    public = client.get(url)  # no token
    assert public.status_code == 200 and public.data == data
    assert public.headers["Content-Type"] == ctype
    assert "immutable" in public.headers["Cache-Control"] and "public" in public.headers["Cache-Control"]
    assert public.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get(url, headers={"If-None-Match": public.headers["ETag"]}).status_code == 304

    assert ok(client.get("/api/users/me", headers=user.headers))["avatar"] == url
    assert make_post(user)["avatar"] == url
    login = ok(client.post("/api/auth/login", json={"username": user.username, "password": user.password}))
    assert login["user"]["avatar"] == url


def test_avatar_too_large_is_413(app, client, user, monkeypatch):
    monkeypatch.setitem(app.config, "AVATAR_MAX_BYTES", 512)
    error(put_avatar(client, user, PNG), 413)
    assert ok(client.get("/api/users/me", headers=user.headers))["avatar"] == default_url(user.id)
    assert ok(put_avatar(client, user, PNG[:500]))["avatar"].startswith("/api/files/public/")


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"time,close\n1,2\n", "bars.csv"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "me.svg"),
        (b"<html><script>alert(1)</script></html>", "me.png"),  # the name does not make it an image
        (b"%PDF-1.4\n%%EOF\n", "me.pdf"),
    ],
)
def test_avatar_that_is_not_an_image_is_415(client, user, data, filename):
    error(put_avatar(client, user, data, filename), 415)
    assert ok(client.get("/api/users/me", headers=user.headers))["avatar"] == default_url(user.id)


def test_avatar_upload_needs_a_login_and_a_file(client, user):
    assert client.put("/api/users/me/avatar", data={"file": (io.BytesIO(PNG), "a.png")}).status_code == 401
    assert client.delete("/api/users/me/avatar").status_code == 401
    resp = client.put(
        "/api/users/me/avatar", data={}, headers=user.headers, content_type="multipart/form-data"
    )
    assert resp.status_code == 422
    error(put_avatar(client, user, b""), 422)


def test_one_user_cannot_change_another_users_avatar(client, user, other_user):
    mine = ok(put_avatar(client, user, PNG))["avatar"]
    theirs = ok(put_avatar(client, other_user, GIF))["avatar"]
    assert ok(client.get("/api/users/me", headers=user.headers))["avatar"] == mine

    ok(client.delete("/api/users/me/avatar", headers=other_user.headers))
    assert ok(client.get("/api/users/me", headers=user.headers))["avatar"] == mine
    assert client.get(mine).status_code == 200
    assert client.get(theirs).status_code == 404

    # Nor can anyone adopt someone else's uploaded image or default avatar.
    assert "avatar" in fields(
        client.patch("/api/users/me", json={"avatar": mine}, headers=other_user.headers)
    )
    other_default = {"avatar": default_url(user.id)}
    assert "avatar" in fields(client.patch("/api/users/me", json=other_default, headers=other_user.headers))


def _stored(app) -> set[Path]:
    return {p for p in Path(app.config["STORAGE_ROOT"]).rglob("*") if p.is_file()}


def test_delete_and_replace_return_to_default_and_remove_the_old_image(app, client, user):
    before = _stored(app)
    first = ok(put_avatar(client, user, PNG))["avatar"]
    second = ok(put_avatar(client, user, GIF))["avatar"]
    assert second != first
    assert client.get(first).status_code == 404  # replaced: the old image is gone
    assert client.get(second).data == GIF

    me = ok(client.delete("/api/users/me/avatar", headers=user.headers))
    assert me["avatar"] == default_url(user.id)
    assert client.get(second).status_code == 404
    assert ok(client.get("/api/users/me", headers=user.headers))["avatar"] == default_url(user.id)
    assert ok(client.get("/api/files", headers=user.headers)) == []
    assert _stored(app) == before  # rows and bytes of both images are gone


def test_deleting_the_image_through_the_files_api_falls_back_to_default(client, user):
    url = ok(put_avatar(client, user, PNG))["avatar"]
    file_id = url.rsplit("/", 1)[-1]
    ok(client.delete(f"/api/files/{file_id}", headers=user.headers))
    assert ok(client.get("/api/users/me", headers=user.headers))["avatar"] == default_url(user.id)


def test_private_files_stay_owner_only(client, user, other_user, upload):
    private = ok(upload(user, PNG, "chart.png"), 201)["id"]
    avatar = ok(put_avatar(client, user, PNG))["avatar"]
    assert client.get(avatar).status_code == 200  # the avatar: anyone
    error(client.get(f"/api/files/public/{private}"), 404)  # a private file is never public
    error(client.get(f"/api/files/public/{private}", headers=user.headers), 404)
    error(client.get(f"/api/files/{private}", headers=other_user.headers), 404)
    assert client.get(f"/api/files/{private}").status_code == 401
    assert client.get(f"/api/files/{private}", headers=user.headers).data == PNG


# --- PATCH /api/users/me avatar -----------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:image/svg+xml;base64,PHN2Zz48c2NyaXB0PmFsZXJ0KDEpPC9zY3JpcHQ+PC9zdmc+",
        "http://img.example/a.png",
        "//evil.example/a.png",
        "a.png",
        "https://img.example/a b.png",
        'https://img.example/"onerror="alert(1)',
        "/api/files/public/not-an-id",
        "/api/files/" + str(uuid.uuid4()),
        "/api/files/public/" + str(uuid.uuid4()),
        "https://" + "a" * 500 + ".example/a.png",
    ],
)
def test_patch_refuses_unsafe_or_foreign_avatar_urls(client, user, bad):
    assert "avatar" in fields(client.patch("/api/users/me", json={"avatar": bad}, headers=user.headers))
    assert ok(client.get("/api/users/me", headers=user.headers))["avatar"] == default_url(user.id)


def test_patch_accepts_https_own_image_and_default(client, user):
    ok(client.patch("/api/users/me", json={"avatar": "https://img.example/ada.png"}, headers=user.headers))
    assert ok(client.get("/api/users/me", headers=user.headers))["avatar"] == "https://img.example/ada.png"

    url = ok(put_avatar(client, user, PNG))["avatar"]
    same = ok(client.patch("/api/users/me", json={"avatar": url, "name": "Ada"}, headers=user.headers))
    assert same["avatar"] == url and client.get(url).status_code == 200  # a round trip keeps it

    back = ok(client.patch("/api/users/me", json={"avatar": default_url(user.id)}, headers=user.headers))
    assert back["avatar"] == default_url(user.id)
    assert client.get(url).status_code == 404
    ok(client.patch("/api/users/me", json={"avatar": "https://img.example/x.png"}, headers=user.headers))
    assert ok(client.patch("/api/users/me", json={"avatar": None}, headers=user.headers))[
        "avatar"
    ] == default_url(user.id)
