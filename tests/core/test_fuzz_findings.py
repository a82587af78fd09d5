"""Regressions for what the quick Schemathesis run found on main (docs/fuzzing.md, 2026-11-30).

Each test pins one place where the OpenAPI document and the server disagreed: the document now
states the rule the server applies, or the server now refuses what the document forbids.
"""

from __future__ import annotations

import io

import pytest
from jsonschema_rs import Draft4Validator  # Schemathesis' validator (requirements-dev.txt)

from tests.helpers.api import error, fields, ok

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def spec(app):
    return app.test_client().get("/api/openapi.json").get_json()


def _body_validator(spec, name: str) -> Draft4Validator:
    """A validator of one request-body component (its $refs resolved against the document)."""
    schema = {**spec["components"]["schemas"][name], "components": spec["components"]}
    return Draft4Validator(schema)


def test_login_documents_that_a_username_or_an_email_is_required(client, spec):
    validator = _body_validator(spec, "Login")
    assert not validator.is_valid({"password": "secret-123"})
    assert validator.is_valid({"email": "a@b.example", "password": "secret-123"})
    assert "username" in fields(client.post("/api/auth/login", json={"password": "secret-123"}))


def test_sweep_documents_exactly_one_strategy(client, user, spec):
    validator = _body_validator(spec, "SweepRequest")
    both = {
        "strategy_id": "acec249c-2a02-4864-baf3-2673c0bf4852",
        "strategy": {"kind": "rsi", "params": {}},
        "symbol": "X",
        "space": {},
    }
    assert not validator.is_valid(both)
    assert not validator.is_valid({"strategy": {"kind": "rsi", "params": {}}, "space": {}})  # needs a symbol
    assert "strategy_id" in fields(client.post("/api/backtests/sweeps", json=both, headers=user.headers))


def test_sweep_documents_the_shape_of_its_space(client, user, spec):
    validator = _body_validator(spec, "SweepRequest")
    base = {"strategy": {"kind": "rsi", "params": {}}, "symbol": "X"}
    for bad in ({}, {"period": []}, {"period": {"min": 1}}, {"period": {"min": 1, "max": 2, "step": 0}}):
        assert not validator.is_valid({**base, "space": bad}), bad
        body = {**base, "space": bad}
        assert client.post("/api/backtests/sweeps", json=body, headers=user.headers).status_code == 422
    assert validator.is_valid(
        {**base, "space": {"period": [5, 10], "band": {"min": 1, "max": 2, "step": 0.5}}}
    )


@pytest.mark.parametrize("text", ["\x85", " \x1c\t", "\u3000"])
def test_blank_comment_is_blank_in_the_document_too(client, user, spec, text):
    # The document said `\s*\S` (ECMA's \s, without U+0085), the server Python's \s: "\x85" was
    # valid there and 422 here.
    assert not _body_validator(spec, "CommentCreate").is_valid({"content": text})
    post = ok(client.post("/api/forum/posts", json={"title": "t"}, headers=user.headers), 201)
    url = f"/api/forum/posts/{post['id']}/comments"
    assert "content" in fields(client.post(url, json={"content": text}, headers=user.headers))
    assert _body_validator(spec, "CommentCreate").is_valid({"content": "\x85ok"})
    assert client.post(url, json={"content": "\x85ok"}, headers=user.headers).status_code == 201


def test_profile_patch_documents_its_rules(spec):
    validator = _body_validator(spec, "UserUpdate")
    assert not validator.is_valid({})
    assert not validator.is_valid({"avatar": ""})  # And(...) hid the pattern from the document
    assert not validator.is_valid({"avatar": "javascript:alert(1)"})
    assert not validator.is_valid({"password": "new-password-1"})
    assert not validator.is_valid({"password": "new-password-1", "current_password": ""})
    assert validator.is_valid({"password": "new-password-1", "current_password": "old-password"})
    assert validator.is_valid({"avatar": "https://img.example/a.png"})


def test_profile_patch_without_a_change_is_422(client, user):
    before = ok(client.get("/api/users/me", headers=user.headers))
    assert client.patch("/api/users/me", headers=user.headers).status_code == 422  # no body at all
    error(client.patch("/api/users/me", json={}, headers=user.headers), 422)
    error(client.patch("/api/users/me", json={"avatar": ""}, headers=user.headers), 422)
    assert "current_password" in fields(
        client.patch(
            "/api/users/me", json={"password": "x" * 10, "current_password": ""}, headers=user.headers
        )
    )
    assert ok(client.get("/api/users/me", headers=user.headers)) == before
    assert (
        ok(client.patch("/api/users/me", json={"name": "Renamed"}, headers=user.headers))["name"] == "Renamed"
    )


def test_avatar_upload_refuses_other_parts_and_keeps_the_avatar(client, user, spec):
    before = ok(client.get("/api/users/me", headers=user.headers))["avatar"]
    resp = client.put(
        "/api/users/me/avatar",
        data={"file": (io.BytesIO(PNG), "me.png"), "x-extra": "42"},
        headers=user.headers,
        content_type="multipart/form-data",
    )
    assert "x-extra" in fields(resp)
    assert ok(client.get("/api/users/me", headers=user.headers))["avatar"] == before
    encoding = spec["paths"]["/api/users/me/avatar"]["put"]["requestBody"]["content"]["multipart/form-data"]
    assert set(encoding["encoding"]["file"]["contentType"].split(", ")) == {
        "image/png",
        "image/jpeg",
        "image/webp",
        "image/gif",
    }


def test_every_operation_documents_gunicorns_html_414(spec):
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if method in METHODS:
                assert "text/html" in op["responses"]["414"]["content"], (method, path)


@pytest.mark.parametrize(
    "query", ["page=x&page=1", "page_size=x&page_size=5", "page=null", "page_size=[]", "page=0"]
)
def test_paginated_lists_refuse_malformed_page_args(client, user, query):
    for path in ("/api/workflows/notifications", "/api/agent/audits"):
        assert client.get(f"{path}?{query}", headers=user.headers).status_code == 422, (path, query)
