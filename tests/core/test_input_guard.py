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


def _reference_guard() -> None:
    """The guard before its fast paths (environ checks), kept to compare outcomes with."""
    from flask import current_app, request

    from backend.core.errors import Invalid, NotFound
    from backend.core.input_guard import _JSON_NUL, _check_depth, _check_numbers, _nul_fields

    if any("\x00" in str(v) for v in (request.view_args or {}).values()):
        raise NotFound()
    bad_args = sorted({k for k, v in request.args.items(multi=True) if "\x00" in k or "\x00" in v})
    if bad_args:
        raise Invalid(fields={k: ["NUL characters are not allowed."] for k in bad_args})
    if request.is_json:
        raw = request.get_data(cache=True)
        if raw:
            _check_depth(raw, current_app.config["JSON_MAX_DEPTH"])
            _check_numbers(raw)
            if b"\x00" in raw or _JSON_NUL.search(raw):
                raise Invalid("Text may not contain NUL characters.", fields=_nul_fields(raw))


def _outcome(app, guard, path, **kwargs):
    with app.test_request_context(path, **kwargs):
        from flask import request

        try:
            _rule, request.view_args = app.create_url_adapter(request).match(return_rule=True)
        except Exception:  # noqa: BLE001 - 404/405: no view args, as in a real request
            request.view_args = None
        try:
            guard()
        except Exception as exc:  # noqa: BLE001
            return type(exc).__name__, getattr(exc, "fields", None), str(exc)
        return None


_SWEEP_RUN = "/api/backtests/sweeps/00000000-0000-0000-0000-000000000000/runs/{}/promote"


@pytest.mark.parametrize(
    ("path", "kwargs", "raised"),
    [
        (_SWEEP_RUN.format("a%00b"), {"method": "POST"}, "NotFound"),  # a <string:> view arg
        (_SWEEP_RUN.format("a%2500b"), {"method": "POST"}, None),
        (_SWEEP_RUN.format("3"), {"method": "POST"}, None),
        ("/api/strategies/%00", {}, None),  # no route matches: routing's 404, not the guard's
        ("/api/nowhere/%00", {}, None),
        ("/api/strategies/recent", {}, None),
        ("/api/strategies/recent?limit=3", {}, None),
        ("/api/strategies/recent?limit=%00", {}, "Invalid"),
        ("/api/strategies/recent?a%00=1&b=2", {}, "Invalid"),
        ("/api/strategies/recent?limit=%2500", {}, None),
        ("/api/strategies/recent?", {}, None),
        ("/api/strategies/recent?x=%ff%fe", {}, None),
        ("/api/auth/register", {"method": "POST", "json": {"a": "b\x00"}}, "Invalid"),
        (
            "/api/auth/register",
            {"method": "POST", "data": "[" * 80 + "]" * 80, "content_type": "application/json"},
            "JsonTooDeep",
        ),
        (
            "/api/auth/register",
            {"method": "POST", "data": '{"a": NaN}', "content_type": "application/x+json"},
            "JsonNumberNotFinite",
        ),
        (
            "/api/auth/register",
            {"method": "POST", "data": '{"a": 1e999}', "content_type": "Application/JSON"},
            "JsonNumberTooLarge",
        ),
        (
            "/api/auth/register",
            {"method": "POST", "data": '{"a": "\\u0000"}', "content_type": "text/plain"},
            None,
        ),
        (
            "/api/auth/register",
            {"method": "POST", "data": '{"a": "\\u0000"}', "headers": {"Content-Type": ""}},
            None,
        ),
        ("/api/auth/register", {"method": "POST", "data": '{"a": "\\u0000"}'}, None),
    ],
)
def test_the_fast_paths_give_the_reference_outcome(app, path, kwargs, raised):
    from backend.core.input_guard import _guard_request

    expected = _outcome(app, _reference_guard, path, **kwargs)
    assert (expected and expected[0]) == raised
    assert _outcome(app, _guard_request, path, **kwargs) == expected
