"""The envelope helpers accept the real envelopes and fail, showing the body, on anything else."""

from __future__ import annotations

import pytest

from tests.helpers.api import error, fields, ok


def test_ok_returns_data_and_rejects_an_error_envelope(client, auth_headers):
    assert ok(client.get("/api/users/me", headers=auth_headers))["username"]
    with pytest.raises(AssertionError, match=r"expected 200: GET /api/users/me -> 401\n(?s:.*)token_missing"):
        ok(client.get("/api/users/me"))


def test_ok_checks_the_status(client):
    with pytest.raises(AssertionError, match="expected 201"):
        ok(client.get("/api/health"), 201)


def test_error_checks_status_reason_and_code(client, auth_headers):
    resp = client.get("/api/strategies/00000000-0000-4000-8000-000000000000", headers=auth_headers)
    body = error(resp, 404, "not_found", "strategies.not_found")
    assert body["code"] == 40400
    with pytest.raises(AssertionError, match="expected reason 'forbidden'"):
        error(resp, 404, "forbidden")
    with pytest.raises(AssertionError, match="expected details.error 'x.y'"):
        error(resp, 404, code="x.y")
    with pytest.raises(AssertionError, match="expected 403"):
        error(resp, 403)


def test_error_rejects_a_success_envelope(client):
    with pytest.raises(AssertionError, match="expected 200|not an error envelope"):
        error(client.get("/api/health"), 200)


def test_fields_returns_the_field_messages(client):
    assert "password" in fields(client.post("/api/auth/register", json={"username": "x"}))
    with pytest.raises(AssertionError, match="expected 422"):
        fields(client.get("/api/users/me"))
