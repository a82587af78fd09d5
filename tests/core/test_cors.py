"""backend.core.cors: `QuickCORS` answers every request with exactly flask-cors' headers."""

from __future__ import annotations

import logging
import re

import flask
import pytest
from flask_cors import CORS
from werkzeug.exceptions import NotFound

from backend.core import cors as quick_cors
from backend.core.cors import QuickCORS

ORIGINS = ["http://localhost:5173", "http://127.0.0.1:3000", re.compile(r"https://.*\.example\.org")]


def _app(extension: type[CORS], **options) -> flask.Flask:
    app = flask.Flask(__name__)
    extension(
        app,
        resources={r"/api/*": {"origins": ORIGINS}, r"/open/*": {"origins": "*"}},
        expose_headers=["X-Request-ID", "Retry-After"],
        **options,
    )

    @app.route("/api/thing", methods=["GET", "POST"])
    def thing():
        return {"ok": True}

    @app.get("/api/already")
    def already():
        return {"ok": True}, 200, {"Access-Control-Allow-Origin": "https://set.by.view"}

    @app.get("/api/missing")
    def missing():
        raise NotFound()

    @app.get("/api/boom")
    def boom():
        raise RuntimeError("boom")

    @app.get("/open/thing")
    def open_thing():
        return {"ok": True}

    @app.get("/other")
    def other():
        return {"ok": True}

    return app


REQUESTS = [
    (method, path, headers)
    for path in (
        "/api/thing",
        "/api/already",
        "/api/missing",
        "/api/boom",
        "/open/thing",
        "/other",
        "/api/th%69ng",
    )
    for method in ("GET", "POST", "HEAD", "OPTIONS")
    for headers in (
        {},
        {"Origin": ""},
        {"Origin": "http://localhost:5173"},
        {"Origin": "HTTP://LOCALHOST:5173"},
        {"Origin": "https://a.example.org"},
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://localhost:5173", "Access-Control-Request-Private-Network": "true"},
        {"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST"},
        {
            "Origin": "http://localhost:5173",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization, x-custom",
        },
    )
]


@pytest.mark.parametrize(
    "options",
    [{}, {"supports_credentials": True, "max_age": 600}, {"vary_header": False}, {"always_send": False}],
)
def test_every_request_gets_flask_cors_headers(options):
    stock = _app(CORS, **options).test_client()
    quick = _app(QuickCORS, **options).test_client()
    for _ in range(2):  # the second round is answered from QuickCORS' remembered answers
        for method, path, headers in REQUESTS:
            expected = stock.open(path, method=method, headers=headers)
            got = quick.open(path, method=method, headers=headers)
            assert got.status_code == expected.status_code, (method, path, headers)
            assert list(got.headers.items()) == list(expected.headers.items()), (method, path, headers)


def _answers(app: flask.Flask) -> dict:
    hook = app.after_request_funcs[None][0]
    return next(c.cell_contents for c in hook.__closure__ if isinstance(c.cell_contents, dict))


def test_quick_hook_replaces_flask_cors_hook_and_remembers_answers():
    app = _app(QuickCORS)
    hooks = app.after_request_funcs[None]
    assert len(hooks) == 1
    assert hooks[0].__module__ == "backend.core.cors"
    client = app.test_client()
    client.get("/api/thing", headers={"Origin": "http://localhost:5173"})
    client.get("/api/thing", headers={"Origin": "http://localhost:5173"})
    client.get("/api/thing")
    assert {origin for _, origin in _answers(app)} == {"http://localhost:5173", None}


def test_remembered_answers_are_bounded(monkeypatch):
    monkeypatch.setattr(quick_cors, "MAX_ORIGINS", 3)
    stock = _app(CORS).test_client()
    quick = _app(QuickCORS).test_client()
    for i in range(10):
        headers = {"Origin": f"https://o{i}.example.org"}
        assert list(quick.get("/api/thing", headers=headers).headers.items()) == list(
            stock.get("/api/thing", headers=headers).headers.items()
        )
    assert 0 < len(_answers(quick.application)) <= 3


def test_debug_logging_goes_through_flask_cors(caplog):
    client = _app(QuickCORS).test_client()
    with caplog.at_level(logging.DEBUG, logger="flask_cors"):
        client.get("/api/thing", headers={"Origin": "http://localhost:5173"})
    assert any("CORS" in r.getMessage() for r in caplog.records)
