"""Flask's context proxies (``current_app``, ``request``, ``g``...) without the failed lookup per read.

``current_app.config`` goes through werkzeug's `LocalProxy`: the proxy class has no attribute
``config``, so CPython 3.11 first builds and discards an ``AttributeError`` ("'LocalProxy' object
has no attribute 'config'", a formatted message), then calls the proxy's ``__getattr__``, a
descriptor that binds ``getattr`` to the proxied object. About 0.9 µs per read; an authenticated
read made some 50 of them (flask-jwt-extended's settings, Flask's own hooks, this app's hooks):
about a fifth of the instructions it ran (docs/performance.md, section api-proxies).

`DirectProxy` is a `LocalProxy` with a property for each name in `DIRECT`, the attributes that
Flask, its extensions and this app read through the proxies on every request. The property returns
``getattr(<the proxied object>, name)``: what `LocalProxy.__getattr__` returns for that name
(`LocalProxy` itself has no public attribute and its instances no ``__dict__``), with the same
``AttributeError`` when the object lacks it and the same ``RuntimeError`` ("Working outside of
application context") when the proxy is unbound. Any other name, and deleting attributes, take the
usual path. Setting one (``g.name = value``: flask-jwt-extended sets four per authenticated
request, the request-id hook one) is a plain method doing what `LocalProxy`'s forwarding slot does
(``setattr`` on the proxied object, the same ``RuntimeError`` when unbound) without building a
bound ``setattr`` for each write.

`install` re-classes Flask's own proxy objects in place, so every module that imported them
(Flask, its extensions, this app) gets the direct reads; idempotent.
"""

from __future__ import annotations

from typing import Any

import flask.globals
from werkzeug.local import LocalProxy

# Counted per request on the hot reads (cache hits, the session check, the hooks), plus their
# neighbours. A name read on some proxy that has no such attribute still fails as before.
DIRECT = (
    # the app
    "config",
    "extensions",
    "json",
    "response_class",
    "ensure_sync",
    "view_functions",
    "url_map",
    "debug",
    "testing",
    "name",
    "logger",
    # the request
    "method",
    "endpoint",
    "blueprint",
    "blueprints",
    "query_string",
    "headers",
    "environ",
    "args",
    "view_args",
    "url_rule",
    "path",
    "full_path",
    "url",
    "host",
    "scheme",
    "remote_addr",
    "access_route",
    "cookies",
    "mimetype",
    "content_type",
    "content_length",
    "is_json",
    "get_json",
    "get_data",
    "data",
    "form",
    "files",
    # the contexts (request_ctx.request, app_ctx.app)
    "request",
    "app",
    # flask.g (its methods and this app's request id)
    "get",
    "pop",
    "setdefault",
    "request_id",
)

PROXIES = ("current_app", "request", "g", "session", "app_ctx", "request_ctx")

_getattribute = object.__getattribute__
_set_class = object.__dict__["__class__"].__set__  # LocalProxy forwards a plain __class__ assignment


def _direct(name: str) -> property:
    def read(self: LocalProxy) -> Any:  # type: ignore[type-arg]
        return getattr(self._get_current_object(), name)

    read.__name__ = name
    return property(read, doc=f"The proxied object's ``{name}``.")


class DirectProxy(LocalProxy):  # type: ignore[type-arg]
    """A `LocalProxy` that reads the names in `DIRECT` straight from the proxied object."""

    __slots__ = ()

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._get_current_object(), name, value)


for _name in DIRECT:
    setattr(DirectProxy, _name, _direct(_name))


def install() -> None:
    """Make Flask's context proxies `DirectProxy` instances (idempotent)."""
    for name in PROXIES:
        proxy = getattr(flask.globals, name, None)
        if proxy is not None and _getattribute(proxy, "__class__") is LocalProxy:
            _set_class(proxy, DirectProxy)
