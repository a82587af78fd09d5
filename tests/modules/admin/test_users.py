"""Admin users: search, disable (sessions end at once, no login or refresh), re-enable, role, audit rows."""

from __future__ import annotations

import json

from tests.helpers.api import error, ok


def _audit(client, admin, **filters):
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    return ok(client.get(f"/api/admin/audit-log?{query}", headers=admin.headers))


def test_search_matches_username_or_email_and_pages(client, admin, make_user):
    alice = make_user("alice_admin_search")
    make_user("bob_admin_search")
    client.patch("/api/users/me", json={"email": "zed@example.org"}, headers=alice.headers)
    found = ok(client.get("/api/admin/users?q=ALICE_admin", headers=admin.headers))
    assert [u["username"] for u in found] == ["alice_admin_search"]
    by_email = ok(client.get("/api/admin/users?q=zed@example", headers=admin.headers))
    assert [u["id"] for u in by_email] == [alice.id]
    assert set(by_email[0]) == {
        "id", "username", "email", "name", "avatar", "role", "disabled", "disabledAt", "createdAt"
    }  # fmt: skip
    assert by_email[0]["role"] == "user" and by_email[0]["disabled"] is False
    assert ok(client.get("/api/admin/users?q=%25", headers=admin.headers)) == []  # % is literal
    resp = client.get("/api/admin/users?q=admin_search&page_size=1", headers=admin.headers)
    assert len(ok(resp)) == 1 and json.loads(resp.headers["X-Pagination"])["total"] == 2


def test_filters_by_role_and_disabled(client, admin, user):
    admins = ok(client.get("/api/admin/users?role=admin&page_size=100", headers=admin.headers))
    assert admin.id in {u["id"] for u in admins} and user.id not in {u["id"] for u in admins}
    ok(client.post(f"/api/admin/users/{user.id}/disable", json={}, headers=admin.headers))
    disabled = ok(client.get("/api/admin/users?disabled=true", headers=admin.headers))
    assert [u["id"] for u in disabled] == [user.id]


def test_bad_filters_are_422_with_field_names(client, admin):
    body = error(client.get("/api/admin/users?role=root", headers=admin.headers), 422, "validation_error")
    assert "role" in body["details"]["fields"]
    body = error(client.get("/api/admin/users?disabled=maybe", headers=admin.headers), 422)
    assert "disabled" in body["details"]["fields"]


def test_disabling_ends_every_session_at_once_and_blocks_login_and_refresh(client, admin, user):
    assert client.get("/api/users/me", headers=user.headers).status_code == 200  # cached as valid
    data = ok(
        client.post(f"/api/admin/users/{user.id}/disable", json={"reason": "spam"}, headers=admin.headers)
    )
    assert data["disabled"] is True and isinstance(data["disabledAt"], int)
    error(client.get("/api/users/me", headers=user.headers), 401, "token_revoked")
    refresh = {"Authorization": f"Bearer {user.refresh_token}"}
    error(client.post("/api/auth/refresh", headers=refresh), 401, "token_revoked")
    body = error(
        client.post("/api/auth/login", json={"username": user.username, "password": user.password}),
        403,
        "account_disabled",
    )
    assert body["details"]["error"] == "auth.account_disabled"
    # A wrong password still says only "invalid credentials": the flag is not revealed to guessers.
    error(client.post("/api/auth/login", json={"username": user.username, "password": "nope-nope-1"}), 401)
    [entry] = _audit(client, admin, action="user.disable")
    assert entry["actorId"] == admin.id and entry["targetType"] == "user" and entry["targetId"] == user.id
    assert entry["details"] == {"reason": "spam"} and entry["actor"] == admin.username


def test_re_enabling_lets_the_user_log_in_again(client, admin, user):
    ok(client.post(f"/api/admin/users/{user.id}/disable", json={}, headers=admin.headers))
    data = ok(client.post(f"/api/admin/users/{user.id}/enable", headers=admin.headers))
    assert data["disabled"] is False and data["disabledAt"] is None
    ok(client.post("/api/auth/login", json={"username": user.username, "password": user.password}))
    error(client.get("/api/users/me", headers=user.headers), 401, "token_revoked")  # old sessions stay ended
    assert [e["action"] for e in _audit(client, admin, target_id=user.id)] == ["user.enable", "user.disable"]


def test_an_admin_cannot_disable_or_demote_themselves(client, admin):
    body = error(client.post(f"/api/admin/users/{admin.id}/disable", json={}, headers=admin.headers), 422)
    assert body["details"]["error"] == "admin.self_lockout" and "user_id" in body["details"]["fields"]
    body = error(
        client.put(f"/api/admin/users/{admin.id}/role", json={"role": "user"}, headers=admin.headers), 422
    )
    assert "role" in body["details"]["fields"]
    assert ok(client.get("/api/admin/users?role=admin", headers=admin.headers))  # still an admin
    assert _audit(client, admin) == []  # refused actions leave no row


def test_changing_a_role_is_audited_with_before_and_after(client, admin, user):
    data = ok(client.put(f"/api/admin/users/{user.id}/role", json={"role": "admin"}, headers=admin.headers))
    assert data["role"] == "admin"
    assert ok(client.get("/api/admin/queues", headers=user.headers))  # the new admin gets in at once
    [entry] = _audit(client, admin, action="user.role")
    assert entry["details"] == {"from": "user", "to": "admin"} and entry["targetId"] == user.id


def test_unknown_users_are_404_and_bad_bodies_422(client, admin):
    missing = "00000000-0000-4000-8000-000000000000"
    error(
        client.post(f"/api/admin/users/{missing}/disable", json={}, headers=admin.headers), 404, "not_found"
    )
    error(client.post(f"/api/admin/users/{missing}/enable", headers=admin.headers), 404)
    error(client.put(f"/api/admin/users/{missing}/role", json={"role": "user"}, headers=admin.headers), 404)
    body = error(
        client.put(f"/api/admin/users/{missing}/role", json={"role": "god"}, headers=admin.headers), 422
    )
    assert "role" in body["details"]["fields"]
    body = error(
        client.post(f"/api/admin/users/{missing}/disable", json={"reason": ""}, headers=admin.headers), 422
    )
    assert "reason" in body["details"]["fields"]
    assert _audit(client, admin) == []


def test_the_reason_body_is_optional(client, admin, user, make_post):
    assert ok(client.post(f"/api/admin/users/{user.id}/disable", headers=admin.headers))["disabled"] is True
    post = make_post(admin)
    assert (
        ok(client.post(f"/api/admin/forum/posts/{post['id']}/hide", headers=admin.headers))["hidden"] is True
    )
    spec = client.get("/api/openapi.json").get_json()
    assert spec["paths"]["/api/admin/users/{user_id}/disable"]["post"]["requestBody"]["required"] is False


def test_a_disabled_user_gets_invalid_grant_from_the_oauth2_token_endpoint(client, admin, user):
    ok(client.post(f"/api/admin/users/{user.id}/disable", headers=admin.headers))
    for form in (
        {"grant_type": "password", "username": user.username, "password": user.password},
        {"grant_type": "refresh_token", "refresh_token": user.refresh_token},
    ):
        resp = client.post("/api/auth/token", data=form)
        assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_grant", resp.get_json()


def test_a_deleted_account_is_not_listed_and_cannot_be_disabled(client, admin, make_user):
    gone = make_user()
    ok(client.delete("/api/users/me", json={"password": gone.password}, headers=gone.headers))
    assert gone.id not in {
        u["id"] for u in ok(client.get("/api/admin/users?page_size=100", headers=admin.headers))
    }
    error(client.post(f"/api/admin/users/{gone.id}/disable", headers=admin.headers), 404)
