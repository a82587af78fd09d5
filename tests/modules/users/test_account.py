"""The account a user expects: password change, profile fields, onboarding, account deletion."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import text

from backend.extensions import db
from tests.helpers.api import error, fields, ok

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(client, username: str, password: str):
    return client.post("/api/auth/login", json={"username": username, "password": password})


# --- password change ---------------------------------------------------------------------------


def test_password_change_ends_other_sessions_and_keeps_mine(client, user):
    other = ok(login(client, user.username, user.password))
    resp = client.post(
        "/api/users/me/password",
        headers=user.headers,
        json={"currentPassword": user.password, "newPassword": "a-new-secret-9"},
    )
    assert ok(resp) == {"sessionsEnded": 1}
    error(client.get("/api/users/me", headers=bearer(other["access_token"])), 401, "token_revoked")
    error(client.post("/api/auth/refresh", headers=bearer(other["refresh_token"])), 401)
    assert ok(client.get("/api/users/me", headers=user.headers))["id"] == user.id
    ok(client.post("/api/auth/refresh", headers=bearer(user.refresh_token)))
    error(login(client, user.username, user.password), 401)
    ok(login(client, user.username, "a-new-secret-9"))


def test_a_wrong_current_password_is_422_and_ends_nothing(client, user):
    other = ok(login(client, user.username, user.password))
    resp = client.post(
        "/api/users/me/password",
        headers=user.headers,
        json={"currentPassword": "not-my-password", "newPassword": "a-new-secret-9"},
    )
    assert "currentPassword" in fields(resp, "users.wrong_password")
    ok(client.get("/api/users/me", headers=bearer(other["access_token"])))
    ok(login(client, user.username, user.password))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"newPassword": "a-new-secret-9"}, "currentPassword"),
        ({"currentPassword": "x"}, "newPassword"),
        ({"currentPassword": "x", "newPassword": "short"}, "newPassword"),
        ({"currentPassword": "x", "newPassword": "y" * 129}, "newPassword"),
        ({"currentPassword": "", "newPassword": "a-new-secret-9"}, "currentPassword"),
    ],
)
def test_password_change_validation_names_the_field(client, user, body, field):
    assert field in fields(client.post("/api/users/me/password", headers=user.headers, json=body))


def test_password_change_needs_a_token(client):
    body = {"currentPassword": "x", "newPassword": "a-new-secret-9"}
    error(client.post("/api/users/me/password", json=body), 401, "token_missing")


# --- profile fields and onboarding -------------------------------------------------------------


def test_profile_fields_are_saved_and_cleared(client, user):
    body = {"name": "Ada", "bio": "Trend follower.", "timezone": "Asia/Shanghai", "locale": "zh-Hans-CN"}
    me = ok(client.patch("/api/users/me", headers=user.headers, json=body))
    assert {k: me[k] for k in body} == body
    cleared = ok(
        client.patch(
            "/api/users/me", headers=user.headers, json={"bio": None, "timezone": None, "locale": None}
        )
    )
    assert cleared["bio"] is None and cleared["timezone"] is None and cleared["locale"] is None
    assert cleared["name"] == "Ada"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
        ({"timezone": ""}, "timezone"),
        ({"locale": "english"}, "locale"),
        ({"locale": "en_US"}, "locale"),
        ({"locale": "e"}, "locale"),
        ({"bio": "x" * 501}, "bio"),
        ({"name": ""}, "name"),
        ({"name": "n" * 101}, "name"),
    ],
)
def test_invalid_profile_fields_are_422_naming_them(client, user, body, field):
    assert field in fields(client.patch("/api/users/me", headers=user.headers, json=body))


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris", "America/Argentina/Buenos_Aires"])
def test_iana_zones_are_accepted(client, user, zone):
    assert (
        ok(client.patch("/api/users/me", headers=user.headers, json={"timezone": zone}))["timezone"] == zone
    )


def test_onboarding_is_completed_once(client, user):
    assert ok(client.get("/api/users/me", headers=user.headers))["onboardingCompletedAt"] is None
    first = ok(client.post("/api/users/me/onboarding", headers=user.headers))["onboardingCompletedAt"]
    assert isinstance(first, int) and first > 0
    again = ok(client.post("/api/users/me/onboarding", headers=user.headers))["onboardingCompletedAt"]
    assert again == first
    error(client.post("/api/users/me/onboarding"), 401)


# --- public profile ----------------------------------------------------------------------------


def test_public_profile_lists_published_strategies_and_counts(client, user, other_user, make_strategy):
    published = make_strategy(user, name="Public one", published=True)
    make_strategy(user, name="Private one")
    ok(client.patch("/api/users/me", headers=user.headers, json={"bio": "Hello"}))
    ok(client.post(f"/api/users/{user.id}/follow", headers=other_user.headers))
    profile = ok(client.get(f"/api/users/{user.id}"))  # anonymous
    assert profile["bio"] == "Hello" and profile["followers"] == 1 and profile["following"] == 0
    assert profile["isFollowing"] is False and profile["publishedStrategiesCount"] == 1
    assert [s["id"] for s in profile["publishedStrategies"]] == [published["id"]]
    assert "code" not in profile["publishedStrategies"][0]
    assert ok(client.get(f"/api/users/{user.id}", headers=other_user.headers))["isFollowing"] is True


# --- account deletion --------------------------------------------------------------------------


@pytest.fixture
def memories_off(app, tmp_path, monkeypatch):
    """Erasing memories after a deletion uses a Qdrant folder of this test only."""
    monkeypatch.setenv("MEM0_TELEMETRY", "False")
    monkeypatch.setitem(app.config, "OPENAI_API_KEY", "")
    monkeypatch.setitem(app.config, "OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setitem(app.config, "QDRANT_PATH", str(tmp_path / "qdrant"))
    monkeypatch.setitem(app.config, "QDRANT_URL", "")
    monkeypatch.setitem(app.config, "MEM0_DIR", str(tmp_path / "mem0"))


def delete_me(client, user, password: str | None = None):
    return client.delete("/api/users/me", headers=user.headers, json={"password": password or user.password})


def test_deletion_needs_the_right_password(client, user, memories_off):
    assert "password" in fields(delete_me(client, user, "wrong-password"), "users.wrong_password")
    assert "password" in fields(client.delete("/api/users/me", headers=user.headers, json={}))
    error(client.delete("/api/users/me", json={"password": user.password}), 401)
    assert ok(client.get("/api/users/me", headers=user.headers))["id"] == user.id


# Columns that name a user, in every table: after a deletion only these may still hold the id.
USER_COLUMNS = (
    "owner_id",
    "user_id",
    "author_id",
    "created_by",
    "follower_id",
    "followee_id",
    "tipper_id",
    "recipient_id",
)
MAY_REMAIN = {("posts", "author_id"), ("comments", "author_id"), ("tips", "recipient_id")}


def rows_naming(user_id: str) -> dict[tuple[str, str], int]:
    columns = db.session.execute(
        text(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND column_name = ANY(:names)"
        ),
        {"names": list(USER_COLUMNS)},
    ).all()
    found = {}
    for table, column in columns:
        n = db.session.execute(
            text(f'SELECT count(*) FROM "{table}" WHERE "{column}" = :id'), {"id": user_id}
        )
        if (count := n.scalar_one()) > 0:
            found[(table, column)] = count
    return found


def make_everything(client, who, other, *, make_strategy, run_backtest, make_post, make_workflow, upload):
    """Give ``who`` one of every kind of data, some of it touching ``other``'s objects."""
    strategy = make_strategy(who, name=f"{who.username} strat", published=True)
    assert run_backtest(who, strategy_id=strategy["id"]).status_code in (200, 201, 202)
    make_workflow(who)
    assert upload(who, b"time,close\n1,2\n").status_code == 201
    ok(
        client.put(
            "/api/users/me/avatar",
            data={"file": (io.BytesIO(PNG), "me.png")},
            headers=who.headers,
            content_type="multipart/form-data",
        )
    )
    ok(
        client.put(
            "/api/users/me/api-keys", headers=who.headers, json={"exchange": "binance", "apiKey": "k-1234"}
        )
    )
    own_post = make_post(who, title=f"by {who.username}")
    others_post = make_post(other, title=f"by {other.username}")
    ok(
        client.post(
            f"/api/forum/posts/{others_post['id']}/comments", headers=who.headers, json={"content": "hi"}
        ),
        201,
    )
    ok(client.post(f"/api/forum/posts/{others_post['id']}/like", headers=who.headers))
    ok(client.post(f"/api/forum/posts/{others_post['id']}/favorite", headers=who.headers))
    ok(
        client.post(
            f"/api/forum/posts/{others_post['id']}/tips",
            headers=who.headers,
            json={"amount": 2, "currency": "USD"},
        ),
        201,
    )
    ok(client.post(f"/api/users/{other.id}/follow", headers=who.headers))
    return own_post, others_post


def test_deleting_an_account_removes_its_data_and_keeps_posts_as_deleted_user(
    app,
    client,
    make_user,
    make_strategy,
    run_backtest,
    make_post,
    make_workflow,
    upload,
    make_bot,
    memories_off,
):
    alice, bob = make_user(), make_user()
    alice_post, bob_post = make_everything(
        client,
        alice,
        bob,
        make_strategy=make_strategy,
        run_backtest=run_backtest,
        make_post=make_post,
        make_workflow=make_workflow,
        upload=upload,
    )
    make_everything(
        client,
        bob,
        alice,
        make_strategy=make_strategy,
        run_backtest=run_backtest,
        make_post=make_post,
        make_workflow=make_workflow,
        upload=upload,
    )
    make_bot(alice)
    make_bot(bob)
    ok(
        client.post(
            f"/api/forum/posts/{alice_post['id']}/comments", headers=bob.headers, json={"content": "yo"}
        ),
        201,
    )
    second = ok(login(client, alice.username, alice.password))
    alice_files = [
        Path(p)
        for (p,) in db.session.execute(
            text("SELECT stored_name FROM files WHERE owner_id = :id"), {"id": alice.id}
        )
    ]
    assert len(alice_files) == 2
    bob_before = rows_naming(bob.id)

    ok(delete_me(client, alice))

    # Sessions: every token of the account is refused, and nobody can log in as it.
    for token in (alice.access_token, second["access_token"]):
        error(client.get("/api/users/me", headers=bearer(token)), 401, "token_revoked")
    for token in (alice.refresh_token, second["refresh_token"]):
        error(client.post("/api/auth/refresh", headers=bearer(token)), 401)
    error(login(client, alice.username, alice.password), 401)
    grant = client.post(
        "/api/auth/token", data={"grant_type": "refresh_token", "refresh_token": second["refresh_token"]}
    )
    assert grant.status_code == 400 and grant.get_json()["error"] == "invalid_grant"

    # Data: nothing names Alice but her posts, her comments and tips others gave her.
    assert set(rows_naming(alice.id)) <= MAY_REMAIN
    assert rows_naming(alice.id)[("posts", "author_id")] == 2  # hers, and the one Bob commented on
    from backend.core.storage import safe_path

    assert not any(safe_path(str(name)).exists() for name in alice_files)
    # Bob's own data is untouched; only what linked him to Alice went (follows both ways, her tip).
    # His notifications of her like and her follow go with them; the one of her reply stays.
    links = {("follows", "followee_id"), ("follows", "follower_id"), ("tips", "recipient_id")}
    notes = ("notifications", "user_id")
    bob_after = rows_naming(bob.id)
    assert bob_after.pop(notes) == bob_before[notes] - 2
    assert bob_after == {k: v for k, v in bob_before.items() if k not in links | {notes}}
    assert bob_before.keys() >= links

    # Her post and comment stay, written by "deleted user"; her like and tip on Bob's post are gone.
    post = ok(client.get(f"/api/forum/posts/{alice_post['id']}", headers=bob.headers))
    assert post["author"] == "deleted user"
    comments = ok(client.get(f"/api/forum/posts/{bob_post['id']}/comments", headers=bob.headers))
    assert [c["author"] for c in comments] == ["deleted user"]
    bob_view = ok(client.get(f"/api/forum/posts/{bob_post['id']}", headers=bob.headers))
    assert bob_view["likes"] == 0 and float(bob_view["tipsTotal"]) == 0
    # The public profile is gone; the username is free again.
    error(client.get(f"/api/users/{alice.id}", headers=bob.headers), 404)
    profile = ok(client.get(f"/api/users/{bob.id}"))
    assert profile["followers"] == 0 and profile["following"] == 0
    assert make_user(alice.username).id != alice.id


def test_a_deleted_account_cannot_be_deleted_or_changed_again(client, user, memories_off):
    old = user.headers
    ok(delete_me(client, user))
    error(client.delete("/api/users/me", headers=old, json={"password": user.password}), 401)
    error(client.patch("/api/users/me", headers=old, json={"name": "back"}), 401)


def test_deleting_an_account_erases_its_memories_and_only_its(client, user, other_user, agent_on):
    from backend.modules.agent import service as agent_service

    for who in (user, other_user):
        resp = client.post("/api/agent/memories", json={"text": "I avoid leverage"}, headers=who.headers)
        assert resp.status_code == 201, resp.get_json()
    ok(delete_me(client, user))
    assert agent_service.list_memories(actor_id=user.id) == []
    assert len(ok(client.get("/api/agent/memories", headers=other_user.headers))) == 1
