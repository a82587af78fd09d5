"""NUL characters never reach PostgreSQL: 404 in a path, 422 in a query or JSON body."""

from __future__ import annotations

import sys

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


@pytest.mark.parametrize(
    "number",
    ["1e400", "-1e400", "1" + "0" * 400, "-1" + "0" * 5000, "1.8e308", "2.5E+309"],
)
def test_a_json_number_beyond_a_double_is_422_before_any_view(client, auth_headers, number):
    # inf, or an int no float holds, used to crash the first float() a free-form field met (a 500)
    for path, headers in (("/api/auth/login", {}), ("/api/backtests/sweeps", auth_headers)):
        body = '{"username": "x", "password": "y", "space": {"fast": [NUMBER]}}'.replace("NUMBER", number)
        resp = client.post(path, data=body, content_type="application/json", headers=headers)
        assert error(resp, 422, "number_too_large")["details"]["maxMagnitude"] == sys.float_info.max


@pytest.mark.parametrize(
    "body",
    [
        '{"start": 1700000000000, "capital": 9999999999999999999.5, "ratio": 1.5e-300, "big": 1.7e308}',
        '{"note": "1e400 and 1' + "0" * 400 + ' inside a string are text"}',
        '{"x": -1.0E19, "n": ' + "9" * 308 + "}",
    ],
)
def test_numbers_below_the_bound_and_digits_inside_strings_pass(client, body):
    # register, not login: the tests lift register's rate limit, while login's would answer 429 here
    resp = client.post("/api/auth/register", data=body, content_type="application/json")
    assert resp.status_code == 422 and resp.get_json()["details"].get("reason") != "number_too_large"


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_literals_are_not_json_and_are_422(client, auth_headers, literal):
    body = '{"name": "NaN and Infinity in a string are text", "space": {"fast": [LIT]}}'.replace(
        "LIT", literal
    )
    resp = client.post(
        "/api/backtests/sweeps", data=body, content_type="application/json", headers=auth_headers
    )
    error(resp, 422, "number_not_finite")
