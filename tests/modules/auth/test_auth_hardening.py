"""Hardening of sessions and sign-in (issue 12): required claims, spraying and registration
limits, the password-hashing gate, password change ending other sessions, CORS origins."""

from __future__ import annotations

import threading
import time
import uuid

import jwt as pyjwt
import pytest

from tests.fixtures.core_db import TEST_JWT_SECRET
from tests.helpers.api import error, ok


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _claims_of(token: str) -> dict:
    return pyjwt.decode(token, TEST_JWT_SECRET, algorithms=["HS256"])


# --- 5: every token carries exp, iat, jti, type (and sub, fam) ------------------------------------


@pytest.mark.parametrize("missing", ["exp", "iat", "jti", "type", "sub", "fam"])
def test_a_token_without_a_required_claim_is_401(client, user, missing):
    claims = _claims_of(user.access_token)
    assert missing in claims
    del claims[missing]
    token = pyjwt.encode(claims, TEST_JWT_SECRET, algorithm="HS256")
    error(client.get("/api/users/me", headers=_bearer(token)), 401, "token_invalid")


@pytest.mark.parametrize(
    "claim, value", [("exp", "tomorrow"), ("iat", None), ("jti", 7), ("type", "admin"), ("exp", True)]
)
def test_a_token_with_a_mistyped_claim_is_401(client, user, claim, value):
    claims = {**_claims_of(user.access_token), claim: value}
    token = pyjwt.encode(claims, TEST_JWT_SECRET, algorithm="HS256")
    error(client.get("/api/users/me", headers=_bearer(token)), 401, "token_invalid")


def test_the_untouched_token_still_works(client, user):
    # The re-encoding above is not what makes them fail: the same claims re-signed pass.
    token = pyjwt.encode(_claims_of(user.access_token), TEST_JWT_SECRET, algorithm="HS256")
    assert ok(client.get("/api/users/me", headers=_bearer(token)))["id"] == user.id


def test_a_well_signed_token_of_an_unknown_session_is_revoked(client, user):
    claims = {**_claims_of(user.access_token), "fam": uuid.uuid4().hex}
    token = pyjwt.encode(claims, TEST_JWT_SECRET, algorithm="HS256")
    error(client.get("/api/users/me", headers=_bearer(token)), 401, "token_revoked")


def test_a_session_is_bound_to_its_user(client, user, other_user):
    claims = {**_claims_of(user.access_token), "sub": other_user.id}
    token = pyjwt.encode(claims, TEST_JWT_SECRET, algorithm="HS256")
    error(client.get("/api/users/me", headers=_bearer(token)), 401, "token_revoked")


# --- 2: password spraying and registration bursts ------------------------------------------------


@pytest.fixture
def limits(app):
    """Apply the production limits for the duration of a test, from a fresh client address."""
    saved = {k: app.config.get(k) for k in ("RATELIMIT_LOGIN_FAILURES", "RATELIMIT_REGISTER")}
    app.config["RATELIMIT_LOGIN_FAILURES"] = "20 per minute;200 per day"
    app.config["RATELIMIT_REGISTER"] = "10 per hour;50 per day"
    yield {"REMOTE_ADDR": f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"}
    app.config.update(saved)


def test_25_logins_with_25_usernames_from_one_address_hit_429(app, limits):
    client = app.test_client()
    statuses = [
        client.post(
            "/api/auth/login",
            json={"username": f"sprayed{i}", "password": "Summer2024!"},
            environ_base=limits,
        ).status_code
        for i in range(25)
    ]
    assert statuses[:20] == [401] * 20
    assert set(statuses[20:]) == {429}
    resp = client.post("/api/auth/login", json={"username": "x1", "password": "y"}, environ_base=limits)
    error(resp, 429, "rate_limited")
    assert int(resp.headers["Retry-After"]) >= 1
    # Another address is not affected.
    other = client.post(
        "/api/auth/login",
        json={"username": "x1", "password": "y"},
        environ_base={"REMOTE_ADDR": "10.250.0.1"},
    )
    assert other.status_code == 401


def test_successful_logins_do_not_count_as_failures(app, user, limits):
    client = app.test_client()

    def attempt(username: str, password: str) -> int:
        body = {"username": username, "password": password}
        return client.post("/api/auth/login", json=body, environ_base=limits).status_code

    assert [attempt(f"nobody{i}", "guess") for i in range(15)] == [401] * 15
    assert [attempt(user.username, user.password) for _ in range(9)] == [200] * 9
    assert [attempt(f"nobody-b{i}", "guess") for i in range(5)] == [401] * 5  # failures 16-20
    assert attempt("nobody-c", "guess") == 429


def test_15_registrations_in_a_burst_hit_429(app, limits):
    client = app.test_client()
    tag = uuid.uuid4().hex[:8]
    statuses = [
        client.post(
            "/api/auth/register",
            json={"username": f"burst{tag}{i}", "password": "s3cret-pass"},
            environ_base=limits,
        ).status_code
        for i in range(15)
    ]
    assert statuses[:10] == [201] * 10
    assert set(statuses[10:]) == {429}
    resp = client.post(
        "/api/auth/register", json={"username": f"late{tag}", "password": "s3cret-pass"}, environ_base=limits
    )
    error(resp, 429, "rate_limited")
    assert int(resp.headers["Retry-After"]) >= 1


def test_invalid_registrations_do_not_use_up_the_limit(app, limits):
    client = app.test_client()
    for _ in range(12):
        resp = client.post("/api/auth/register", json={"username": "x", "password": "s"}, environ_base=limits)
        assert resp.status_code == 422
    tag = uuid.uuid4().hex[:8]
    resp = client.post(
        "/api/auth/register", json={"username": f"after{tag}", "password": "s3cret-pass"}, environ_base=limits
    )
    assert resp.status_code == 201


# --- 3: the password-hashing gate -----------------------------------------------------------------


def test_login_beyond_the_hashing_gate_is_503_with_retry_after(app, client, user):
    from backend.core.password_gate import _gate

    app.config["PASSWORD_HASH_WAIT_MS"] = 50
    gate = _gate(app)
    assert gate.acquire(timeout=1)  # another request is hashing
    try:
        resp = client.post("/api/auth/login", json={"username": user.username, "password": user.password})
        body = error(resp, 503, "auth_busy")
        assert resp.headers["Retry-After"] == "1"
        assert body["details"]["retryAfter"] == 1
        # Endpoints that do not hash are unaffected.
        ok(client.get("/api/users/me", headers=user.headers))
    finally:
        gate.release()
        app.config["PASSWORD_HASH_WAIT_MS"] = 200
    ok(client.post("/api/auth/login", json={"username": user.username, "password": user.password}))


def test_the_gate_admits_a_waiter_when_a_slot_frees(app, client, user):
    from backend.core.password_gate import _gate

    gate = _gate(app)
    app.config["PASSWORD_HASH_WAIT_MS"] = 5000
    assert gate.acquire(timeout=1)
    try:
        threading.Timer(0.2, gate.release).start()
        started = time.monotonic()
        ok(client.post("/api/auth/login", json={"username": user.username, "password": user.password}))
        assert time.monotonic() - started >= 0.15
    finally:
        app.config["PASSWORD_HASH_WAIT_MS"] = 200


def test_unknown_users_also_pass_through_the_gate(app, client):
    from backend.core.password_gate import _gate

    app.config["PASSWORD_HASH_WAIT_MS"] = 50
    gate = _gate(app)
    assert gate.acquire(timeout=1)
    try:
        # Same answer as for a known user: the gate does not reveal which usernames exist.
        error(
            client.post("/api/auth/login", json={"username": "nobody-here", "password": "x"}),
            503,
            "auth_busy",
        )
    finally:
        gate.release()
        app.config["PASSWORD_HASH_WAIT_MS"] = 200


# --- 4: changing the password ends the other sessions ---------------------------------------------


def _login(client, user) -> dict:
    return ok(client.post("/api/auth/login", json={"username": user.username, "password": user.password}))


def test_password_change_ends_other_sessions_and_keeps_the_current_one(client, user):
    other = _login(client, user)  # e.g. a stolen session on another device
    current = _login(client, user)
    ok(
        client.patch(
            "/api/users/me",
            json={"password": "brand-new-pass-1", "current_password": user.password},
            headers=_bearer(current["access_token"]),
        )
    )
    for token in (user.access_token, other["access_token"]):
        error(client.get("/api/users/me", headers=_bearer(token)), 401, "token_revoked")
    for token in (user.refresh_token, other["refresh_token"]):
        error(client.post("/api/auth/refresh", headers=_bearer(token)), 401, "token_revoked")
    # The session that made the change continues, refresh included.
    ok(client.get("/api/users/me", headers=_bearer(current["access_token"])))
    ok(client.post("/api/auth/refresh", headers=_bearer(current["refresh_token"])))
    # The old password is gone, the new one works.
    error(client.post("/api/auth/login", json={"username": user.username, "password": user.password}), 401)
    ok(client.post("/api/auth/login", json={"username": user.username, "password": "brand-new-pass-1"}))


def test_a_failed_password_change_ends_nothing(client, user):
    other = _login(client, user)
    resp = client.patch(
        "/api/users/me",
        json={"password": "brand-new-pass-1", "current_password": "wrong"},
        headers=user.headers,
    )
    assert resp.status_code == 422
    ok(client.get("/api/users/me", headers=_bearer(other["access_token"])))


def test_a_profile_change_without_password_ends_nothing(client, user):
    other = _login(client, user)
    ok(client.patch("/api/users/me", json={"name": "Renamed"}, headers=user.headers))
    ok(client.get("/api/users/me", headers=_bearer(other["access_token"])))


def test_password_change_leaves_other_users_alone(client, user, other_user):
    ok(
        client.patch(
            "/api/users/me",
            json={"password": "brand-new-pass-1", "current_password": user.password},
            headers=user.headers,
        )
    )
    ok(client.get("/api/users/me", headers=other_user.headers))


# --- 15: CORS ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "origin",
    ["http://127.0.0.1:5173", "http://localhost:5173", "http://127.0.0.1:4173", "http://localhost:3000"],
)
def test_preflight_from_the_usual_local_origins_is_allowed(client, origin):
    resp = client.options(
        "/api/auth/login",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,authorization",
        },
    )
    assert resp.status_code in (200, 204)
    assert resp.headers.get("Access-Control-Allow-Origin") == origin
    assert "authorization" in resp.headers.get("Access-Control-Allow-Headers", "").lower()


def test_preflight_from_another_origin_is_not_allowed(client):
    resp = client.options(
        "/api/auth/login",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in resp.headers


def test_production_takes_cors_origins_from_the_environment():
    from backend.config import load_config

    env = {"CORS_ORIGINS": "https://app.example.com"}
    assert load_config(env).CORS_ORIGINS == ["https://app.example.com"]
    assert "http://127.0.0.1:5173" in load_config({}).CORS_ORIGINS
