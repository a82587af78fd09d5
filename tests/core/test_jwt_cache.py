"""The verified-token cache (backend.core.jwt_cache) changes nothing a client can see."""

from __future__ import annotations

import time

import time_machine

from backend.extensions import jwt
from tests.helpers.api import error, ok


def _me(client, token: str):
    return client.get("/api/users/me", headers={"Authorization": f"Bearer {token}"})


def test_a_remembered_token_gives_the_same_claims_without_decoding_again(app, client, user, monkeypatch):
    jwt.clear_verified()
    assert _me(client, user.access_token).status_code == 200
    calls = []
    original = type(jwt).__mro__[1]._decode_jwt_from_config
    monkeypatch.setattr(
        type(jwt).__mro__[1],
        "_decode_jwt_from_config",
        lambda self, *a, **k: calls.append(a) or original(self, *a, **k),
    )
    resp = _me(client, user.access_token)
    assert resp.status_code == 200
    assert resp.get_json()["data"]["id"] == user.id
    assert calls == []  # served from the cache


def test_a_remembered_token_still_expires(app, client, user):
    jwt.clear_verified()
    assert _me(client, user.access_token).status_code == 200
    lifetime = app.config["JWT_ACCESS_TOKEN_EXPIRES"].total_seconds()
    with time_machine.travel(time.time() + lifetime + 5, tick=False):
        resp = _me(client, user.access_token)
    error(resp, 401, "token_expired")


def test_a_remembered_token_is_still_checked_for_revocation(client, user):
    jwt.clear_verified()
    assert _me(client, user.access_token).status_code == 200
    ok(client.post("/api/auth/logout", headers={"Authorization": f"Bearer {user.access_token}"}))
    resp = _me(client, user.access_token)
    error(resp, 401, "token_revoked")


def test_a_remembered_token_is_refused_once_the_secret_changes(app, client, user, monkeypatch):
    jwt.clear_verified()
    assert _me(client, user.access_token).status_code == 200
    monkeypatch.setitem(app.config, "JWT_SECRET_KEY", "another-secret-" + "x" * 40)
    resp = _me(client, user.access_token)
    error(resp, 401, "token_invalid")


def test_a_forged_signature_is_refused_every_time(client, user):
    jwt.clear_verified()
    head, payload, sig = user.access_token.split(".")
    forged = f"{head}.{payload}.{sig[:-2]}{'AA' if sig[-2:] != 'AA' else 'BB'}"
    for _ in range(2):
        resp = _me(client, forged)
        error(resp, 401, "token_invalid")
