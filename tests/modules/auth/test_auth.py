"""Register, login, refresh rotation and replay, logout, and every bad-token case."""

from __future__ import annotations

import base64
import json
import time

import pytest
from flask_jwt_extended import create_access_token

from tests.helpers.api import error, fields, ok


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_register_returns_user_and_tokens(client):
    resp = client.post(
        "/api/auth/register",
        json={"username": "newbie", "password": "s3cret-pass", "email": "newbie@example.com"},
    )
    data = ok(resp, 201)
    assert data["name"] == "newbie"
    assert data["id"]
    assert data["email"] == "newbie@example.com"
    assert data["token_type"] == "Bearer"
    assert data["expires_in"] == 15 * 60
    me = ok(client.get("/api/users/me", headers=_bearer(data["access_token"])))
    assert me["id"] == data["id"]


def test_register_duplicate_username_is_409_case_insensitive(client, make_user):
    make_user("Duplicate")
    error(
        client.post("/api/auth/register", json={"username": "duplicate", "password": "s3cret-pass"}),
        409,
        "username_taken",
    )


@pytest.mark.parametrize(
    "body, field",
    [
        ({"username": "ab", "password": "s3cret-pass"}, "username"),
        ({"username": "bad name!", "password": "s3cret-pass"}, "username"),
        ({"username": "okname", "password": "short"}, "password"),
        ({"username": "okname", "password": "s3cret-pass", "email": "not-an-email"}, "email"),
    ],
)
def test_register_rejects_bad_input(client, body, field):
    assert field in fields(client.post("/api/auth/register", json=body))


def test_login_with_username_or_email(client):
    client.post(
        "/api/auth/register",
        json={"username": "mailer", "password": "s3cret-pass", "email": "Mailer@Example.com"},
    )
    for body in (
        {"username": "mailer", "password": "s3cret-pass"},
        {"email": "mailer@example.com", "password": "s3cret-pass"},
        {"username": "MAILER@example.com", "password": "s3cret-pass"},
    ):
        assert ok(client.post("/api/auth/login", json=body))["user"]["name"] == "mailer"


def test_login_wrong_password_and_unknown_user_look_the_same(client, user):
    a = error(
        client.post("/api/auth/login", json={"username": user.username, "password": "nope-nope"}),
        401,
        "invalid_credentials",
    )
    b = error(
        client.post("/api/auth/login", json={"username": "ghost-user", "password": "nope-nope"}),
        401,
        "invalid_credentials",
    )
    assert a["message"] == b["message"]


def test_login_needs_an_identifier(client):
    error(client.post("/api/auth/login", json={"password": "x"}), 422, "validation_error")


def test_refresh_rotates_and_replay_revokes_the_family(client, user):
    new = ok(client.post("/api/auth/refresh", headers=_bearer(user.refresh_token)))
    assert new["refresh_token"] != user.refresh_token
    assert client.get("/api/users/me", headers=_bearer(new["access_token"])).status_code == 200
    # Replaying the consumed refresh token is treated as theft: the family is revoked.
    error(client.post("/api/auth/refresh", headers=_bearer(user.refresh_token)), 401, "token_revoked")
    error(client.post("/api/auth/refresh", headers=_bearer(new["refresh_token"])), 401, "token_revoked")
    error(client.get("/api/users/me", headers=_bearer(new["access_token"])), 401, "token_revoked")
    error(client.get("/api/users/me", headers=user.headers), 401, "token_revoked")


def test_refreshed_access_token_is_not_fresh(client, user):
    new = ok(client.post("/api/auth/refresh", headers=_bearer(user.refresh_token)))
    resp = client.put(
        "/api/users/me/api-keys",
        headers=_bearer(new["access_token"]),
        json={"exchange": "binance", "apiKey": "AKIA-1234567890"},
    )
    error(resp, 401, "fresh_token_required")


def test_access_token_cannot_refresh_and_refresh_cannot_access(client, user):
    error(client.post("/api/auth/refresh", headers=user.headers), 401, "token_invalid")
    error(client.get("/api/users/me", headers=_bearer(user.refresh_token)), 401, "token_invalid")


def test_logout_revokes_access_and_refresh(client, user):
    assert client.post("/api/auth/logout", headers=user.headers).status_code == 200
    error(client.get("/api/users/me", headers=user.headers), 401, "token_revoked")
    error(client.post("/api/auth/refresh", headers=_bearer(user.refresh_token)), 401, "token_revoked")


def test_logout_with_refresh_token_revokes_the_access_token_too(client, user):
    assert client.post("/api/auth/logout", headers=_bearer(user.refresh_token)).status_code == 200
    error(client.get("/api/users/me", headers=user.headers), 401, "token_revoked")


def test_other_sessions_survive_a_logout(client, user):
    second = client.post("/api/auth/login", json={"username": user.username, "password": user.password})
    other_access = ok(second)["access_token"]
    client.post("/api/auth/logout", headers=user.headers)
    assert client.get("/api/users/me", headers=_bearer(other_access)).status_code == 200


def test_expired_token_is_401(app, client, user):
    with app.app_context():
        token = create_access_token(
            identity=user.id,
            expires_delta=__import__("datetime").timedelta(seconds=-5),
            additional_claims={"fam": "f" * 32},
        )
    error(client.get("/api/users/me", headers=_bearer(token)), 401, "token_expired")


def test_tampered_token_is_401(client, user):
    header, payload, sig = user.access_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    error(client.get("/api/users/me", headers=_bearer(f"{header}.{forged}.{sig}")), 401, "token_invalid")


def test_wrong_signature_key_is_401(client, user):
    import jwt as pyjwt

    token = pyjwt.encode(
        {"sub": user.id, "type": "access", "jti": "x", "exp": int(time.time()) + 60, "fresh": True},
        "another-secret-key-that-is-long-enough-000",
        algorithm="HS256",
    )
    error(client.get("/api/users/me", headers=_bearer(token)), 401, "token_invalid")


def test_alg_none_token_is_401(client, user):
    def b64(obj) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    token = (
        b64({"alg": "none", "typ": "JWT"})
        + "."
        + b64({"sub": user.id, "type": "access", "jti": "abc", "exp": int(time.time()) + 600, "fresh": True})
        + "."
    )
    error(client.get("/api/users/me", headers=_bearer(token)), 401, "token_invalid")


def test_garbage_authorization_header_is_401(client):
    error(client.get("/api/users/me", headers={"Authorization": "Bearer not.a.jwt"}), 401, "token_invalid")
    error(client.get("/api/users/me", headers={"Authorization": "Basic abc"}), 401, "token_missing")


def test_login_rate_limit_is_429_with_retry_after(app, client, user):
    app.config["RATELIMIT_LOGIN"] = "3 per minute"
    try:
        for _ in range(3):
            client.post("/api/auth/login", json={"username": user.username, "password": "wrong-wrong"})
        resp = client.post("/api/auth/login", json={"username": user.username, "password": user.password})
        body = error(resp, 429, "rate_limited")
        assert 0 < int(resp.headers["Retry-After"]) <= 60
        assert body["details"]["retryAfter"] == int(resp.headers["Retry-After"])
        assert body["message"]
        # Another username from the same address is limited separately.
        other = client.post("/api/auth/login", json={"username": "someone-else", "password": "x-x-x-x-x"})
        assert other.status_code == 401
    finally:
        app.config["RATELIMIT_LOGIN"] = "10 per minute"


@pytest.mark.parametrize("body", [[1, 2], "just a string", 42])
def test_login_with_a_non_object_body_is_422(client, body):
    error(client.post("/api/auth/login", json=body), 422, "validation_error")
