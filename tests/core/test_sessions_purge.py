"""The hourly purge of expired login sessions: old rows go, recent and live ones stay, tokens stay refused."""

from __future__ import annotations

from sqlalchemy import select, update

from backend.celery_app import BEAT_SCHEDULE
from backend.core import sessions
from backend.core.db import now_ms
from backend.core.sessions import TokenFamily
from backend.core.tasks import _purge
from backend.extensions import db
from tests.helpers.api import error, ok

DAY_MS = 86_400_000


def _login(client, user) -> dict:
    return ok(client.post("/api/auth/login", json={"username": user.username, "password": user.password}))


def _family_ids(user_id: str) -> set[str]:
    return set(db.session.scalars(select(TokenFamily.id).where(TokenFamily.user_id == user_id)))


def test_expired_sessions_older_than_the_keep_window_are_deleted_and_stay_refused(app, client, user):
    old, recent, live = (_login(client, user) for _ in range(3))
    fams = _family_ids(user.id)
    by_token = {}
    for tokens in (old, recent, live):
        claims = app.extensions["flask-jwt-extended"]._decode_jwt_from_config(tokens["refresh_token"])
        by_token[claims["fam"]] = tokens
    assert set(by_token) <= fams
    old_fam, recent_fam, live_fam = list(by_token)
    now = now_ms()
    keep_days = app.config["SESSIONS_KEEP_EXPIRED_DAYS"]
    for fam, expired_at in ((old_fam, now - (keep_days + 1) * DAY_MS), (recent_fam, now - DAY_MS)):
        db.session.execute(update(TokenFamily).where(TokenFamily.id == fam).values(expires_at=expired_at))
    db.session.commit()

    assert _purge() == 1
    left = _family_ids(user.id)
    assert old_fam not in left and {recent_fam, live_fam} <= left
    assert _purge() == 0  # nothing more to do
    # the purged session's refresh token is refused as an expired one was; the live one works
    error(client.post("/api/auth/refresh", headers={"Authorization": f"Bearer {old['refresh_token']}"}), 401)
    ok(client.post("/api/auth/refresh", headers={"Authorization": f"Bearer {live['refresh_token']}"}))


def test_the_purge_is_batched_and_scheduled(app, client, user):
    for _ in range(3):
        _login(client, user)
    db.session.execute(update(TokenFamily).where(TokenFamily.user_id == user.id).values(expires_at=1))
    db.session.commit()
    assert sessions.purge_expired(keep_s=0, batch=2) == 2
    assert sessions.purge_expired(keep_s=0, batch=2) >= 1
    assert not _family_ids(user.id)
    assert BEAT_SCHEDULE["core.purge_expired_sessions"]["task"] == "core.purge_expired_sessions"
    assert "core.purge_expired_sessions" in app.extensions["celery"].tasks
