"""A small HTTP/1.1 load generator for loopback benchmarks: N keep-alive connections, bounded.

One asyncio event loop drives ``connections`` raw sockets; each sends one request, reads the whole
response (``Content-Length`` or chunked), and sends the next. Connections the server closes
(``Connection: close``, as gunicorn's sync worker does after every response) are reopened, so
the same client loads keep-alive and non-keep-alive servers. A run is bounded in time
(``duration_s``) and in requests (``max_requests``); the first ``warmup_s`` is not recorded.

It talks only to 127.0.0.1 / localhost / ::1: it refuses any other host.

Usage: ``python -m scripts.loadgen http://127.0.0.1:8000/api/health -c 32 -d 5``
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
MAX_HEADER_BYTES = 64 * 1024


@dataclass(frozen=True)
class Target:
    """One request to repeat: method, path (with query) and extra headers."""

    name: str
    path: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def encode(self, host: str, port: int) -> bytes:
        """Return the raw HTTP/1.1 request bytes."""
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}:{port}", "Accept: application/json"]
        lines += [f"{k}: {v}" for k, v in self.headers]
        if self.body or self.method in {"POST", "PUT", "PATCH"}:
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


@dataclass
class Result:
    """What one run measured (latencies in milliseconds, recorded after the warm-up)."""

    name: str
    connections: int
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0  # transport errors (connection refused, reset mid-response, timeouts)
    reconnects: int = 0
    body_bytes: int = 0
    all_responses: int = 0  # including the warm-up (to divide server-side counters by)

    @property
    def requests(self) -> int:
        """Return the number of recorded (post-warm-up) responses."""
        return len(self.latencies_ms)

    @property
    def rps(self) -> float:
        """Return recorded responses per second."""
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def non_2xx(self) -> int:
        """Return how many recorded responses had a status outside 200-299."""
        return sum(n for status, n in self.statuses.items() if not 200 <= status < 300)

    def pct(self, p: float) -> float:
        """Return the ``p``-th percentile latency in ms (nearest rank; 0.0 when empty)."""
        return percentile(self.latencies_ms, p)

    def summary(self) -> str:
        """Return a one-line human summary."""
        return (
            f"{self.name}: {self.rps:,.0f} req/s, p50 {self.pct(50):.1f} / p95 {self.pct(95):.1f} / "
            f"p99 {self.pct(99):.1f} ms, {self.requests} responses, {self.non_2xx} non-2xx, "
            f"{self.errors} errors"
        )


def percentile(values: list[float], p: float) -> float:
    """Return the nearest-rank ``p``-th percentile of ``values`` (0.0 for an empty list)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), -(-len(ordered) * p // 100)))
    return ordered[int(rank) - 1]


class _Response:
    """Status, size and whether the server will close the connection."""

    __slots__ = ("close", "size", "status")

    def __init__(self, status: int, size: int, close: bool) -> None:
        self.status, self.size, self.close = status, size, close


async def _read_response(reader: asyncio.StreamReader) -> _Response:
    head = await reader.readuntil(b"\r\n\r\n")
    if len(head) > MAX_HEADER_BYTES:
        raise ValueError("response headers too large")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1])
    length, chunked, close = -1, False, parts[0] == "HTTP/1.0"
    for line in lines[1:]:
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key == "content-length":
            length = int(value)
        elif key == "transfer-encoding":
            chunked = "chunked" in value.lower()
        elif key == "connection":
            close = value.strip().lower() == "close"
    if chunked:
        size = 0
        while True:
            n = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(n + 2)
            size += n
            if n == 0:
                break
        return _Response(status, size, close)
    if length < 0:  # no length: the body runs to the end of the connection
        return _Response(status, len(await reader.read()), True)
    await reader.readexactly(length)
    return _Response(status, length, close)


def check_loopback(host: str) -> None:
    """Refuse any host that is not the loopback interface."""
    if host not in LOOPBACK:
        raise ValueError(f"loadgen only targets loopback hosts {sorted(LOOPBACK)}, not {host!r}")


async def _worker(
    host: str,
    port: int,
    request: bytes,
    result: Result,
    clock: dict[str, float],
    timeout_s: float,
) -> None:
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    while time.perf_counter() < clock["stop"] and result.requests < clock["max"]:
        try:
            if writer is None:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
            assert reader is not None and writer is not None
            t0 = time.perf_counter()
            writer.write(request)
            resp = await asyncio.wait_for(_read_response(reader), timeout_s)
            t1 = time.perf_counter()
            result.all_responses += 1
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            result.errors += 1 if time.perf_counter() >= clock["record"] else 0
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(0.01)
            continue
        if t0 >= clock["record"]:
            result.latencies_ms.append((t1 - t0) * 1000.0)
            result.statuses[resp.status] = result.statuses.get(resp.status, 0) + 1
            result.body_bytes += resp.size
        if resp.close:
            assert writer is not None
            writer.close()
            reader = writer = None
            result.reconnects += 1
    if writer is not None:
        writer.close()


async def run_async(
    url: str,
    target: Target | None = None,
    *,
    connections: int = 32,
    duration_s: float = 5.0,
    warmup_s: float = 1.0,
    max_requests: int = 200_000,
    timeout_s: float = 10.0,
) -> Result:
    """Load ``url`` (scheme, host and port; the path comes from ``target``) and return the result."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 80
    check_loopback(host)
    target = target or Target(
        name=parts.path or "/", path=(parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    )
    request = target.encode(host, port)
    result = Result(name=target.name, connections=connections)
    start = time.perf_counter()
    clock = {"record": start + warmup_s, "stop": start + warmup_s + duration_s, "max": float(max_requests)}
    await asyncio.gather(
        *(_worker(host, port, request, result, clock, timeout_s) for _ in range(connections))
    )
    result.seconds = max(1e-9, min(time.perf_counter(), clock["stop"]) - clock["record"])
    return result


def run(url: str, target: Target | None = None, **kwargs: Any) -> Result:
    """Run :func:`run_async` in a fresh event loop (see its arguments)."""
    return asyncio.run(run_async(url, target, **kwargs))


def main(argv: list[str] | None = None) -> int:
    """Command line: load one URL and print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="http://127.0.0.1:PORT/path (loopback only)")
    parser.add_argument("-c", "--connections", type=int, default=32)
    parser.add_argument("-d", "--duration", type=float, default=5.0, help="seconds recorded")
    parser.add_argument("-w", "--warmup", type=float, default=1.0, help="seconds not recorded")
    parser.add_argument("-n", "--max-requests", type=int, default=200_000)
    parser.add_argument("-H", "--header", action="append", default=[], help="'Name: value'")
    args = parser.parse_args(argv)
    parts = urlsplit(args.url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = tuple(tuple(h.split(":", 1)) for h in args.header)
    target = Target(name=path, path=path, headers=tuple((k.strip(), v.strip()) for k, v in headers))
    result = run(
        args.url,
        target,
        connections=args.connections,
        duration_s=args.duration,
        warmup_s=args.warmup,
        max_requests=args.max_requests,
    )
    print(result.summary())
    return 0 if result.requests and not result.errors else 1


if __name__ == "__main__":
    sys.exit(main())
