"""scripts/loadgen.py: counts every response and status, survives servers that close, stays on loopback."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from scripts import loadgen


class _Handler(BaseHTTPRequestHandler):
    """200 with a body on /ok (keep-alive), 404 on anything else, chunked on /chunked, close on /close."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
            return
        body = b'{"ok": true}'
        self.send_response(200 if self.path in ("/ok", "/close") else 404)
        self.send_header("Content-Length", str(len(body)))
        if self.path == "/close":
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        """Keep test output quiet."""


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize("path", ["/ok", "/close", "/chunked"])
def test_counts_responses_and_bounds_requests(server: str, path: str) -> None:
    target = loadgen.Target(name=path, path=path)
    result = loadgen.run(server, target, connections=4, duration_s=5.0, warmup_s=0.0, max_requests=60)
    assert 60 <= result.requests < 60 + 4  # bounded by max_requests (in-flight ones may finish)
    assert result.statuses == {200: result.requests}
    assert result.errors == 0
    assert result.non_2xx == 0
    assert result.body_bytes == result.requests * (5 if path == "/chunked" else 12)
    assert (result.reconnects >= result.requests) == (path == "/close")
    assert 0 < result.pct(50) <= result.pct(99)


def test_non_2xx_counted(server: str) -> None:
    result = loadgen.run(
        server,
        loadgen.Target("missing", "/missing"),
        connections=2,
        duration_s=5,
        warmup_s=0,
        max_requests=10,
    )
    assert result.non_2xx == result.requests >= 10


def test_refused_connections_are_errors_not_responses() -> None:
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = loadgen.run(f"http://127.0.0.1:{port}/", connections=2, duration_s=0.3, warmup_s=0.0)
    assert result.requests == 0
    assert result.errors > 0


def test_only_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        loadgen.run("http://example.com/", connections=1, duration_s=0.1)


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([], 50, 0.0),
        ([5.0], 99, 5.0),
        ([float(i) for i in range(1, 101)], 50, 50.0),
        ([1.0, 2.0, 3.0, 4.0], 95, 4.0),
    ],
)
def test_percentile_nearest_rank(values: list[float], p: float, expected: float) -> None:
    assert loadgen.percentile(values, p) == expected
