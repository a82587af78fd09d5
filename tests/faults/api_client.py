"""A tiny HTTP client for the live API of a fault test (every call bounded by a timeout)."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any

import requests

_names = itertools.count(1)


@dataclass
class Reply:
    """One answer: status, parsed JSON body (None if not JSON), raw text and seconds taken."""

    status: int
    body: Any
    text: str
    seconds: float


class Client:
    """Calls one API base URL, optionally with a bearer token."""

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 15) -> None:
        self.base_url, self.token, self.timeout = base_url, token, timeout
        self.session = requests.Session()

    def call(self, method: str, path: str, json: Any = None, **kwargs: Any) -> Reply:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        start = time.perf_counter()
        resp = self.session.request(
            method, self.base_url + path, json=json, headers=headers, timeout=self.timeout, **kwargs
        )
        try:
            body = resp.json()
        except ValueError:
            body = None
        return Reply(resp.status_code, body, resp.text, time.perf_counter() - start)

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Reply:
        return self.call("POST", path, json=json, **kwargs)

    def register(self, password: str = "correct-horse-9") -> tuple[Client, str]:
        """Register a fresh user; return a client authenticated as them and the username."""
        name = f"fault{next(_names)}_{time.monotonic_ns() % 100000}"
        reply = self.post(
            "/api/auth/register", {"username": name, "password": password, "email": f"{name}@x.io"}
        )
        assert reply.status == 201, reply.text
        return Client(self.base_url, reply.body["data"]["access_token"], self.timeout), name


def assert_clean_error(reply: Reply, status: int) -> None:
    """The reply is the error envelope with ``status`` and no stack trace or exception text."""
    assert reply.status == status, (reply.status, reply.text[:500])
    assert reply.body is not None and reply.body["code"] == status * 100, reply.text[:500]
    for leak in ("Traceback", 'File "', "psycopg2", "sqlalchemy", "redis.exceptions"):
        assert leak not in reply.text, reply.text[:500]
