"""A per-process bound on concurrent password hashing (Argon2id is CPU- and memory-heavy by design).

Without it, 32 anonymous clients sending wrong passwords keep every worker thread hashing and an
unrelated request waits seconds for a CPU. With it, at most ``PASSWORD_HASH_CONCURRENCY`` hashes
run at once per process; a request that cannot get a slot within ``PASSWORD_HASH_WAIT_MS`` is
refused with 503 and ``Retry-After`` (the server is busy, not the caller at fault), so the other
threads stay free for other endpoints. Unknown usernames still cost one (dummy) hash, inside the
same gate, so timing does not reveal which usernames exist.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app

from backend.core.errors import Unavailable


class HashingBusy(Unavailable):
    """Raise when no password-hashing slot frees up in time (many logins at once)."""

    reason = "auth_busy"
    code = "auth.busy"
    default_message = "Too many sign-ins are being checked right now; try again in a moment."


def _gate(app: Flask) -> threading.BoundedSemaphore:
    """Return this app's semaphore, created on first use (one per process and app)."""
    gate = app.extensions.get("password_gate")
    if gate is None:
        # dict.setdefault is atomic: two first callers end up sharing one semaphore.
        gate = app.extensions.setdefault(
            "password_gate", threading.BoundedSemaphore(app.config["PASSWORD_HASH_CONCURRENCY"])
        )
    return gate  # type: ignore[no-any-return]


@contextmanager
def hashing_slot() -> Iterator[None]:
    """Hold one hashing slot for the duration of the block, or raise `HashingBusy`."""
    gate = _gate(current_app._get_current_object())  # type: ignore[attr-defined]
    if not gate.acquire(timeout=current_app.config["PASSWORD_HASH_WAIT_MS"] / 1000):
        raise HashingBusy(headers={"Retry-After": "1"}, details={"retryAfter": 1})
    try:
        yield
    finally:
        gate.release()
