"""NUL characters never reach PostgreSQL: 404 in a path, 422 in a query or JSON body."""

from __future__ import annotations

import pytest

from tests.helpers.api import error, fields, ok


@pytest.mark.parametrize(
    "path",
    [
        "/api/forum/posts/%00",
        "/api/bots/%00",
        "/api/files/%00",
        "/api/workflows/%00",
        "/api/agent/audits/%00",
        "/api/strategies/ab%00cd",
        "/api/backtests/%00",
    ],
)
def test_nul_in_a_path_id_is_404(client, auth_headers, path):
    error(client.get(path, headers=auth_headers), 404, "not_found")


def test_nul_in_a_query_argument_is_422(client, auth_headers):
    assert "tag" in fields(client.get("/api/forum/posts?tag=a%00b", headers=auth_headers))


def test_nul_in_a_json_body_is_422_naming_the_field(client, auth_headers):
    resp = client.post(
        "/api/forum/posts",
        data='{"title": "a\\u0000b", "content": "x", "tags": ["ok", "b\\u0000"]}',
        content_type="application/json",
        headers=auth_headers,
    )
    assert fields(resp) == {
        "title": ["Must not contain NUL characters."],
        "tags": ["Must not contain NUL characters."],
    }


def test_ordinary_requests_pass(client, auth_headers):
    resp = client.post(
        "/api/forum/posts",
        headers=auth_headers,
        json={"title": "Backslashes \\u are fine", "content": "plain text", "tags": []},
    )
    ok(resp, 201)


def test_an_escaped_backslash_before_u0000_text_is_not_a_nul(client, auth_headers):
    resp = client.post(
        "/api/forum/posts",
        headers=auth_headers,
        json={"title": "path C:\\u0000 is text", "content": "x", "tags": []},
    )
    ok(resp, 201)
