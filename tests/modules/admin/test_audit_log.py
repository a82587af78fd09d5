"""The audit log: one row per action in the action's transaction, newest first, filtered and paginated."""

from __future__ import annotations

import json

import pytest

from backend.modules.admin import service
from tests.helpers.api import error, ok


def test_the_log_is_newest_first_and_filters_combine(client, make_admin, user, other_user):
    first, second = make_admin(), make_admin()
    ok(client.post(f"/api/admin/users/{user.id}/disable", json={}, headers=first.headers))
    ok(client.post(f"/api/admin/users/{other_user.id}/disable", json={}, headers=second.headers))
    ok(client.post(f"/api/admin/users/{user.id}/enable", headers=second.headers))
    log = ok(client.get("/api/admin/audit-log", headers=first.headers))
    assert [(e["action"], e["targetId"]) for e in log] == [
        ("user.enable", user.id),
        ("user.disable", other_user.id),
        ("user.disable", user.id),
    ]
    assert all(isinstance(e["at"], int) and e["at"] > 10**12 for e in log)
    mine = ok(
        client.get(f"/api/admin/audit-log?actor={second.id}&action=user.disable", headers=first.headers)
    )
    assert [e["targetId"] for e in mine] == [other_user.id]
    oldest = log[-1]["at"]
    assert ok(client.get(f"/api/admin/audit-log?until={oldest}", headers=first.headers)) == []
    assert len(ok(client.get(f"/api/admin/audit-log?since={oldest}", headers=first.headers))) == 3
    resp = client.get("/api/admin/audit-log?page=2&page_size=2", headers=first.headers)
    assert [e["action"] for e in ok(resp)] == ["user.disable"]
    assert json.loads(resp.headers["X-Pagination"])["total"] == 3


def test_bad_filters_are_422_with_field_names(client, admin):
    for query, field in (("since=-1", "since"), ("until=abc", "until"), ("actor=x!y", "actor")):
        body = error(
            client.get(f"/api/admin/audit-log?{query}", headers=admin.headers), 422, "validation_error"
        )
        assert field in body["details"]["fields"]


def test_an_action_that_fails_after_its_audit_row_leaves_neither(app, client, admin, user, monkeypatch):
    def explode(*_args, **_kwargs):
        raise RuntimeError("boom after the change")

    # The audit row is added after the change; failing there must roll the change back too.
    monkeypatch.setattr(service, "audit", explode)
    with app.app_context(), pytest.raises(RuntimeError):
        service.set_user_disabled(actor_id=admin.id, user_id=user.id, disabled=True)
    monkeypatch.undo()
    assert client.get("/api/users/me", headers=user.headers).status_code == 200  # sessions not revoked
    assert ok(client.get("/api/admin/audit-log", headers=admin.headers)) == []
    assert ok(client.get("/api/admin/users?disabled=true", headers=admin.headers)) == []


def test_admin_lists_cost_the_same_statements_for_one_row_or_many(app, client, admin, make_user, make_post):
    from tests.core.test_showcase import sql_statements

    def selects(path: str) -> int:
        with sql_statements(app) as seen:
            ok(client.get(path, headers=admin.headers))
        return len([s for s in seen if s.lstrip().upper().startswith("SELECT")])

    paths = ("/api/admin/users", "/api/admin/forum/posts", "/api/admin/audit-log", "/api/admin/jobs")
    target = make_user()
    make_post(target)
    ok(client.post(f"/api/admin/users/{target.id}/disable", headers=admin.headers))
    before = [selects(p) for p in paths]
    for _ in range(3):
        extra = make_user()
        make_post(extra)
        ok(client.post(f"/api/admin/users/{extra.id}/disable", headers=admin.headers))
    assert [selects(p) for p in paths] == before
