"""Flask's context proxies read public attributes directly (backend/core/proxies.py), with the
answers, errors and side effects werkzeug's LocalProxy gives."""

from __future__ import annotations

import flask
import pytest
from flask import Flask, current_app, g, request
from werkzeug.local import LocalProxy

from backend.core import proxies
from backend.core.proxies import DirectProxy


def test_create_app_installs_them(app):
    for name in proxies.PROXIES:
        proxy = getattr(flask.globals, name)
        assert type(proxy) is DirectProxy and isinstance(proxy, LocalProxy)
    proxies.install()  # idempotent
    assert type(current_app) is DirectProxy


def test_reads_are_the_proxied_objects(app):
    with app.test_request_context("/api/x?a=1", method="POST", headers={"X-Thing": "y"}):
        assert current_app.config is app.config and current_app.name == app.name
        assert request.method == "POST" and request.args["a"] == "1" and request.headers["X-Thing"] == "y"
        assert isinstance(current_app, Flask) and isinstance(request, flask.Request)
        assert current_app._get_current_object() is app  # underscore names take the usual path


def test_missing_attributes_fail_as_before(app):
    with app.app_context():
        with pytest.raises(AttributeError, match="object has no attribute 'no_such_thing'"):
            current_app.no_such_thing  # noqa: B018
        assert getattr(current_app, "no_such_thing", "default") == "default"
        assert not hasattr(g, "nothing_here") and getattr(g, "_private_missing", None) is None


def test_unbound_proxies_raise_the_context_error():
    with pytest.raises(RuntimeError, match="Working outside of application context"):
        current_app.config  # noqa: B018
    with pytest.raises(RuntimeError, match="Working outside of request context"):
        request.method  # noqa: B018


def test_every_direct_name_reads_what_localproxy_reads(app):
    with app.test_request_context("/api/x?a=1", method="POST", json={"k": 1}):
        g.request_id = "rid"
        for proxy in (current_app, request, g):
            real = proxy._get_current_object()
            plain = LocalProxy(lambda real=real: real)
            for name in proxies.DIRECT:
                try:
                    expected = getattr(plain, name)
                except AttributeError as exc:
                    with pytest.raises(AttributeError) as raised:
                        getattr(proxy, name)
                    assert str(raised.value) == str(exc), name
                    continue
                got = getattr(proxy, name)
                assert got == expected or (callable(got) and got.__func__ is expected.__func__), name


def test_a_cache_hit_makes_no_slow_proxy_read(app, client, auth_headers, monkeypatch):
    client.get("/api/users/me", headers=auth_headers)  # filled
    slow: list[str] = []
    real = LocalProxy.__getattr__

    def counting(self, name):
        slow.append(name)
        return real.__get__(self, type(self))(name)

    monkeypatch.setattr(LocalProxy, "__getattr__", counting)
    assert client.get("/api/users/me", headers=auth_headers).status_code == 200
    public = [name for name in slow if not name.startswith("_")]
    assert public == [], public


def test_g_writes_reads_and_deletes_reach_the_context_globals(app):
    with app.app_context():
        g.request_id = "a"  # a name DirectProxy reads directly: set and deleted on the globals
        assert g.request_id == "a" == g._get_current_object().request_id
        del g.request_id
        assert getattr(g, "request_id", None) is None
        g.value = 1
        g._private = 2  # an underscore name set and read through the proxy
        assert g.value == 1 and g.get("value") == 1 and g._private == 2
        real = g._get_current_object()
        assert real.value == 1 and real._private == 2
        del g.value
        assert "value" not in g and g.pop("_private") == 2
    with app.app_context():
        assert getattr(g, "value", None) is None  # a new context, new globals


def test_writes_through_a_direct_proxy_are_localproxys():
    """Setting an attribute: the same object changed, the same error when unbound, as `LocalProxy`."""
    import contextvars

    class Box:
        pass

    for kind in (LocalProxy, DirectProxy):
        var: contextvars.ContextVar[Box] = contextvars.ContextVar("box")
        proxy = kind(var, unbound_message="nothing bound")
        with pytest.raises(RuntimeError, match="nothing bound"):
            proxy.value = 1
        box = Box()
        token = var.set(box)
        proxy.value = 1
        proxy._private = 2
        assert box.value == 1 and box._private == 2 and proxy.value == 1
        var.reset(token)
