"""Account deletion and the marketplace: the user's follows, copies and reports leave, counters stay exact."""

from __future__ import annotations

from sqlalchemy import text

from backend.extensions import db
from tests.helpers.api import error, ok
from tests.modules.users.test_account import delete_me, memories_off  # noqa: F401 - fixture

URL = "/api/marketplace/strategies"


def test_deleting_an_account_lowers_the_counters_it_fed_and_removes_its_listings(
    client,
    user,
    other_user,
    make_user,
    publish,
    memories_off,  # noqa: F811
):
    theirs = publish(other_user)["id"]
    mine = publish(user)["id"]
    ok(client.post(f"{URL}/{theirs}/follow", headers=user.headers))
    ok(client.post(f"{URL}/{theirs}/copy", headers=user.headers), 201)
    ok(client.post(f"{URL}/{theirs}/report", json={"reason": "spam"}, headers=user.headers), 201)
    bystander = make_user()
    ok(client.post(f"{URL}/{theirs}/follow", headers=bystander.headers))
    ok(client.post(f"{URL}/{mine}/follow", headers=other_user.headers))
    before = ok(client.get(f"{URL}/{theirs}", headers=other_user.headers))
    assert (before["followers"], before["copies"]) == (2, 1)

    ok(delete_me(client, user))

    after = ok(client.get(f"{URL}/{theirs}", headers=other_user.headers))
    assert (after["followers"], after["copies"]) == (1, 0)  # the bystander's follow stays
    # the author's notifications of the deleted user's follow and copy went with them; the
    # bystander's follow is still told
    told = ok(client.get("/api/notifications", headers=other_user.headers))
    told = [(n["type"], bystander.username in n["title"]) for n in told if n["type"].startswith("market")]
    assert told == [("marketplace.follow", True)]
    error(client.get(f"{URL}/{mine}", headers=other_user.headers), 404)  # left with its strategy
    for table, column in (
        ("marketplace_follows", "user_id"),
        ("marketplace_copies", "user_id"),
        ("marketplace_reports", "reporter_id"),
        ("marketplace_listings", "owner_id"),
    ):
        count = db.session.execute(text(f"SELECT count(*) FROM {table} WHERE {column} = :u"), {"u": user.id})
        assert count.scalar() == 0, table
