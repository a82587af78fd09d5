"""Moderation of the marketplace through the console: the abuse-report queue and hidden listings, audited."""

from __future__ import annotations

import pytest

from tests.helpers.api import error, ok

URL = "/api/marketplace/strategies"
MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def reported(client, user, other_user, make_user, publish):
    """A listing by ``other_user`` with two open reports (``user``'s first)."""
    sid = publish(other_user)["id"]
    ok(client.post(f"{URL}/{sid}/report", json={"reason": "spam"}, headers=user.headers), 201)
    ok(client.post(f"{URL}/{sid}/report", json={"reason": "other"}, headers=make_user().headers), 201)
    return sid


def _audit(client, admin, **filters):
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    return ok(client.get(f"/api/admin/audit-log?{query}", headers=admin.headers))


def test_the_report_queue_is_resolved_and_dismissed_with_audit_rows(client, admin, reported):
    queue = ok(client.get("/api/admin/marketplace/reports?status=open", headers=admin.headers))
    assert [r["reason"] for r in queue] == ["spam", "other"] and {r["strategyId"] for r in queue} == {
        reported
    }
    first, second = queue
    done = ok(
        client.post(
            f"/api/admin/marketplace/reports/{first['id']}/resolve",
            json={"resolution": "hidden"},
            headers=admin.headers,
        )
    )
    assert (done["status"], done["resolvedBy"], done["resolution"]) == ("resolved", admin.id, "hidden")
    assert (
        ok(client.post(f"/api/admin/marketplace/reports/{second['id']}/dismiss", headers=admin.headers))[
            "status"
        ]
        == "dismissed"
    )
    assert ok(client.get("/api/admin/marketplace/reports?status=open", headers=admin.headers)) == []
    entries = _audit(client, admin, target_type="report")
    assert [(e["action"], e["targetId"], e["details"]) for e in entries] == [
        ("marketplace.report.dismiss", second["id"], {}),
        ("marketplace.report.resolve", first["id"], {"resolution": "hidden"}),
    ]


def test_closing_a_closed_or_unknown_report_fails_and_leaves_no_audit_row(client, admin, reported):
    report = ok(client.get("/api/admin/marketplace/reports", headers=admin.headers))[0]
    ok(client.post(f"/api/admin/marketplace/reports/{report['id']}/dismiss", json={}, headers=admin.headers))
    error(client.post(f"/api/admin/marketplace/reports/{report['id']}/dismiss", headers=admin.headers), 409)
    resolve = {"resolution": "late"}
    error(
        client.post(
            f"/api/admin/marketplace/reports/{report['id']}/resolve", json=resolve, headers=admin.headers
        ),
        409,
    )
    error(
        client.post(f"/api/admin/marketplace/reports/{MISSING}/resolve", json=resolve, headers=admin.headers),
        404,
    )
    body = error(
        client.post(f"/api/admin/marketplace/reports/{report['id']}/resolve", json={}, headers=admin.headers),
        422,
    )
    assert "resolution" in body["details"]["fields"]
    body = error(client.get("/api/admin/marketplace/reports?status=closed", headers=admin.headers), 422)
    assert "status" in body["details"]["fields"]
    assert [e["action"] for e in _audit(client, admin)] == ["marketplace.report.dismiss"]


def test_a_hidden_published_strategy_leaves_the_marketplace_until_restored(
    client, admin, user, other_user, reported
):
    listing = ok(
        client.post(
            f"/api/admin/marketplace/strategies/{reported}/hide",
            json={"reason": "scam"},
            headers=admin.headers,
        )
    )
    assert listing["hidden"] is True and listing["id"] == reported
    assert ok(client.get(URL, headers=user.headers)) == []
    error(client.get(f"{URL}/{reported}", headers=user.headers), 404)
    assert (
        ok(client.get(f"{URL}/{reported}", headers=other_user.headers))["hidden"] is True
    )  # the owner sees it
    assert (
        ok(client.post(f"/api/admin/marketplace/strategies/{reported}/restore", headers=admin.headers))[
            "hidden"
        ]
        is False
    )
    assert [i["id"] for i in ok(client.get(URL, headers=user.headers))] == [reported]
    entries = _audit(client, admin, target_type="strategy")
    assert [(e["action"], e["details"]) for e in entries] == [
        ("marketplace.strategy.restore", {}),
        ("marketplace.strategy.hide", {"reason": "scam"}),
    ]
    error(client.post(f"/api/admin/marketplace/strategies/{MISSING}/hide", headers=admin.headers), 404)
    assert len(_audit(client, admin)) == 2
