"""The app's Flask class: Flask, with the per-call coroutine check of its hooks answered from the code.

Flask passes every hook and view through ``ensure_sync`` on every request (about a dozen per
request here: the before/after/teardown hooks, flask-jwt-extended's decorator, the view), and
``ensure_sync`` asks `inspect.iscoroutinefunction` each time: some 0.5 µs of unwrapping per call.
For a plain function, or a method of one, that answer is the ``CO_COROUTINE`` flag of its code
object, which is what `inspect` reads in the end; `App.ensure_sync` reads it directly. Anything
else (partials, callable objects, a function marked as a coroutine function) goes to Flask's
own check.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import FunctionType, MethodType
from typing import Any

from flask import Flask


class App(Flask):
    """`flask.Flask` with a direct coroutine check in ``ensure_sync`` (see the module docstring)."""

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        kind = type(func)
        target = func.__func__ if kind is MethodType else func  # type: ignore[attr-defined]
        if type(target) is FunctionType and not hasattr(target, "_is_coroutine_marker"):
            if target.__code__.co_flags & inspect.CO_COROUTINE:
                return self.async_to_sync(func)
            return func
        return super().ensure_sync(func)
