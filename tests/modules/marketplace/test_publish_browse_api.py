"""Marketplace: publishing needs a server-verified backtest; browse filters, sorts and pages; detail."""

from __future__ import annotations

import json

import pytest

from tests.fixtures.backtests import RANGE_END_MS, RANGE_START_MS
from tests.helpers.api import error, fields, ok

URL = "/api/marketplace/strategies"
UNKNOWN = "00000000-0000-4000-8000-000000000000"


def _ids(resp) -> list[str]:
    return [item["id"] for item in ok(resp)]


def test_publishing_lists_the_strategy_with_the_kpis_of_its_verified_backtest(client, user, publish):
    listing = publish(user, name="Trend", listing={"description": "SMA trend", "tags": ["trend"]})
    latest = ok(client.get(f"/api/strategies/{listing['id']}", headers=user.headers))
    assert listing["backtestId"] == latest["latestBacktestId"]
    assert listing["versionId"] == latest["versionId"]
    assert listing["kpis"]["totalReturn"] == latest["metrics"]["totalReturn"]
    assert listing["kpis"]["sharpeRatio"] == latest["metrics"]["sharpeRatio"]
    assert (listing["description"], listing["tags"], latest["published"]) == ("SMA trend", ["trend"], True)
    assert listing["author"]["id"] == user.id and listing["author"]["avatar"]
    assert 2 <= len(listing["equity"]) <= 500
    assert listing["guardrails"] is not None  # [5/7]: stored with every result
    assert (listing["copies"], listing["followers"], listing["following"], listing["copied"]) == (
        0,
        0,
        False,
        False,
    )
    assert _ids(client.get(URL, headers=user.headers)) == [listing["id"]]


def test_publishing_without_a_completed_backtest_is_refused(client, user, make_strategy):
    sid = make_strategy(user)["id"]
    resp = client.post(URL, json={"strategyId": sid}, headers=user.headers)
    assert "strategyId" in fields(resp, "marketplace.not_publishable")
    assert ok(client.get(URL, headers=user.headers)) == []


def test_publishing_after_a_new_version_needs_a_backtest_of_that_version(client, user, verified_strategy):
    sid = verified_strategy(user)["id"]
    ok(client.patch(f"/api/strategies/{sid}", json={"params": {"fast": 7}}, headers=user.headers))
    resp = client.post(URL, json={"strategyId": sid}, headers=user.headers)
    assert "older version" in error(resp, 422, code="marketplace.not_publishable")["message"]


def test_sealing_a_strategy_without_code_is_refused(client, user, verified_strategy):
    sid = verified_strategy(user)["id"]
    resp = client.post(URL, json={"strategyId": sid, "sealed": True}, headers=user.headers)
    assert "sealed" in fields(resp, "marketplace.not_publishable")


def test_publishing_someone_elses_or_an_unknown_strategy_is_404(client, user, other_user, verified_strategy):
    sid = verified_strategy(other_user)["id"]
    for target in (sid, UNKNOWN):
        error(client.post(URL, json={"strategyId": target}, headers=user.headers), 404)


def test_publish_needs_a_token_and_a_valid_body(client, user):
    error(client.post(URL, json={"strategyId": UNKNOWN}), 401)
    error(client.get(URL), 401)
    error(client.get(f"{URL}/{UNKNOWN}"), 401)
    assert "strategyId" in fields(client.post(URL, json={}, headers=user.headers))
    assert "sealed" in fields(
        client.post(URL, json={"strategyId": UNKNOWN, "sealed": "x"}, headers=user.headers)
    )


def test_unpublishing_removes_the_listing_for_everyone(client, user, other_user, publish):
    sid = publish(user)["id"]
    ok(client.delete(f"{URL}/{sid}", headers=user.headers))
    assert ok(client.get(URL, headers=user.headers)) == []
    error(client.get(f"{URL}/{sid}", headers=other_user.headers), 404, code="marketplace.not_found")
    assert ok(client.get(f"/api/strategies/{sid}", headers=user.headers))["published"] is False
    error(client.delete(f"{URL}/{sid}", headers=user.headers), 404)


def test_unpublishing_through_the_strategies_api_also_unlists(client, user, publish):
    sid = publish(user)["id"]
    ok(client.patch(f"/api/strategies/{sid}", json={"published": False}, headers=user.headers))
    assert ok(client.get(URL, headers=user.headers)) == []
    ok(client.patch(f"/api/strategies/{sid}", json={"published": True}, headers=user.headers))
    assert (
        ok(client.get(URL, headers=user.headers)) == []
    )  # back in the marketplace only by publishing it there again


def test_deleting_a_published_strategy_unlists_it(client, user, publish):
    sid = publish(user)["id"]
    ok(client.delete(f"/api/strategies/{sid}", headers=user.headers))
    error(client.get(f"{URL}/{sid}", headers=user.headers), 404)


def test_a_renamed_strategy_shows_its_new_name_in_the_marketplace(client, user, publish):
    sid = publish(user, name="Old")["id"]
    ok(client.patch(f"/api/strategies/{sid}", json={"name": "New", "tags": ["x"]}, headers=user.headers))
    assert [(i["name"], i["tags"]) for i in ok(client.get(URL, headers=user.headers))] == [("New", ["x"])]


def test_unpublishing_someone_elses_listing_is_404_and_needs_a_token(client, user, other_user, publish):
    sid = publish(other_user)["id"]
    error(client.delete(f"{URL}/{sid}", headers=user.headers), 404)
    error(client.delete(f"{URL}/{sid}"), 401)
    assert _ids(client.get(URL, headers=user.headers)) == [sid]


def test_detail_of_unknown_or_unpublished_strategies_is_404(client, user, other_user, make_strategy):
    private = make_strategy(other_user)["id"]
    published_not_listed = make_strategy(other_user, published=True)["id"]
    own_private = make_strategy(user)["id"]
    for sid in (UNKNOWN, private, published_not_listed, own_private, "not-an-id"):
        error(client.get(f"{URL}/{sid}", headers=user.headers), 404)


# --- browse ----------------------------------------------------------------------------------------


@pytest.fixture
def three(publish, make_user):
    """Three listings by three users: BTC sma 5/20, BTC rsi, ETH sma 10/30 with tags."""
    a, b, c = make_user(), make_user(), make_user()
    fast = publish(a, name="Fast BTC", params={"fast": 5, "slow": 20}, listing={"tags": ["trend", "btc"]})
    rsi = publish(b, name="RSI BTC", kind="rsi", listing={"description": "mean reversion", "tags": ["btc"]})
    eth = publish(
        c, name="Slow ETH", symbol="ETHUSDT", params={"fast": 10, "slow": 30}, listing={"tags": ["trend"]}
    )
    return {"fast": fast, "rsi": rsi, "eth": eth}


def _sorted_ids(items: list[dict], key: str, nulls_last=True) -> list[str]:
    present = [i for i in items if i["kpis"].get(key) is not None]
    missing = sorted(i["id"] for i in items if i["kpis"].get(key) is None)
    ranked = sorted(present, key=lambda i: (-i["kpis"][key], i["id"]))
    return [i["id"] for i in ranked] + missing


@pytest.mark.parametrize(
    ("sort", "key"),
    [
        ("sharpe", "sharpeRatio"),
        ("return", "totalReturn"),
        ("drawdown", "maxDrawdown"),
        ("trades", "totalTrades"),
    ],
)
def test_browse_sorts_by_the_verified_kpis_highest_first_then_id(client, user, three, sort, key):
    items = list(three.values())
    assert _ids(client.get(URL, headers=user.headers, query_string={"sort": sort})) == _sorted_ids(items, key)


def test_browse_sorts_by_followers_and_copies(client, user, three, make_user):
    everyone = sorted(item["id"] for item in three.values())
    # a tie (no followers, no copies yet) is broken by id ascending, on every page
    assert _ids(client.get(URL, headers=user.headers, query_string={"sort": "followers"})) == everyone
    pages = [
        _ids(
            client.get(URL, headers=user.headers, query_string={"sort": "copies", "page": p, "page_size": 2})
        )
        for p in (1, 2)
    ]
    assert pages == [everyone[:2], everyone[2:]]
    fan = make_user()
    ok(client.post(f"{URL}/{three['eth']['id']}/follow", headers=fan.headers))
    ok(client.post(f"{URL}/{three['rsi']['id']}/copy", headers=fan.headers), 201)
    assert (
        _ids(client.get(URL, headers=user.headers, query_string={"sort": "followers"}))[0]
        == three["eth"]["id"]
    )
    assert (
        _ids(client.get(URL, headers=user.headers, query_string={"sort": "copies"}))[0] == three["rsi"]["id"]
    )
    assert (
        _ids(client.get(URL, headers=user.headers, query_string={"sort": "newest"}))[0] == three["eth"]["id"]
    )


def test_browse_filters_by_symbol_kind_interval_tags_and_text(client, user, three):
    def ids(**query):
        return set(_ids(client.get(URL, headers=user.headers, query_string=query)))

    assert ids(symbol="ethusdt") == {three["eth"]["id"]}
    assert ids(kind="rsi") == {three["rsi"]["id"]}
    assert ids(interval="1h") == {three[k]["id"] for k in three}
    assert ids(interval="4h") == set()
    assert ids(tags=["trend"]) == {three["fast"]["id"], three["eth"]["id"]}
    assert ids(tags=["trend", "btc"]) == {three["fast"]["id"]}
    assert ids(q="reversion") == {three["rsi"]["id"]}
    assert ids(q="slow") == {three["eth"]["id"]}
    assert ids(q="100%") == set()  # LIKE wildcards are literal


def test_browse_pages_with_the_x_pagination_header(client, user, three):
    resp = client.get(URL, headers=user.headers, query_string={"page": 2, "page_size": 2})
    assert len(ok(resp)) == 1
    assert json.loads(resp.headers["X-Pagination"])["total"] == 3


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"sort": "likes"}, "sort"),
        ({"interval": "7m"}, "interval"),
        ({"q": ""}, "q"),
        ({"symbol": "BAD SYM"}, "symbol"),
    ],
)
def test_bad_filters_and_sorts_are_422_naming_the_field(client, user, query, field):
    assert field in fields(client.get(URL, headers=user.headers, query_string=query))


def test_a_backtest_range_param_cannot_be_smuggled_into_rankings(client, user, verified_strategy):
    sid = verified_strategy(user)["id"]
    resp = client.post(URL, json={"strategyId": sid, "kpis": {"sharpeRatio": 99}}, headers=user.headers)
    assert "kpis" in fields(resp)


def test_the_detail_shows_the_range_of_the_verified_backtest(client, user, publish):
    listing = publish(user)
    assert (listing["kpis"]["start"], listing["kpis"]["end"]) == (RANGE_START_MS, RANGE_END_MS)
