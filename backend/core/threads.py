"""Work on a thread beside the caller's, for steps that overlap without sharing anything.

``beside(fn, *args)`` starts ``fn(*args)`` on a thread of its own and returns the wait for its
result (the wait re-raises its error); ``inline(fn, *args)`` runs it at once and returns the same
kind of wait, for callers that decide per call (small work is cheaper without a thread: the
threads contend for the cores). Meant for work that runs without the GIL most of the time:
numba's nogil kernels and numpy's big loops (a backtest's guardrails beside its metrics), or a
database round trip in flight (psycopg2 waits for the server without the GIL) while the caller
computes. The work gets no app context and no session: it must not touch ``db.session``, and what
it shares with the caller (a DBAPI connection) the caller leaves alone until the wait returns.

A thread per call (tens of microseconds), not a pool: a pool's threads do not survive the fork of
a Celery worker's children, and a forked pool waits forever. A caller that stops before waiting
(an error, a cancel) leaves the thread to finish unseen; it is a daemon thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

T = TypeVar("T")


def beside(fn: Callable[..., T], *args: Any) -> Callable[[], T]:
    """Start ``fn(*args)`` on a thread; return the wait for its result (re-raising its error)."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            out["error"] = exc

    thread = threading.Thread(target=run, name=f"beside-{getattr(fn, '__name__', 'work')}", daemon=True)
    thread.start()

    def wait() -> T:
        thread.join()
        if "error" in out:
            raise out["error"]
        return cast(T, out["value"])

    return wait


def inline(fn: Callable[..., T], *args: Any) -> Callable[[], T]:
    """Run ``fn(*args)`` now, on the caller's thread; return a wait like ``beside``'s (its result).

    For callers that choose per call: below some size a thread costs more than it saves.
    """
    value = fn(*args)
    return lambda: value


class Handoff:
    """One value passed from one thread to another: ``put`` it once, ``get`` waits for it.

    ``get`` waits at most ``timeout_s`` and then returns None (the taker must cope without it:
    compute the value itself); the giver puts in a ``finally``, None when it failed.
    """

    def __init__(self, timeout_s: float = 60.0) -> None:
        self._ready = threading.Event()
        self._value: Any = None
        self._timeout_s = timeout_s

    def put(self, value: Any) -> None:
        """Hand ``value`` over (the first call counts)."""
        if not self._ready.is_set():
            self._value = value
            self._ready.set()

    def get(self) -> Any:
        """Return the value put, waiting for it (None after ``timeout_s``)."""
        return self._value if self._ready.wait(self._timeout_s) else None


class Once:
    """A value computed at most once, by whichever thread asks for it first (``get``).

    The others wait for that computation, at most ``timeout_s``, then get None (the taker must
    cope without it: compute the value itself), as they do when the computation failed (its error
    goes to the caller that ran it). ``fn`` must not wait for another taker (it would wait for
    itself until the bound).
    """

    def __init__(self, fn: Callable[..., Any], *args: Any, timeout_s: float = 60.0) -> None:
        self._call: Callable[[], Any] | None = lambda: fn(*args)
        self._lock = threading.Lock()
        self._value: Any = None
        self._timeout_s = timeout_s

    def get(self) -> Any:
        """Return the value (computing it on the first call; None after a failure or the bound)."""
        if not self._lock.acquire(timeout=self._timeout_s):
            return None
        try:
            call, self._call = self._call, None
            if call is not None:
                self._value = call()  # an error leaves None for the later callers
            return self._value
        finally:
            self._lock.release()
