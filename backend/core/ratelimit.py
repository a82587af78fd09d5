"""The rate limiter, without its per-request work on routes that have no limit to check.

flask-limiter's ``before_request`` hook resolves the limits of every request's endpoint (view
lookup, exemption scopes, blueprint and default limits) even when the app declares none outside a
few decorated auth routes: about a tenth of a small GET's time. The hook only ever checks
application, default, meta and blueprint limits, the limits hinted for the endpoint and, while
the storage is unreachable, the in-memory fallback limits (decorated
limits are checked by their decorators when the view runs), so when none of those exist it has
nothing to do and `QuietLimiter` skips it. As soon as any is configured (``RATELIMIT_DEFAULT``, an
``application_limits``, a blueprint limit), every request is checked exactly as before.
"""

from __future__ import annotations

from flask import request
from flask_limiter import Limiter


class QuietLimiter(Limiter):
    """`flask_limiter.Limiter` whose before-request hook returns at once when it has nothing to check."""

    def _check_request_limit(self, callable_name: str | None = None, in_middleware: bool = True) -> None:
        if in_middleware and callable_name is None and self._nothing_in_middleware():
            return
        super()._check_request_limit(callable_name=callable_name, in_middleware=in_middleware)

    def _nothing_in_middleware(self) -> bool:
        manager = self.limit_manager
        return not (
            manager._application_limits
            or manager._default_limits
            or manager._blueprint_limits
            or self._meta_limits
            or (self._storage_dead and self._in_memory_fallback)
            or (request.endpoint and manager.has_hints(request.endpoint))
        )
