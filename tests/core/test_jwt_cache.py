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


def test_the_header_memo_is_what_request_verification_calls():
    import flask_jwt_extended.view_decorators as view_decorators

    from backend.core.jwt_cache import unverified_headers

    assert view_decorators.get_unverified_jwt_headers is unverified_headers


def test_a_tokens_header_is_decoded_once_and_still_given_to_the_callbacks(app, client, user, monkeypatch):
    import jwt as pyjwt
    from flask_jwt_extended import get_jwt_header

    jwt.clear_verified()
    decoded = []
    real = pyjwt.get_unverified_header
    monkeypatch.setattr(pyjwt, "get_unverified_header", lambda t: decoded.append(t) or real(t))
    for _ in range(3):
        assert _me(client, user.access_token).status_code == 200
    assert decoded.count(user.access_token) == 2  # the first verified decode, then the request's read
    with app.test_request_context(headers={"Authorization": f"Bearer {user.access_token}"}):
        from flask_jwt_extended import verify_jwt_in_request

        verify_jwt_in_request()
        assert get_jwt_header() == real(user.access_token) == {"alg": "HS256", "typ": "JWT"}
        get_jwt_header()["alg"] = "changed"  # a caller's copy: the memo is not touched
    assert _me(client, user.access_token).status_code == 200
    assert decoded.count(user.access_token) == 2


def test_a_malformed_header_is_refused_every_time_and_never_remembered(client, user):
    from backend.core import jwt_cache

    jwt.clear_verified()
    _head, payload, sig = user.access_token.split(".")
    for bad in (f"!!!!.{payload}.{sig}", f"e30.{payload}.{sig}"):  # junk; a header without alg
        for _ in range(2):
            error(_me(client, bad), 401, "token_invalid")
        assert bad not in jwt_cache._headers
