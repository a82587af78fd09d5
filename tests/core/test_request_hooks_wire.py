"""The headers the app-wide request hooks put on responses, exactly (names, values, order).

CORS (flask-cors, `core/cors.py`), the request id (`core/logging.py`) and the rate limiter's
headers (`core/ratelimit.py`) are added by hooks that run on every request; these tests pin what
they produce today so that a faster hook cannot change the wire. Captured from flask-cors 6.0.5
with the app's configuration: note that a request *without* ``Origin`` gets the first configured
origin (sorted) and ``Vary: Origin`` (flask-cors' ``always_send``).
"""

from __future__ import annotations

import re

import pytest

OK = "http://localhost:5173"
EXPOSE = ("Access-Control-Expose-Headers", "Retry-After, X-Pagination, X-Request-ID")
METHODS = ("Access-Control-Allow-Methods", "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT")
VARY = ("Vary", "Origin")
RID = ("X-Request-ID", "<id>")
JSON_HEAD = [("Content-Type", "application/json"), ("Content-Length", "<n>")]


def _headers(resp) -> list[tuple[str, str]]:
    out = []
    for name, value in resp.headers.items():
        if name == "X-Request-ID" and re.fullmatch(r"[0-9a-f]{32}", value):
            value = "<id>"
        elif name in ("Content-Length", "X-RateLimit-Reset", "X-RateLimit-Retry-After", "Retry-After"):
            value = "<n>"
        elif name == "Allow":
            value = ", ".join(sorted(value.split(", ")))
        out.append((name, value))
    return out


def _allow(origin: str) -> list[tuple[str, str]]:
    return [("Access-Control-Allow-Origin", origin), EXPOSE]


@pytest.mark.parametrize(
    ("headers", "cors"),
    [
        ({}, [*_allow("http://127.0.0.1:3000"), VARY]),  # no Origin: the first configured origin
        ({"Origin": ""}, [*_allow("http://127.0.0.1:3000"), VARY]),
        ({"Origin": OK}, [*_allow(OK), VARY]),
        ({"Origin": OK.upper()}, [*_allow(OK.upper()), VARY]),  # origins match case-insensitively
        ({"Origin": "http://evil.example"}, []),
        ({"Origin": "null"}, []),
    ],
)
@pytest.mark.parametrize("path", ["/api/strategies/recent", "/api/definitely-not-here"])
def test_cors_and_request_id_headers_on_api_routes(client, path, headers, cors):
    resp = client.get(path, headers=headers)
    assert _headers(resp) == [*JSON_HEAD, *cors, RID]


@pytest.mark.parametrize("headers", [{}, {"Origin": OK}])
def test_no_cors_headers_outside_api(client, headers):
    resp = client.get("/not-api", headers=headers)
    assert resp.status_code == 404
    assert _headers(resp) == [*JSON_HEAD, RID]


def test_cors_headers_on_an_error_raised_in_a_view(client):
    resp = client.get("/api/users/me", headers={"Origin": OK})
    assert resp.status_code == 401
    assert _headers(resp) == [*JSON_HEAD, *_allow(OK), VARY, RID]
    resp = client.get("/api/users/me")
    assert _headers(resp) == [*JSON_HEAD, *_allow("http://127.0.0.1:3000"), VARY, RID]


def test_cors_headers_on_a_private_network_request(client):
    resp = client.get(
        "/api/strategies/recent", headers={"Origin": OK, "Access-Control-Request-Private-Network": "true"}
    )
    assert _headers(resp) == [
        *JSON_HEAD,
        *_allow(OK),
        ("Access-Control-Allow-Private-Network", "false"),
        VARY,
        RID,
    ]


HTML = ("Content-Type", "text/html; charset=utf-8")
ALLOW = ("Allow", "GET, HEAD, OPTIONS")


@pytest.mark.parametrize(
    ("headers", "cors"),
    [
        ({"Origin": OK, "Access-Control-Request-Method": "GET"}, [*_allow(OK), METHODS, VARY]),
        (
            {
                "Origin": OK,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization, content-type, x-request-id",
            },
            [
                *_allow(OK),
                ("Access-Control-Allow-Headers", "authorization, content-type, x-request-id"),
                METHODS,
                VARY,
            ],
        ),
        ({"Origin": OK, "Access-Control-Request-Method": "FOO"}, [*_allow(OK), VARY]),
        ({"Origin": OK}, [*_allow(OK), VARY]),
        (
            {
                "Origin": OK,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Private-Network": "true",
            },
            [*_allow(OK), ("Access-Control-Allow-Private-Network", "false"), METHODS, VARY],
        ),
        ({"Origin": "http://evil.example", "Access-Control-Request-Method": "GET"}, []),
        ({"Access-Control-Request-Method": "GET"}, [*_allow("http://127.0.0.1:3000"), METHODS, VARY]),
        ({}, [*_allow("http://127.0.0.1:3000"), VARY]),
    ],
)
def test_preflight_headers(client, headers, cors):
    resp = client.options("/api/strategies/recent", headers=headers)
    assert resp.status_code == 200
    assert _headers(resp) == [HTML, ALLOW, *cors, RID, ("Content-Length", "<n>")]


@pytest.mark.parametrize(
    ("incoming", "echoed"), [("abc.DEF-123_x", "abc.DEF-123_x"), ("a" * 65, "<id>"), ("a b", "<id>")]
)
def test_request_id_kept_when_sane_else_generated(client, incoming, echoed):
    resp = client.get("/api/strategies/recent", headers={"X-Request-ID": incoming})
    assert dict(_headers(resp))["X-Request-ID"] == echoed
    assert resp.get_json()["request_id"] == resp.headers["X-Request-ID"]


RL = [
    ("X-RateLimit-Limit", "3"),
    ("X-RateLimit-Remaining", "<r>"),
    ("X-RateLimit-Reset", "<n>"),
    ("X-RateLimit-Retry-After", "<n>"),
]


def _rl(remaining: int) -> list[tuple[str, str]]:
    return [(k, str(remaining) if v == "<r>" else v) for k, v in RL]


def test_rate_limit_headers_on_a_limited_route(app, user):
    """The login limit's headers on a success, a failure and the 429 (order included)."""
    client = app.test_client()
    address = {"REMOTE_ADDR": "10.11.12.13"}
    saved = {k: app.config[k] for k in ("RATELIMIT_LOGIN", "RATELIMIT_LOGIN_FAILURES")}
    app.config.update(RATELIMIT_LOGIN="3 per minute", RATELIMIT_LOGIN_FAILURES="50 per hour")
    try:

        def login(password: str, **headers: str):
            return client.post(
                "/api/auth/login",
                json={"username": user.username, "password": password},
                headers=headers,
                environ_base=address,
            )

        ok = login(user.password)
        assert ok.status_code == 200
        assert _headers(ok) == [*JSON_HEAD, *_rl(2), *_allow("http://127.0.0.1:3000"), VARY, RID]
        wrong = login("wrong-wrong", Origin=OK)
        assert wrong.status_code == 401
        assert _headers(wrong) == [*JSON_HEAD, *_allow(OK), VARY, *_rl(1), RID]
        login("wrong-wrong")
        limited = login(user.password)
        assert limited.status_code == 429
        assert _headers(limited) == [
            *JSON_HEAD,
            ("Retry-After", "<n>"),
            *_allow("http://127.0.0.1:3000"),
            VARY,
            *_rl(0),
            RID,
        ]
        assert limited.get_json()["details"]["reason"] == "rate_limited"
    finally:
        app.config.update(saved)


def test_no_rate_limit_headers_on_routes_without_a_limit(client):
    resp = client.get("/api/strategies/recent")
    assert not [name for name, _ in resp.headers.items() if name.startswith("X-RateLimit")]


def test_generated_request_ids_are_uuid4_hex(client):
    import uuid

    from backend.core.logging import new_request_id

    ids = {new_request_id() for _ in range(2000)}
    ids.add(client.get("/api/strategies/recent").headers["X-Request-ID"])
    assert len(ids) == 2001
    for rid in ids:
        assert re.fullmatch(r"[0-9a-f]{32}", rid)
        parsed = uuid.UUID(hex=rid)
        assert (parsed.version, parsed.variant, parsed.hex) == (4, uuid.RFC_4122, rid)
    # every other bit is random: each hex digit outside the fixed ones takes many values
    assert all(len({rid[i] for rid in ids}) == 16 for i in range(32) if i not in (12, 16))
    assert {rid[16] for rid in ids} == set("89ab")
