"""Deeply nested JSON is refused with a 4xx envelope before anything recurses over it."""

from __future__ import annotations

import pytest

from tests.helpers.api import error, ok

DEPTHS = [1_000, 100_000]


def _nested(kind: str, depth: int) -> bytes:
    if kind == "array":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("kind", ["array", "object"])
@pytest.mark.parametrize("path", ["/api/auth/login", "/api/auth/register"])
def test_deep_json_on_anonymous_endpoints_is_422(client, path, kind, depth):
    resp = client.post(path, data=_nested(kind, depth), content_type="application/json")
    body = error(resp, 422, "json_too_deep")
    assert body["details"]["maxDepth"] == 64


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("kind", ["array", "object"])
def test_deep_json_on_an_authenticated_endpoint_is_422(client, auth_headers, kind, depth):
    resp = client.patch(
        "/api/users/me", data=_nested(kind, depth), content_type="application/json", headers=auth_headers
    )
    error(resp, 422, "json_too_deep")


def test_brackets_inside_strings_do_not_count(client, auth_headers):
    name = "[" * 500 + "{" * 500
    data = ok(client.patch("/api/users/me", json={"name": name[:100]}, headers=auth_headers))
    assert data["name"] == name[:100]
    # A body with more brackets than the bound, all inside one string, is ordinary input.
    resp = client.post("/api/auth/login", json={"username": "[" * 200, "password": "x"})
    assert resp.status_code in (401, 422)
    assert resp.get_json()["details"]["reason"] != "json_too_deep"


def test_nesting_up_to_the_bound_is_parsed_normally(client):
    body = b'{"username": "u", "password": "p", "x": ' + b"[" * 62 + b"]" * 62 + b"}"
    # 63 levels in all: the schema refuses the unknown field, the depth guard does not.
    resp = client.post("/api/auth/login", data=body, content_type="application/json")
    assert error(resp, 422, "validation_error")


def test_the_bound_is_a_setting(app, client):
    body = b"[" * 10 + b"]" * 10
    app.config["JSON_MAX_DEPTH"] = 8
    try:
        assert (
            error(client.post("/api/auth/login", data=body, content_type="application/json"), 422)["details"][
                "maxDepth"
            ]
            == 8
        )
    finally:
        app.config["JSON_MAX_DEPTH"] = 64


def test_a_deep_chunked_body_without_content_length_is_not_a_500(client):
    deep = b"[" * 100_000 + b"]" * 100_000
    resp = client.post(
        "/api/auth/login",
        input_stream=__import__("io").BytesIO(deep),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
    )
    assert 400 <= resp.status_code < 500


def test_the_app_json_provider_turns_a_recursion_error_into_invalid_json(app):
    # Second line of defence: Flask answers a ValueError from get_json with 400, never 500.
    with pytest.raises(ValueError, match="too deeply"):
        app.json.loads("[" * 100_000 + "]" * 100_000)
    assert app.json.loads("[[1]]") == [[1]]


def test_json_depth_ignores_brackets_in_strings_and_escaped_quotes():
    from backend.core.input_guard import json_depth

    assert json_depth(b'{"a": [1, {"b": "]]]"}]}') == 3
    assert json_depth(rb'["\\", "[[[", ["\"[[["]]') == 2  # an escaped backslash, then an escaped quote
    assert json_depth(b"[]") == 1
    assert json_depth(b"42") == 0
