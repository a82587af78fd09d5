"""GET/PATCH /api/users/me and the encrypted API-key store."""

from __future__ import annotations

from sqlalchemy import select

from backend.extensions import db
from backend.modules.users.models import UserApiKey


def test_me_returns_the_contract_user(client, user):
    data = client.get("/api/users/me", headers=user.headers).get_json()["data"]
    assert {"id", "name", "avatar", "level"} <= set(data)
    assert data["id"] == user.id and data["name"] == user.username
    assert "password_hash" not in data and "password" not in data


def test_patch_me_updates_profile(client, user):
    resp = client.patch(
        "/api/users/me",
        headers=user.headers,
        json={"name": "Ada L.", "avatar": "https://img.example/ada.png"},
    )
    assert resp.status_code == 200
    again = client.get("/api/users/me", headers=user.headers).get_json()["data"]
    assert again["name"] == "Ada L." and again["avatar"] == "https://img.example/ada.png"


def test_patch_me_password_change_needs_current_password(client, user):
    resp = client.patch("/api/users/me", headers=user.headers, json={"password": "brand-new-pass"})
    assert resp.status_code == 422
    assert "current_password" in resp.get_json()["details"]["fields"]
    wrong = client.patch(
        "/api/users/me",
        headers=user.headers,
        json={"password": "brand-new-pass", "current_password": "not-it-at-all"},
    )
    assert wrong.status_code == 422
    ok = client.patch(
        "/api/users/me",
        headers=user.headers,
        json={"password": "brand-new-pass", "current_password": user.password},
    )
    assert ok.status_code == 200
    login = client.post("/api/auth/login", json={"username": user.username, "password": "brand-new-pass"})
    assert login.status_code == 200


def test_patch_me_rejects_taken_username_and_bad_fields(client, user, other_user):
    taken = client.patch("/api/users/me", headers=user.headers, json={"username": other_user.username})
    assert taken.status_code == 409 and taken.get_json()["details"]["reason"] == "username_taken"
    assert client.patch("/api/users/me", headers=user.headers, json={"level": 99}).status_code == 422
    assert client.patch("/api/users/me", json={"name": "x"}).status_code == 401


def test_api_keys_are_stored_encrypted_and_returned_masked(app, client, user):
    secret_key, secret = "AKIA-REAL-KEY-123456", "very-secret-value-xyz"
    resp = client.put(
        "/api/users/me/api-keys",
        headers=user.headers,
        json={"exchange": "binance", "apiKey": secret_key, "apiSecret": secret, "label": "main"},
    )
    assert resp.status_code == 200, resp.get_json()
    shown = resp.get_json()["data"]
    assert shown["apiKey"] == "********3456" and shown["hasSecret"] is True
    listing = client.get("/api/users/me/api-keys", headers=user.headers)
    text = listing.get_data(as_text=True)
    assert secret_key not in text and secret not in text
    assert listing.get_json()["data"][0]["exchange"] == "binance"
    row = db.session.scalars(select(UserApiKey).where(UserApiKey.user_id == user.id)).one()
    assert secret_key not in row.key_ciphertext and secret not in (row.secret_ciphertext or "")
    from backend.modules.users import service

    assert service.get_api_secret(user_id=user.id, exchange="binance") == (secret_key, secret)


def test_api_key_put_replaces_and_delete_forgets(client, user):
    for key in ("FIRST-KEY-0001", "SECOND-KEY-0002"):
        client.put("/api/users/me/api-keys", headers=user.headers, json={"exchange": "okx", "apiKey": key})
    keys = client.get("/api/users/me/api-keys", headers=user.headers).get_json()["data"]
    assert [k["apiKey"] for k in keys] == ["********0002"]
    assert client.delete("/api/users/me/api-keys?exchange=okx", headers=user.headers).status_code == 200
    assert client.get("/api/users/me/api-keys", headers=user.headers).get_json()["data"] == []
    missing = client.delete("/api/users/me/api-keys?exchange=okx", headers=user.headers)
    assert missing.status_code == 404 and missing.get_json()["details"]["reason"] == "not_found"


def test_api_keys_are_per_user(client, user, other_user):
    client.put(
        "/api/users/me/api-keys", headers=user.headers, json={"exchange": "kraken", "apiKey": "MINE-1234"}
    )
    assert client.get("/api/users/me/api-keys", headers=other_user.headers).get_json()["data"] == []
    assert (
        client.delete("/api/users/me/api-keys?exchange=kraken", headers=other_user.headers).status_code == 404
    )


def test_api_key_validation_and_auth(client, user):
    bad = client.put(
        "/api/users/me/api-keys", headers=user.headers, json={"exchange": "Bad Name!", "apiKey": "x"}
    )
    assert bad.status_code == 422
    assert {"exchange", "apiKey"} <= set(bad.get_json()["details"]["fields"])
    assert client.get("/api/users/me/api-keys").status_code == 401
    assert client.delete("/api/users/me/api-keys", headers=user.headers).status_code == 422
