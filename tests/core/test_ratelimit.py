"""backend.core.ratelimit: the limiter skips its before-request work only when there is nothing to check."""

from __future__ import annotations

import flask
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
