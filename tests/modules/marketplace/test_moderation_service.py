"""Moderation service functions the admin console calls: the report queue and hidden listings."""

from __future__ import annotations

import pytest

from backend.modules.marketplace import service
from backend.modules.marketplace.errors import ListingNotFound, ReportClosed, ReportNotFound
from tests.helpers.api import error, ok

URL = "/api/marketplace/strategies"
UNKNOWN = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def reported(client, user, other_user, make_user, publish):
    """A listing by ``other_user`` with two open reports (``user``'s first)."""
    sid = publish(other_user)["id"]
    ok(client.post(f"{URL}/{sid}/report", json={"reason": "spam"}, headers=user.headers), 201)
    ok(client.post(f"{URL}/{sid}/report", json={"reason": "other"}, headers=make_user().headers), 201)
    return sid


def test_reports_are_listed_oldest_first_and_filtered_by_status(app, reported, user):
    with app.app_context():
        page = service.list_reports(status="open", page=1, page_size=10)
        assert page.total == 2 and [r.reason for r in page.items] == ["spam", "other"]
        first = page.items[0]
        done = service.resolve_report(report_id=first.id, actor_id=user.id, resolution="hidden")
        assert (done.status, done.resolved_by, done.resolution) == ("resolved", user.id, "hidden")
        assert done.resolved_at is not None
        dismissed = service.dismiss_report(report_id=page.items[1].id, actor_id=user.id)
        assert dismissed.status == "dismissed"
        assert service.list_reports(status="open", page=1, page_size=10).total == 0
        assert [r.status for r in service.list_reports(status=None, page=1, page_size=10).items] == [
            "resolved",
            "dismissed",
        ]
        with pytest.raises(ReportClosed):
            service.dismiss_report(report_id=first.id, actor_id=user.id)
        with pytest.raises(ReportNotFound):
            service.resolve_report(report_id=UNKNOWN, actor_id=user.id, resolution="x")


def test_a_hidden_listing_vanishes_for_others_but_not_for_its_owner(app, client, reported, user, other_user):
    with app.app_context():
        view = service.set_listing_hidden(strategy_id=reported, hidden=True, actor_id=user.id)
        assert view.hidden is True
    assert ok(client.get(URL, headers=user.headers)) == []
    for path, method in (("", "get"), ("/copy", "post"), ("/follow", "post"), ("/trial", "post")):
        resp = getattr(client, method)(f"{URL}/{reported}{path}", json={}, headers=user.headers)
        error(resp, 404, code="marketplace.not_found")
    assert ok(client.get(f"{URL}/{reported}", headers=other_user.headers))["hidden"] is True
    # republishing does not undo a moderator's decision
    ok(client.post(URL, json={"strategyId": reported}, headers=other_user.headers), 201)
    assert ok(client.get(URL, headers=user.headers)) == []
    with app.app_context():
        service.set_listing_hidden(strategy_id=reported, hidden=False, actor_id=user.id)
    assert [i["id"] for i in ok(client.get(URL, headers=user.headers))] == [reported]


def test_hiding_a_strategy_never_published_here_is_not_found(app, user):
    with app.app_context(), pytest.raises(ListingNotFound):
        service.set_listing_hidden(strategy_id=UNKNOWN, hidden=True, actor_id=user.id)
