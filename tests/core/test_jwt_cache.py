"""The verified-token cache (backend.core.jwt_cache) changes nothing a client can see."""

from __future__ import annotations

import time

import pytest
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


def _settings_by_the_properties():
    """The verification settings read through flask-jwt-extended's properties (what the key held before)."""
    from flask_jwt_extended.config import config

    return (
        config.decode_key,
        tuple(config.decode_algorithms),
        repr(config.decode_audience),
        config.decode_issuer,
        config.leeway,
        config.identity_claim_key,
        config.verify_sub,
    )


def test_the_settings_are_the_properties_and_follow_every_config_change(app, monkeypatch):
    jwt.clear_verified()
    with app.test_request_context():
        for name, value in (
            ("JWT_DECODE_AUDIENCE", ["web"]),
            ("JWT_DECODE_ISSUER", "qyq"),
            ("JWT_DECODE_LEEWAY", 30),
            ("JWT_SECRET_KEY", "rotated-" + "y" * 40),
            ("JWT_DECODE_ALGORITHMS", ["HS512"]),  # the library appends JWT_ALGORITHM to it
            ("JWT_IDENTITY_CLAIM", "uid"),
            ("JWT_VERIFY_SUB", False),
        ):
            before = jwt._settings()
            monkeypatch.setitem(app.config, name, value)
            settings, leeway = jwt._settings()
            assert settings == _settings_by_the_properties() != before[0], name
            assert leeway == app.config["JWT_DECODE_LEEWAY"]
            assert jwt._settings() == (settings, leeway)  # remembered
        # A list changed in place counts as changed.
        app.config["JWT_DECODE_AUDIENCE"].append("mobile")
        assert jwt._settings()[0] == _settings_by_the_properties()
        assert "mobile" in jwt._settings()[0][2]


def test_a_remembered_token_is_refused_once_an_audience_is_required(app, client, user, monkeypatch):
    jwt.clear_verified()
    assert _me(client, user.access_token).status_code == 200
    monkeypatch.setitem(app.config, "JWT_DECODE_AUDIENCE", ["web"])
    error(_me(client, user.access_token), 401, "token_invalid")
    monkeypatch.setitem(app.config, "JWT_DECODE_AUDIENCE", None)
    assert _me(client, user.access_token).status_code == 200


def test_a_remembered_token_follows_a_leeway_change(app, client, user, monkeypatch):
    jwt.clear_verified()
    assert _me(client, user.access_token).status_code == 200
    lifetime = app.config["JWT_ACCESS_TOKEN_EXPIRES"].total_seconds()
    with time_machine.travel(time.time() + lifetime + 5, tick=False):
        error(_me(client, user.access_token), 401, "token_expired")
        monkeypatch.setitem(app.config, "JWT_DECODE_LEEWAY", 60)
        assert _me(client, user.access_token).status_code == 200


@pytest.mark.parametrize(
    "value",
    [
        "Bearer abc.def.ghi",
        "  Bearer abc.def.ghi ,",
        "Basic dXNlcg==, Bearer abc.def.ghi",
        "Bearer abc.def.ghi, Bearer other.tok.en",  # two bearer values
        "Basic dXNlcg==",
        "Bearer",
        "Bearer a b",
        "bearer abc.def.ghi",
        "",
        None,  # no header at all
    ],
)
@pytest.mark.parametrize("header_type", ["Bearer", ""])
def test_the_token_from_the_header_is_the_librarys_answer_or_error(app, monkeypatch, value, header_type):
    from flask_jwt_extended import view_decorators

    from backend.core import jwt_cache

    assert view_decorators._decode_jwt_from_headers is jwt_cache.token_from_headers
    stock = jwt_cache._stock_token_from_headers
    monkeypatch.setitem(app.config, "JWT_HEADER_TYPE", header_type)
    jwt.clear_verified()
    headers = {} if value is None else {"Authorization": value}

    def outcome(fn):
        with app.test_request_context(headers=headers):
            try:
                return ("ok", fn())
            except Exception as exc:  # noqa: BLE001 - the outcome compared is the exception itself
                return (type(exc), str(exc))

    expected = outcome(stock)
    for _ in range(2):  # the first answer, then the remembered one (or the same error again)
        assert outcome(jwt_cache.token_from_headers) == expected
    remembered = any(key[0] == (value or "") for key in jwt_cache._tokens)
    assert remembered == (expected[0] == "ok")


def test_the_remembered_token_follows_the_header_settings(app, monkeypatch):
    from backend.core import jwt_cache

    jwt.clear_verified()
    with app.test_request_context(headers={"X-Token": "JWT abc.def.ghi", "Authorization": "Bearer x.y.z"}):
        assert jwt_cache.token_from_headers() == ("x.y.z", None)
        monkeypatch.setitem(app.config, "JWT_HEADER_NAME", "X-Token")
        monkeypatch.setitem(app.config, "JWT_HEADER_TYPE", "JWT")
        assert jwt_cache.token_from_headers() == ("abc.def.ghi", None)
        monkeypatch.setitem(app.config, "JWT_HEADER_NAME", "")
        with pytest.raises(RuntimeError):
            jwt_cache.token_from_headers()
