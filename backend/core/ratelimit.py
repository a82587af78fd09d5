"""The rate limiter, without its per-request work on routes that have no limit to check.

flask-limiter's ``before_request`` hook resolves the limits of every request's endpoint (view
lookup, exemption scopes, blueprint and default limits) even when the app declares none outside a
few decorated auth routes: about a tenth of a small GET's time. The hook only ever checks
application, default, meta and blueprint limits, the limits hinted for the endpoint and, while
the storage is unreachable, the in-memory fallback limits (decorated
limits are checked by their decorators when the view runs), so when none of those exist it has
nothing to do and `QuietLimiter` skips it. As soon as any is configured (``RATELIMIT_DEFAULT``, an
``application_limits``, a blueprint limit), every request is checked exactly as before.

The after-request hook (the ``X-RateLimit-*`` headers, conditional deductions) and the teardown
(resetting the request's limiter state) only read and reset the per-request state that
flask-limiter creates on first use (``_limiter_request_context`` on the request context). A
request that never touched the limiter (a route without a limit, the before-request check
skipped) has none: the headers hook would create an empty one, find no limit to report and no
deduction to make, and the teardown would reset that empty state. `QuietLimiter` returns at once
then; as soon as a check ran (a decorated route, a default limit, the 429 handler reading
``current_limit``), both hooks run flask-limiter's code unchanged.
"""

from __future__ import annotations

from typing import cast

from flask import Flask, Response, request
from flask.globals import request_ctx
from flask_limiter import Limiter

# The attribute flask-limiter keeps its per-request state in (`Limiter.context`).
_STATE = "_limiter_request_context"


def _limiter_used() -> bool:
    """Return True once flask-limiter has created its state for the current request."""
    return hasattr(request_ctx._get_current_object(), _STATE)  # type: ignore[attr-defined]


class QuietLimiter(Limiter):
    """`flask_limiter.Limiter` whose before-request hook returns at once when it has nothing to check."""

    def init_app(self, app: Flask) -> None:
        registered = app.extensions.get("limiter", set())
        super().init_app(app)
        if self in registered:
            return
        hooks = app.after_request_funcs[None]
        inject = hooks[-1]  # functools.partial(Limiter.__inject_headers, self), just registered
        if getattr(inject, "func", None) is not getattr(Limiter, "_Limiter__inject_headers", object()):
            return  # pragma: no cover - another flask-limiter: keep its hooks as they are

        def _inject_headers_if_used(response: Response) -> Response:
            if not _limiter_used():
                return response
            return cast(Response, inject(response))

        hooks[-1] = _inject_headers_if_used

    def _Limiter__release_context(self, _: BaseException | None = None) -> None:  # noqa: N802
        if _limiter_used():
            super()._Limiter__release_context(_)  # type: ignore[misc]

    def _check_request_limit(self, callable_name: str | None = None, in_middleware: bool = True) -> None:
        if in_middleware and callable_name is None and self._nothing_in_middleware():
            return
        super()._check_request_limit(callable_name=callable_name, in_middleware=in_middleware)

    def _nothing_in_middleware(self) -> bool:
        manager = self.limit_manager
        if (
            manager._application_limits
            or manager._default_limits
            or manager._blueprint_limits
            or self._meta_limits
            or (self._storage_dead and self._in_memory_fallback)
        ):
            return False
        endpoint = request.endpoint
        return not (endpoint and manager.has_hints(endpoint))
