"""flask-cors, with the headers of ordinary (non-preflight) requests worked out once per origin.

flask-cors' after-request hook evaluates its options on every response: it matches the origin
against every allowed one, builds two multidicts and logs at debug level, about a tenth of a
small anonymous GET's time. For a request that is not a preflight (``OPTIONS``) and carries no
``Access-Control-Request-Private-Network`` header, the headers it adds depend on nothing but the
matched resource's options and the request's ``Origin`` header (flask-cors' ``get_cors_headers``:
the allowed methods and headers are only computed for ``OPTIONS``). `QuickCORS` therefore
remembers flask-cors' own answer per (resource, ``Origin``) and adds the same headers in the same
order (values checked once, when remembered, then appended to werkzeug's header list as they are);
every other request (preflights, private-network requests, flask-cors' debug logging
switched on, a response whose headers are not werkzeug ``Headers``) goes through flask-cors
unchanged, and so do errors (flask-cors also wraps the app's exception handlers, untouched here).

Without an ``Origin`` header flask-cors still answers (``always_send``): the first configured
origin in sorted order, the exposed headers and ``Vary: Origin``; that is kept as it is.
tests/core/test_request_hooks_wire.py pins the headers and tests/core/test_cors.py compares this
class with flask-cors request by request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from flask import Flask, Response, request
from flask_cors import CORS
from flask_cors.core import (
    ACL_ORIGIN,
    ACL_REQUEST_HEADER_PRIVATE_NETWORK,
    FLASK_CORS_EVALUATED,
    get_cors_headers,
    get_cors_options,
    merge_options,
    parse_resources,
    try_match_pattern,
)
from werkzeug.datastructures import Headers

# The loggers flask-cors' hook logs to (at debug level: then every request goes through it).
_LOGS = (logging.getLogger("flask_cors.extension"), logging.getLogger("flask_cors.core"))

# Distinct (resource, Origin) answers remembered; emptied when full (clients choose the Origin).
MAX_ORIGINS = 256


class QuickCORS(CORS):
    """`flask_cors.CORS` whose after-request hook reuses its answer for a repeated origin."""

    def init_app(self, app: Any, **kwargs: Any) -> None:
        super().init_app(app, **kwargs)
        if not isinstance(app, Flask):
            return
        hooks = app.after_request_funcs[None]
        stock = hooks[-1]  # the hook flask-cors has just registered
        if getattr(stock, "__name__", "") != "cors_after_request":  # pragma: no cover - a new flask-cors
            return
        merged = merge_options(app, self._options, kwargs)
        resources = [
            (pattern, get_cors_options(app, self._options, kwargs, options))
            for pattern, options in parse_resources(merged.get("resources", r"/*"))
        ]
        hooks[-1] = _quick_hook(stock, resources)


def _quick_hook(stock: Callable[..., Any], resources: list[tuple[Any, Any]]) -> Callable[..., Any]:
    answers: dict[tuple[int, str | None], tuple[tuple[str, Any], ...]] = {}

    def cors_after_request(resp: Response) -> Response:
        req = request._get_current_object()  # type: ignore[attr-defined]
        headers = resp.headers
        if (
            req.method == "OPTIONS"
            or ACL_REQUEST_HEADER_PRIVATE_NETWORK in req.headers
            or not isinstance(headers, Headers)
            or _LOGS[0].isEnabledFor(logging.DEBUG)
            or _LOGS[1].isEnabledFor(logging.DEBUG)
        ):
            answered: Response = stock(resp)
            return answered
        if headers.get(ACL_ORIGIN):  # already evaluated (an error answered by the wrapped handlers)
            return resp
        path = unquote(req.path)
        for index, (pattern, options) in enumerate(resources):
            if try_match_pattern(path, pattern, caseSensitive=True):
                if hasattr(resp, FLASK_CORS_EVALUATED):
                    return resp
                origin = req.headers.get("Origin")
                answer = answers.get((index, origin))
                if answer is None:
                    # Checked and converted as `Headers.add` does (a bad value raises here, as there).
                    answer = tuple(Headers(get_cors_headers(options, req.headers, req.method).items()))
                    if len(answers) >= MAX_ORIGINS:
                        answers.clear()
                    answers[(index, origin)] = answer
                if type(headers) is Headers:  # what `add` appends, already checked: appended as it is
                    headers._list.extend(answer)
                else:
                    for name, value in answer:
                        headers.add(name, value)
                return resp
        return resp

    return cors_after_request
