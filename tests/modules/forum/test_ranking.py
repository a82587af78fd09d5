"""Hot ranking: hand-computed scores and orderings."""

from __future__ import annotations

from decimal import Decimal

import pytest

from backend.modules.forum.ranking import HotCandidate, engagement_points, hot_score, rank_hot

H = 3_600_000
NOW = 1_700_000_000_000


def test_fresh_post_without_engagement_scores_one_over_two_to_the_1_5() -> None:
    # points 1, age 0 h -> 1 / 2**1.5
    assert hot_score(likes=0, comments=0, tips_total=Decimal(0), created_at=NOW, now=NOW) == pytest.approx(
        0.3535533906
    )


def test_likes_comments_and_tips_weights() -> None:
    # 1 + 3 likes + 2*2 comments + 3*log10(1+99) = 1 + 3 + 4 + 6 = 14
    assert engagement_points(likes=3, comments=2, tips_total=Decimal("99")) == pytest.approx(14.0)


def test_age_decay_two_and_fourteen_hours() -> None:
    # 8 likes -> 9 points; age 2 h -> (2+2)**1.5 = 8 -> 1.125
    assert hot_score(likes=8, comments=0, tips_total=0, created_at=NOW - 2 * H, now=NOW) == pytest.approx(
        1.125
    )
    # age 14 h -> 16**1.5 = 64 -> 9/64
    assert hot_score(likes=8, comments=0, tips_total=0, created_at=NOW - 14 * H, now=NOW) == pytest.approx(
        0.140625
    )


def test_future_created_at_counts_as_age_zero_and_negative_counts_are_ignored() -> None:
    assert hot_score(
        likes=-5, comments=-1, tips_total=Decimal("-3"), created_at=NOW + H, now=NOW
    ) == pytest.approx(1 / 2**1.5)


def test_rank_orders_by_score_then_newer_then_id() -> None:
    old_popular = HotCandidate("a", likes=8, comments=0, tips_total=Decimal(0), created_at=NOW - 2 * H)
    fresh_empty = HotCandidate("b", likes=0, comments=0, tips_total=Decimal(0), created_at=NOW)
    stale = HotCandidate("c", likes=8, comments=0, tips_total=Decimal(0), created_at=NOW - 14 * H)
    tipped = HotCandidate("d", likes=0, comments=0, tips_total=Decimal("999"), created_at=NOW)
    tie_old = HotCandidate("f", likes=0, comments=0, tips_total=Decimal(0), created_at=NOW - 1)
    tie_same = HotCandidate("e", likes=0, comments=0, tips_total=Decimal(0), created_at=NOW)
    # scores: d = 10/2.83 = 3.54, a = 1.125, b = e = 0.354 (same created_at: id order), f just below
    # b/e (one ms older), c = 0.14
    ranked = rank_hot([old_popular, fresh_empty, stale, tipped, tie_old, tie_same], now=NOW, limit=10)
    assert ranked == ["d", "a", "b", "e", "f", "c"]
    assert rank_hot([old_popular, fresh_empty, stale], now=NOW, limit=2) == ["a", "b"]
    assert rank_hot([old_popular], now=NOW, limit=0) == []
