"""POST /api/auth/token: the OAuth2 password and refresh_token grants (RFC 6749), not enveloped."""

from __future__ import annotations

import pytest

from tests.helpers.api import error, ok

TOKEN = "/api/auth/token"


def grant(client, **form):
    return client.post(TOKEN, data=form)  # application/x-www-form-urlencoded


def rfc_error(resp, code: str) -> dict:
    assert resp.status_code == 400, resp.get_data(as_text=True)
    body = resp.get_json()
    assert set(body) == {"error", "error_description"} and body["error"] == code
    assert body["error_description"]
    assert resp.headers["Cache-Control"] == "no-store"
    return body


def test_password_grant_answers_the_rfc_json_and_the_token_works(client, user):
    resp = grant(client, grant_type="password", username=user.username, password=user.password, scope="x y")
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store" and resp.headers["Pragma"] == "no-cache"
    body = resp.get_json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert body["token_type"] == "bearer" and body["expires_in"] == 900
    me = ok(client.get("/api/users/me", headers={"Authorization": f"Bearer {body['access_token']}"}))
    assert me["id"] == user.id


def test_password_grant_accepts_the_email_like_login(client, make_user):
    someone = make_user()
    ok(client.patch("/api/users/me", headers=someone.headers, json={"email": "tok@example.com"}))
    resp = grant(client, grant_type="password", username="TOK@example.com", password=someone.password)
    assert resp.status_code == 200


@pytest.mark.parametrize("username", ["known", "ghost-user"])
def test_wrong_credentials_are_invalid_grant(client, user, username):
    name = user.username if username == "known" else username
    rfc_error(grant(client, grant_type="password", username=name, password="not-the-one"), "invalid_grant")


@pytest.mark.parametrize(
    "form",
    [
        {},
        {"username": "a", "password": "b"},
        {"grant_type": "password", "password": "b"},
        {"grant_type": "password", "username": "a"},
        {"grant_type": "password", "username": "", "password": "b"},
        {"grant_type": "refresh_token"},
    ],
)
def test_missing_parameters_are_invalid_request(client, form):
    rfc_error(grant(client, **form), "invalid_request")


def test_a_repeated_parameter_is_invalid_request(client, user):
    resp = client.post(
        TOKEN,
        data=f"grant_type=password&username={user.username}&username=x&password=p",
        content_type="application/x-www-form-urlencoded",
    )
    rfc_error(resp, "invalid_request")


@pytest.mark.parametrize("grant_type", ["client_credentials", "authorization_code", "PASSWORD"])
def test_other_grant_types_are_unsupported(client, grant_type):
    rfc_error(grant(client, grant_type=grant_type, username="a", password="b"), "unsupported_grant_type")


def test_a_json_body_is_invalid_request(client, user):
    resp = client.post(TOKEN, json={"grant_type": "password", "username": user.username, "password": "x"})
    rfc_error(resp, "invalid_request")


def test_refresh_grant_rotates_and_a_replay_is_invalid_grant(client, user):
    first = grant(client, grant_type="password", username=user.username, password=user.password).get_json()
    second = grant(client, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert second.status_code == 200
    pair = second.get_json()
    assert pair["refresh_token"] != first["refresh_token"]
    rfc_error(
        grant(client, grant_type="refresh_token", refresh_token=first["refresh_token"]), "invalid_grant"
    )
    # The replay revoked the family: the rotated tokens are dead too.
    error(client.get("/api/users/me", headers={"Authorization": f"Bearer {pair['access_token']}"}), 401)


@pytest.mark.parametrize("kind", ["garbage", "access"])
def test_a_bad_refresh_token_is_invalid_grant(client, user, kind):
    token = "not.a.jwt" if kind == "garbage" else user.access_token
    rfc_error(grant(client, grant_type="refresh_token", refresh_token=token), "invalid_grant")


def test_token_attempts_share_the_login_rate_limit(app, client, user):
    app.config["RATELIMIT_LOGIN"] = "3 per minute"
    try:
        for _ in range(2):
            grant(client, grant_type="password", username=user.username, password="wrong-wrong")
        client.post("/api/auth/login", json={"username": user.username, "password": "wrong-wrong"})
        resp = grant(client, grant_type="password", username=user.username, password=user.password)
        error(resp, 429, "rate_limited")
        assert int(resp.headers["Retry-After"]) > 0
    finally:
        app.config["RATELIMIT_LOGIN"] = "10 per minute"


def test_failed_grants_count_as_failed_logins(app, client, user):
    app.config["RATELIMIT_LOGIN_FAILURES"] = "2 per minute"
    try:
        for name in ("a-1", "a-2"):
            rfc_error(grant(client, grant_type="password", username=name, password="x"), "invalid_grant")
        error(client.post("/api/auth/login", json={"username": "a-3", "password": "x"}), 429, "rate_limited")
    finally:
        app.config["RATELIMIT_LOGIN_FAILURES"] = "100000 per minute"


def test_the_password_grant_goes_through_the_password_gate(app, client, user, monkeypatch):
    from backend.core import password_gate

    monkeypatch.setitem(app.config, "PASSWORD_HASH_WAIT_MS", 10)
    with password_gate.hashing_slot():  # the process's one slot is taken
        resp = grant(client, grant_type="password", username=user.username, password=user.password)
    error(resp, 503, "auth_busy")


def test_openapi_declares_the_password_flow_with_this_token_url(client):
    spec = client.get("/api/openapi.json").get_json()
    scheme = spec["components"]["securitySchemes"]["oauth2"]
    assert scheme["type"] == "oauth2"
    assert scheme["flows"]["password"]["tokenUrl"] == TOKEN
    assert {"bearerAuth": []} in spec["security"] and {"oauth2": []} in spec["security"]
    op = spec["paths"][TOKEN]["post"]
    assert op["security"] == []
    assert "application/x-www-form-urlencoded" in op["requestBody"]["content"]
    assert set(op["responses"]) >= {"200", "400", "429", "503"}


def test_the_docs_page_serves_swagger_ui_with_its_local_assets(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/api/docs/assets/swagger-ui-bundle.js" in html and "/api/openapi.json" in html
    assert client.get("/api/docs/assets/swagger-ui-bundle.js").status_code == 200
