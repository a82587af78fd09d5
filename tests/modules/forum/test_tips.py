"""Tips: Decimal amounts, strict validation, maximum, own post, totals."""

from __future__ import annotations

import uuid

import pytest

from tests.helpers.api import error, fields, ok


def test_tips_are_recorded_and_summed_exactly(client, user, other_user, make_post):
    post = make_post(user)
    url = f"/api/forum/posts/{post['id']}/tips"
    resp = client.post(url, json={"amount": 0.1}, headers=other_user.headers)
    tip = ok(resp, 201)
    assert (tip["amount"], tip["currency"], tip["postId"]) == (0.1, "USD", post["id"])
    assert (tip["tipperId"], tip["recipientId"]) == (other_user.id, user.id)
    ok(client.post(url, json={"amount": 0.2, "currency": "USD"}, headers=other_user.headers), 201)
    detail = ok(client.get(f"/api/forum/posts/{post['id']}", headers=user.headers))
    # Decimal arithmetic: 0.1 + 0.2 is exactly 0.3, never 0.30000000000000004.
    assert detail["tipsTotal"] == 0.3


@pytest.mark.parametrize(
    "raw",
    [
        b'{"amount": NaN}',
        b'{"amount": Infinity}',
        b'{"amount": -Infinity}',
        b'{"amount": 1e309}',
        b'{"amount": "5"}',
        b'{"amount": "NaN"}',
        b'{"amount": true}',
        b'{"amount": false}',
        b'{"amount": null}',
        b'{"amount": 0}',
        b'{"amount": -1}',
        b'{"amount": 0.000000001}',
        b'{"amount": []}',
        b"{}",
        b'{"amount": 5, "currency": "usd"}',
        b'{"amount": 5, "currency": "EUR"}',
        b'{"amount": 5, "to": "x"}',
    ],
)
def test_invalid_tips_are_rejected(client, user, other_user, make_post, raw):
    post = make_post(user)
    resp = client.post(
        f"/api/forum/posts/{post['id']}/tips",
        data=raw,
        content_type="application/json",
        headers=other_user.headers,
    )
    # Beyond a double and the non-JSON literals are refused by the input guard before the view.
    guard = {b'{"amount": 1e309}': "number_too_large"}.get(raw) or (
        "number_not_finite" if b"Infinity" in raw or raw == b'{"amount": NaN}' else "validation_error"
    )
    error(resp, 422, guard)
    detail = ok(client.get(f"/api/forum/posts/{post['id']}", headers=user.headers))
    assert detail["tipsTotal"] == 0


def test_maximum_is_configured_and_inclusive(app, client, user, other_user, make_post, monkeypatch):
    monkeypatch.setitem(app.config, "FORUM_TIP_MAX", "50")
    post = make_post(user)
    url = f"/api/forum/posts/{post['id']}/tips"
    ok(client.post(url, json={"amount": 50}, headers=other_user.headers), 201)
    assert "amount" in fields(
        client.post(url, json={"amount": 50.00000001}, headers=other_user.headers), "forum.invalid_tip"
    )


def test_cannot_tip_own_post_or_unknown_post_or_anonymously(client, user, make_post):
    post = make_post(user)
    body = error(
        client.post(f"/api/forum/posts/{post['id']}/tips", json={"amount": 1}, headers=user.headers),
        422,
        "validation_error",
    )
    assert body["details"]["error"] == "forum.invalid_tip"
    error(
        client.post(f"/api/forum/posts/{uuid.uuid4()}/tips", json={"amount": 1}, headers=user.headers),
        404,
        "not_found",
    )
    error(client.post(f"/api/forum/posts/{post['id']}/tips", json={"amount": 1}), 401, "token_missing")
