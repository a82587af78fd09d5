"""App.ensure_sync (backend/core/flaskapp.py) answers as Flask's does, from the code flag."""

from __future__ import annotations

import functools

import pytest
from flask import Flask

from backend.core.flaskapp import App


def plain(x):
    return x


async def coro(x):
    return x


class Thing:
    def method(self):
        return 1

    async def amethod(self):
        return 1

    def __call__(self):
        return 2


@pytest.fixture
def pair(monkeypatch):
    wrapped = []

    def fake_async_to_sync(self, func):
        wrapped.append(func)
        return ("wrapped", func)

    monkeypatch.setattr(Flask, "async_to_sync", fake_async_to_sync)
    return App(__name__), Flask(__name__), wrapped


def test_plain_functions_and_methods_come_back_as_they_are(pair):
    ours, flasks, wrapped = pair
    thing = Thing()
    for func in (plain, thing.method, lambda: 1, thing, functools.partial(plain, 1), print):
        assert ours.ensure_sync(func) is func
        assert flasks.ensure_sync(func) is func
    assert wrapped == []


def test_coroutine_functions_are_wrapped_as_flask_wraps_them(pair):
    ours, flasks, _wrapped = pair
    thing = Thing()
    for func in (coro, thing.amethod, functools.partial(coro, 1)):
        assert ours.ensure_sync(func) == ("wrapped", func) == flasks.ensure_sync(func)


def test_the_app_is_an_app(app):
    assert isinstance(app, App)
