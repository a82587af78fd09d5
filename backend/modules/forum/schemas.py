"""HTTP contract of the forum: posts, comments, likes, favorites, tips, follows and profiles."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import marshmallow as ma
from marshmallow import EXCLUDE, validate

from backend.core.schemas import BaseSchema, CamelSchema, Id, Money, TimestampMs

# Whitespace spelled out (what Python's `\s` and str.isspace() match): in the OpenAPI document `\s`
# is ECMA's, which leaves out U+0085 and U+001C-U+001F, so "\x85" was "not blank" there and blank here.
_WS = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NOT_BLANK = validate.Regexp(rf"^[{_WS}]*[^{_WS}]", error="Must not be blank.")
# tipsTotal is one sum, so tips share one currency until a conversion exists.
TIP_CURRENCIES = ("USD",)
TAG = ma.fields.String(
    validate=[
        validate.Length(min=1, max=32),
        validate.Regexp(rf"^[^{_WS},][^,]*$", error="Tags may not contain commas."),
    ]
)


class AttachmentSchema(BaseSchema):
    """A backtest or strategy attached to a post, with the KPIs the server verified."""

    kind = ma.fields.String(required=True, validate=validate.OneOf(["backtest", "strategy"]))
    id = Id(required=True)
    kpis = ma.fields.Dict(dump_only=True)


class PostSchema(CamelSchema):
    """Post as lists show it (author and avatar come from the author's user record)."""

    id = ma.fields.String()
    title = ma.fields.String()
    author = ma.fields.String()
    author_id = ma.fields.String()
    avatar = ma.fields.String()
    likes = ma.fields.Integer(attribute="likes_count")
    comments = ma.fields.Integer(attribute="comments_count")
    timestamp = TimestampMs(attribute="created_at")
    updated_at = TimestampMs()
    tags = ma.fields.List(ma.fields.String())
    attachment = ma.fields.Nested(AttachmentSchema, allow_none=True)


class PostDetailSchema(PostSchema):
    """Post detail: adds the body, the caller's like/favorite flags and the tips total."""

    content = ma.fields.String()
    liked = ma.fields.Boolean()
    favorited = ma.fields.Boolean()
    tips_total = Money()


class PostCreateSchema(BaseSchema):
    """Body of POST /api/forum/posts (no author fields: those come from the token)."""

    title = ma.fields.String(required=True, validate=[validate.Length(min=1, max=200), NOT_BLANK])
    content = ma.fields.String(load_default="", validate=validate.Length(max=20_000))
    tags = ma.fields.List(TAG, load_default=list, validate=validate.Length(max=10))
    attachment = ma.fields.Nested(AttachmentSchema, allow_none=True, load_default=None)


class PostUpdateSchema(PostCreateSchema):
    """Body of PATCH /api/forum/posts/{id}: any subset (at least one) of the create fields."""

    class Meta:
        openapi = {"minProperties": 1}

    title = ma.fields.String(validate=[validate.Length(min=1, max=200), NOT_BLANK])
    content = ma.fields.String(validate=validate.Length(max=20_000))
    tags = ma.fields.List(TAG, validate=validate.Length(max=10))
    attachment = ma.fields.Nested(AttachmentSchema, allow_none=True)

    @ma.validates_schema
    def _not_empty(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if not data:
            raise ma.ValidationError("Give at least one field to change.", "_schema")


class PostQueryArgsSchema(BaseSchema):
    """Filters of GET /api/forum/posts."""

    class Meta:
        # The paginator parses page/page_size from the same query string (and documents them),
        # so this schema must let them through rather than RAISE.
        unknown = EXCLUDE

    tag = ma.fields.String(validate=validate.Length(min=1, max=32))
    author = Id(metadata={"description": "author user id"})


class CommentSchema(CamelSchema):
    """A comment (author and avatar from the user record)."""

    id = ma.fields.String()
    post_id = ma.fields.String()
    author = ma.fields.String()
    author_id = ma.fields.String()
    avatar = ma.fields.String()
    content = ma.fields.String()
    timestamp = TimestampMs(attribute="created_at")


class CommentCreateSchema(BaseSchema):
    """Body of POST /api/forum/posts/{id}/comments."""

    content = ma.fields.String(required=True, validate=[validate.Length(min=1, max=5_000), NOT_BLANK])


class LikeStateSchema(CamelSchema):
    """Result of like/unlike."""

    likes = ma.fields.Integer()
    liked = ma.fields.Boolean()


class FavoriteStateSchema(CamelSchema):
    """Result of favorite/unfavorite."""

    favorited = ma.fields.Boolean()


class TipAmount(Money):
    """A tip amount: a JSON number only (strings and booleans rejected), finite, at most 8 decimals."""

    default_error_messages = {
        "not_number": "Must be a JSON number, not a string.",
        "precision": "At most 8 decimal places.",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, str):
            raise self.make_error("not_number")
        if isinstance(value, float) and not math.isfinite(value):
            raise self.make_error("special")
        result = super()._deserialize(value, attr, data, **kwargs)
        exponent = result.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -8 and result != result.quantize(Decimal("1e-8")):
            raise self.make_error("precision")
        return result


class TipCreateSchema(BaseSchema):
    """Body of POST /api/forum/posts/{id}/tips (the maximum is checked by the service)."""

    amount = TipAmount(
        required=True,
        validate=validate.Range(min=Decimal(0), min_inclusive=False, error="Must be greater than 0."),
        metadata={"multipleOf": 0.00000001, "description": "At most 8 decimals, at most FORUM_TIP_MAX."},
    )
    currency = ma.fields.String(load_default="USD", validate=validate.OneOf(TIP_CURRENCIES))


class TipSchema(CamelSchema):
    """A recorded tip."""

    id = ma.fields.String()
    post_id = ma.fields.String()
    tipper_id = ma.fields.String()
    recipient_id = ma.fields.String()
    amount = Money()
    currency = ma.fields.String()
    timestamp = TimestampMs(attribute="created_at")


class UserBriefSchema(CamelSchema):
    """A user as follower lists show it."""

    id = ma.fields.String()
    name = ma.fields.String()
    avatar = ma.fields.String()


class PublishedStrategySchema(CamelSchema):
    """A published strategy as a public profile lists it (the server's own backtest figures)."""

    id = ma.fields.String()
    name = ma.fields.String()
    symbol = ma.fields.String()
    kind = ma.fields.String()
    interval = ma.fields.String()
    tags = ma.fields.List(ma.fields.String())
    returns = ma.fields.Float()
    win_rate = ma.fields.Float()
    max_drawdown = ma.fields.Float()
    trades = ma.fields.Integer()
    last_update = ma.fields.Integer()


class ProfileSchema(UserBriefSchema):
    """Public profile: counts, published strategies and whether the caller follows this user."""

    bio = ma.fields.String(allow_none=True)
    created_at = ma.fields.Integer()
    posts = ma.fields.Integer()
    followers = ma.fields.Integer()
    following = ma.fields.Integer()
    is_following = ma.fields.Boolean()
    published_strategies = ma.fields.List(
        ma.fields.Nested(PublishedStrategySchema),
        metadata={"description": "The newest published strategies (at most 20)."},
    )
    published_strategies_count = ma.fields.Integer()


class FollowStateSchema(CamelSchema):
    """Result of follow/unfollow."""

    following = ma.fields.Boolean()
    followers = ma.fields.Integer()
