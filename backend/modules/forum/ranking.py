"""Hot ranking for forum posts: engagement points decayed by age (see docs/forum.md).

score = points / (age_hours + AGE_OFFSET_HOURS) ** GRAVITY, where
points = 1 + LIKE_WEIGHT*likes + COMMENT_WEIGHT*comments + TIP_WEIGHT*log10(1 + tips_total).

Pure: no Flask, no SQL. Times are Unix milliseconds; ``tips_total`` is the sum of tip amounts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

LIKE_WEIGHT = 1.0
COMMENT_WEIGHT = 2.0  # a comment costs more effort than a like
TIP_WEIGHT = 3.0  # per decade of money: a tip of 9 is worth 3 points, 99 is 6, 999 is 9
AGE_OFFSET_HOURS = 2.0  # keeps brand-new posts from dividing by ~0
GRAVITY = 1.5
HOUR_MS = 3_600_000


@dataclass(frozen=True)
class HotCandidate:
    """One post's counters as the ranking needs them."""

    post_id: str
    likes: int
    comments: int
    tips_total: Decimal
    created_at: int  # Unix ms


def engagement_points(*, likes: int, comments: int, tips_total: Decimal | float) -> float:
    """Return the undecayed points of a post (1 for the post itself plus weighted engagement)."""
    tips = max(float(tips_total), 0.0)
    return (
        1.0
        + LIKE_WEIGHT * max(likes, 0)
        + COMMENT_WEIGHT * max(comments, 0)
        + TIP_WEIGHT * math.log10(1.0 + tips)
    )


def hot_score(*, likes: int, comments: int, tips_total: Decimal | float, created_at: int, now: int) -> float:
    """Return the hot score of a post created at ``created_at`` seen at ``now`` (both Unix ms)."""
    age_hours = max(now - created_at, 0) / HOUR_MS
    points = engagement_points(likes=likes, comments=comments, tips_total=tips_total)
    return points / (age_hours + AGE_OFFSET_HOURS) ** GRAVITY


def rank_hot(candidates: list[HotCandidate], *, now: int, limit: int) -> list[str]:
    """Return the ids of the ``limit`` hottest candidates, best first (ties: newer, then id)."""

    def key(c: HotCandidate) -> tuple[float, int, str]:
        score = hot_score(
            likes=c.likes, comments=c.comments, tips_total=c.tips_total, created_at=c.created_at, now=now
        )
        return (-score, -c.created_at, c.post_id)

    return [c.post_id for c in sorted(candidates, key=key)[: max(limit, 0)]]
