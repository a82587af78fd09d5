"""Redis at the wire, for tests: count the commands sent, or make every command fail.

Patches redis-py's connection (`AbstractConnection.send_packed_command`), which every command
goes through: the client's pool path and the hot paths' `backend.core.redis.Lane` alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis
from redis.connection import AbstractConnection


@contextmanager
def _sends(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[str]]]:
    """Record every send to Redis while the block runs: the command names of each send."""
    real = AbstractConnection.send_packed_command
    seen: list[list[str]] = []

    def counted(self: Any, command: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(_names(command))
        return real(self, command, *args, **kwargs)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counted)
    try:
        yield seen
    finally:
        monkeypatch.setattr(AbstractConnection, "send_packed_command", real)


@contextmanager
def redis_commands(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Record the name of every Redis command sent while the block runs (a pipeline: its first)."""
    firsts: list[str] = []
    with _sends(monkeypatch) as sends:
        try:
            yield firsts
        finally:
            firsts[:] = [names[0] for names in sends]


def _names(packed: Any) -> list[str]:
    """The names of every command in one send (a single command or a pipeline's packed commands)."""
    data = b"".join(
        p.encode() if isinstance(p, str) else bytes(p)
        for p in ((packed,) if isinstance(packed, (bytes, str)) else packed)
    )
    names, i = [], 0
    while i < len(data):  # *<n>\r\n then n times $<len>\r\n<bytes>\r\n
        end = data.index(b"\r\n", i)
        count, i = int(data[i + 1 : end]), end + 2
        for arg in range(count):
            end = data.index(b"\r\n", i)
            size = int(data[i + 1 : end])
            if arg == 0:
                names.append(data[end + 2 : end + 2 + size].decode().upper())
            i = end + 2 + size + 2
    return names


@contextmanager
def redis_round_trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[str]]]:
    """Record every send to Redis while the block runs: one list of command names per round trip."""
    with _sends(monkeypatch) as sends:
        yield sends


def redis_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every Redis command fail as with the server gone (undo with ``monkeypatch.undo()``)."""

    def down(*_args: Any, **_kwargs: Any) -> Any:
        raise redis.ConnectionError("down")

    monkeypatch.setattr(AbstractConnection, "send_packed_command", down)
