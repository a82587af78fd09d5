"""Every /api/admin operation in the OpenAPI document: anonymous 401, non-admin 403, before parsing."""

from __future__ import annotations

import re

import pytest

from tests.helpers.api import error, ok

PLACEHOLDER = "00000000-0000-4000-8000-000000000000"


def _admin_operations(spec: dict) -> list[tuple[str, str]]:
    ops = []
    for path, methods in spec["paths"].items():
        if not path.startswith("/api/admin"):
            continue
        for method in methods:
            if method in {"get", "post", "put", "patch", "delete"}:
                ops.append((method.upper(), re.sub(r"\{[^}]+\}", PLACEHOLDER, path)))
    return ops


@pytest.fixture
def admin_operations(client):
    ops = _admin_operations(client.get("/api/openapi.json").get_json())
    assert len(ops) >= 14  # users, moderation, operations and the audit log, not a handful
    return ops


def test_every_admin_operation_is_401_without_a_token(client, admin_operations):
    for method, path in admin_operations:
        error(client.open(path, method=method, json={}), 401, "token_missing")


def test_every_admin_operation_is_403_for_a_user_without_the_role(client, user, admin_operations):
    for method, path in admin_operations:
        # An invalid body and a bogus query must not matter: the role is checked first.
        resp = client.open(
            path + "?page=0&status=nope", method=method, json={"bogus": 1}, headers=user.headers
        )
        body = error(resp, 403, "forbidden")
        assert body["details"]["error"] == "admin.not_admin"


def test_every_admin_operation_documents_the_403(client):
    spec = client.get("/api/openapi.json").get_json()
    for path, methods in spec["paths"].items():
        if path.startswith("/api/admin"):
            for method, op in methods.items():
                if method in {"get", "post", "put", "patch", "delete"}:
                    assert "403" in op["responses"], (method, path)


def test_an_invalid_token_is_401_not_403(client):
    resp = client.get("/api/admin/users", headers={"Authorization": "Bearer not-a-token"})
    error(resp, 401, "token_invalid")


def test_an_admin_gets_through(client, admin):
    assert isinstance(ok(client.get("/api/admin/users", headers=admin.headers)), list)


def test_an_admin_whose_role_was_taken_is_403_at_once(client, admin, make_admin):
    other = make_admin()
    ok(client.put(f"/api/admin/users/{admin.id}/role", json={"role": "user"}, headers=other.headers))
    error(client.get("/api/admin/users", headers=admin.headers), 403, "forbidden")
