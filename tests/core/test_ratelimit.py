"""backend.core.ratelimit: the limiter skips its before-request work only when there is nothing to check."""

from __future__ import annotations

import flask
import pytest
from flask.globals import request_ctx
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from backend.core.ratelimit import QuietLimiter


def _app(**limiter_kwargs):
    app = flask.Flask(__name__)
    app.config["RATELIMIT_STORAGE_URI"] = "memory://"
    limiter = QuietLimiter(key_func=get_remote_address, **limiter_kwargs)
    limiter.init_app(app)

    @app.get("/free")
    def free():
        return "ok"

    @app.get("/limited")
    @limiter.limit("2 per minute")
    def limited():
        return "ok"

    return app, limiter


def test_with_no_default_or_application_limit_the_hook_resolves_nothing(monkeypatch):
    app, limiter = _app(default_limits=[])
    resolved = []
    original = limiter.limit_manager.resolve_limits
    monkeypatch.setattr(
        limiter.limit_manager, "resolve_limits", lambda *a, **k: resolved.append(a) or original(*a, **k)
    )
    client = app.test_client()
    assert [client.get("/free").status_code for _ in range(5)] == [200] * 5
    assert resolved == []  # skipped in before_request
    # a decorated limit is still enforced (by its decorator)
    assert [client.get("/limited").status_code for _ in range(3)] == [200, 200, 429]


def test_default_and_application_limits_are_still_checked_on_every_route():
    app, _ = _app(default_limits=["2 per minute"])
    client = app.test_client()
    assert [client.get("/free").status_code for _ in range(3)] == [200, 200, 429]
    app, _ = _app(application_limits=["3 per minute"])
    client = app.test_client()
    assert [client.get("/free").status_code for _ in range(4)] == [200, 200, 200, 429]


def _headers_app(limiter_class, **limiter_kwargs):
    app = flask.Flask(__name__)
    app.config.update(RATELIMIT_STORAGE_URI="memory://", RATELIMIT_HEADERS_ENABLED=True)
    limiter = limiter_class(key_func=get_remote_address, **limiter_kwargs)
    limiter.init_app(app)

    @app.get("/free")
    def free():
        return "ok"

    @app.get("/limited")
    @limiter.limit("3 per minute")
    def limited():
        return "ok"

    @app.get("/deducted")
    @limiter.limit("2 per minute", deduct_when=lambda response: response.status_code == 200)
    def deducted():
        return "ok"

    @app.get("/exempt")
    @limiter.exempt
    def exempt():
        return "ok"

    return app, limiter


def _wire(resp):
    return resp.status_code, [
        (k, "<t>" if k in ("X-RateLimit-Reset", "Retry-After") else v) for k, v in resp.headers.items()
    ]


@pytest.mark.parametrize(
    "kwargs",
    [{"default_limits": []}, {"default_limits": ["4 per minute"]}, {"application_limits": ["5 per minute"]}],
)
def test_headers_and_429s_are_flask_limiters(kwargs):
    quiet = _headers_app(QuietLimiter, **kwargs)[0].test_client()
    stock = _headers_app(Limiter, **kwargs)[0].test_client()
    for path in ("/free", "/limited", "/deducted", "/exempt"):
        for _ in range(6):
            assert _wire(quiet.get(path)) == _wire(stock.get(path)), path


def test_a_request_that_never_used_the_limiter_gets_no_state_and_no_headers():
    app, _ = _headers_app(QuietLimiter, default_limits=[])
    seen = []

    @app.teardown_request
    def _state(_exc):
        seen.append(hasattr(request_ctx._get_current_object(), "_limiter_request_context"))

    client = app.test_client()
    assert "X-RateLimit-Limit" not in client.get("/free").headers
    assert client.get("/limited").headers["X-RateLimit-Limit"] == "3"
    assert seen == [False, True]  # the after-request hook created no state for /free


def test_the_state_of_a_limited_request_is_reset_at_teardown():
    app, limiter = _headers_app(QuietLimiter, default_limits=[])
    with app.test_request_context("/limited"):
        app.preprocess_request()
        app.full_dispatch_request()
        assert limiter.current_limit is not None
        app.do_teardown_request()
        assert limiter.current_limit is None
