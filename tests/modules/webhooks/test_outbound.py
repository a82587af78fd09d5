"""SSRF rules: which addresses and URLs a webhook may target (no app, no network)."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from backend.modules.webhooks import outbound


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped IPv6 is judged as the IPv4 address
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("::ffff:10.0.0.1", "private"),
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
        ("fc00::1", "private"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-public"),  # carrier-grade NAT
    ],
)
def test_non_public_addresses_are_refused_with_their_kind(address, reason):
    assert outbound.forbidden_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address):
    assert outbound.forbidden_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://93.184.216.34/x", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("http://" + "a" * 2050, "longer than 2048"),
        ("http://user:pw@93.184.216.34/", "credentials"),
        ("http:///path", "no host"),
        ("http://93.184.216.34:99999/", "invalid port"),
        ("http://127.0.0.1:8000/", "is a loopback address"),
        ("http://[::ffff:169.254.169.254]/", "link-local"),
    ],
)
def test_urls_breaking_a_rule_are_refused_naming_it(url, why):
    with pytest.raises(outbound.Refused, match=why):
        outbound.check_url(url, allow_private=False)


def _resolving(monkeypatch, answers: dict[str, list[str]]) -> None:
    def fake(host, port, *args, **kwargs):
        if host not in answers:
            raise socket.gaierror("unknown")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in answers[host]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake)


def test_a_name_is_refused_if_any_of_its_addresses_is_forbidden(monkeypatch):
    _resolving(monkeypatch, {"mixed.test": ["93.184.216.34", "10.0.0.5"], "nowhere.test": []})
    with pytest.raises(
        outbound.Refused, match=r"mixed.test resolves to 10.0.0.5, which is a private address"
    ):
        outbound.check_url("https://mixed.test/hook", allow_private=False)
    with pytest.raises(outbound.Refused, match="does not resolve"):
        outbound.check_url("https://unknown.test/hook", allow_private=False)


def test_a_public_name_gives_its_checked_addresses_and_the_dev_setting_allows_private_ones(monkeypatch):
    _resolving(monkeypatch, {"hooks.test": ["93.184.216.34"], "local.test": ["127.0.0.1"]})
    target = outbound.check_url("https://hooks.test/in?x=1", allow_private=False)
    assert (target.scheme, target.host, target.port, target.path, target.addresses) == (
        "https",
        "hooks.test",
        443,
        "/in?x=1",
        ("93.184.216.34",),
    )
    assert outbound.check_url("http://local.test:81", allow_private=True).addresses == ("127.0.0.1",)
    with pytest.raises(outbound.Refused, match="loopback"):
        outbound.check_url("http://local.test:81", allow_private=False)
