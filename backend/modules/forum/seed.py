"""Demo forum content for `flask seed`: a few posts with comments and likes (idempotent)."""

from __future__ import annotations

import secrets

from sqlalchemy import select, update

from backend.core.db import now_ms
from backend.extensions import db
from backend.modules.backtests import service as backtests_service
from backend.modules.forum import service, social
from backend.modules.forum.models import Post
from backend.modules.users import service as users_service

HOUR_MS = 3_600_000
DEMO_USERS = ("demo_li", "demo_wang", "demo_chen")
# (title, tags, content, hours ago, likers by index into [admin, *DEMO_USERS], comments)
DEMO_POSTS = (
    (
        "Moving-average crossover on BTC: what worked for me",
        ["btc", "sma", "trend"],
        "Fast 10 / slow 30 on 1h bars, fees 10 bps. Drawdowns cluster in sideways weeks.",
        3,
        (1, 2, 3),
        ((1, "Did you try a volatility filter?"), (0, "Yes: ATR above its median.")),
    ),
    (
        "RSI mean reversion needs a regime filter",
        ["rsi", "mean-reversion"],
        "Buying RSI < 30 in a downtrend is catching knives. Gate it with the 200-bar SMA.",
        9,
        (0, 2),
        ((3, "Same experience on ETH."),),
    ),
    (
        "How I size positions for paper bots",
        ["risk", "bots"],
        "Fixed fractional 1 % risk per trade, stop at 2 ATR. Boring, survives.",
        30,
        (0, 1, 2, 3),
        ((2, "Simple and robust."), (1, "What about correlated symbols?")),
    ),
    (
        "Workflow tip: notify before you act",
        ["workflows"],
        "Put a notify node before every buy/sell action while testing a new graph.",
        1,
        (),
        (),
    ),
)


def _demo_user_ids() -> list[str]:
    ids = []
    for username in DEMO_USERS:
        # Unknown random password: these accounts exist to author demo content, not to log in.
        user = users_service.ensure_user(username=username, password=secrets.token_urlsafe(24))
        ids.append(user.id)
    return ids


def seed_demo(*, admin_id: str) -> None:
    """Create the demo posts with comments and likes unless they already exist."""
    first_title = DEMO_POSTS[0][0]
    if db.session.scalar(select(Post.id).where(Post.title == first_title).limit(1)):
        return
    people = [admin_id, *_demo_user_ids()]
    now = now_ms()
    for index, (title, tags, content, hours_ago, likers, comments) in enumerate(DEMO_POSTS):
        author = people[index % len(people)]
        attachment = _admin_backtest(admin_id) if author == admin_id else None
        post = service.create_post(
            actor_id=author, title=title, content=content, tags=tags, attachment=attachment
        )
        for who, text in comments:
            service.add_comment(actor_id=people[who], post_id=post.id, content=text)
        for who in likers:
            social.like_post(actor_id=people[who], post_id=post.id)
        _backdate(post.id, now - hours_ago * HOUR_MS)


def _admin_backtest(admin_id: str) -> dict[str, str] | None:
    """Return an attachment of the admin's latest completed backtest, if the backtests seed made one."""
    row = backtests_service.latest_completed(actor_id=admin_id)
    if row is None or row.owner_id != admin_id:
        return None
    return {"kind": "backtest", "id": row.id}


def _backdate(post_id: str, created_at: int) -> None:
    db.session.execute(
        update(Post).where(Post.id == post_id).values(created_at=created_at, updated_at=created_at)
    )
    db.session.commit()
