"""Outbound HTTP for webhooks: which targets are allowed (SSRF rules) and one bounded, signed POST.

Rules (docs/security.md#server-side-request-forgery): the URL is http or https, at most 2048
characters, has a host and no credentials; every address its host resolves to must be public.
Loopback, private (RFC 1918, fc00::/7), link-local (169.254/16 with cloud metadata, fe80::/10),
multicast, unspecified, reserved and other non-global ranges (100.64/10, 198.18/15, ...) are
refused, for IPv4 and IPv6 alike, with IPv4 addresses embedded in IPv6 (::ffff:a.b.c.d mapped,
64:ff9b::/96 NAT64) judged as the IPv4 address they carry. ``allow_private`` (the development
setting WEBHOOKS_ALLOW_PRIVATE) lifts the address rule, never the others.

The check runs when an endpoint is saved and again before every attempt, and the connection goes
to the address that was checked (the Host header and TLS server name stay the URL's host): a DNS
answer that changes between the check and the connection (DNS rebinding) cannot redirect a
delivery. Redirects are never followed (a 3xx is a failed attempt); connect and read time and the
response bytes read are bounded.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(Exception):
    """A URL or address the rules forbid; ``str()`` says why, for the 422 and the delivery log."""


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (``addresses``, all allowed) and what to ask for."""

    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


def forbidden_reason(address: IPAddress) -> str | None:
    """Return why ``address`` may not be a webhook target ("loopback", "private"...), or None."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or (
            ipaddress.IPv4Address(int(address) & 0xFFFFFFFF) if address in _NAT64 else None
        )
        if embedded is not None:
            return forbidden_reason(embedded)
    checks = (
        ("loopback", address.is_loopback),
        ("unspecified", address.is_unspecified),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("non-public", not address.is_global),
    )
    return next((name for name, hit in checks if hit), None)


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Refused(f"The host {host} does not resolve.") from exc
    found: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    if not found:
        raise Refused(f"The host {host} does not resolve.")
    return found


def check_url(url: str, *, allow_private: bool) -> Target:
    """Parse, resolve and check ``url``; raise Refused naming the broken rule."""
    if len(url) > MAX_URL_LENGTH:
        raise Refused(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise Refused("The URL must start with http:// or https://.")
    if parts.username is not None or parts.password is not None:
        raise Refused("The URL must not contain credentials.")
    host = parts.hostname
    if not host:
        raise Refused("The URL has no host.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise Refused("The URL has an invalid port.") from exc
    addresses = _resolve(host, port)
    if not allow_private:
        for address in addresses:
            reason = forbidden_reason(address)
            if reason:
                where = "is" if str(address) == host else f"resolves to {address}, which is"
                raise Refused(f"The host {host} {where} a {reason} address.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, host, port, path, tuple(str(a) for a in addresses))


@dataclass(frozen=True)
class Limits:
    """Bounds of one attempt."""

    connect_timeout_s: float
    read_timeout_s: float
    max_response_bytes: int


@dataclass(frozen=True)
class Response:
    """What the receiver answered (``body`` is at most ``max_response_bytes``)."""

    status: int
    body: bytes


def _connect(addresses: tuple[str, ...], port: int, timeout: float) -> socket.socket:
    error: OSError | None = None
    for address in addresses:  # every one of them was checked
        try:
            return socket.create_connection((address, port), timeout=timeout)
        except OSError as exc:
            error = exc
    raise error or OSError("no address to connect to")


class _PinnedHTTP(http.client.HTTPConnection):
    """An HTTP connection to a checked address, whatever the host name resolves to now."""

    def __init__(self, target: Target, limits: Limits) -> None:
        super().__init__(target.host, target.port, timeout=limits.connect_timeout_s)
        self._target, self._limits = target, limits

    def connect(self) -> None:
        self.sock = _connect(self._target.addresses, self._target.port, self._limits.connect_timeout_s)
        self.sock.settimeout(self._limits.read_timeout_s)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """An HTTPS connection to a checked address; the certificate is verified for the URL's host."""

    def __init__(self, target: Target, limits: Limits) -> None:
        super().__init__(
            target.host, target.port, timeout=limits.connect_timeout_s, context=ssl.create_default_context()
        )
        self._target, self._limits = target, limits

    def connect(self) -> None:
        sock = _connect(self._target.addresses, self._target.port, self._limits.connect_timeout_s)
        self.sock = self._context.wrap_socket(sock, server_hostname=self._target.host)  # type: ignore[attr-defined]  # http.client's own context
        self.sock.settimeout(self._limits.read_timeout_s)


def post(target: Target, body: bytes, headers: dict[str, str], limits: Limits) -> Response:
    """POST ``body`` to ``target`` once; raise OSError (or http.client's errors) on failure."""
    conn = (_PinnedHTTPS if target.scheme == "https" else _PinnedHTTP)(target, limits)
    deadline = time.monotonic() + limits.connect_timeout_s + limits.read_timeout_s
    try:
        conn.request("POST", target.path, body=body, headers=headers)
        resp = conn.getresponse()  # no redirect is ever followed: http.client does not
        chunks, size = [], 0
        while size < limits.max_response_bytes and time.monotonic() < deadline:
            chunk = resp.read1(min(8192, limits.max_response_bytes - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return Response(resp.status, b"".join(chunks))
    finally:
        conn.close()
