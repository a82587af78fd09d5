"""HTTP contract of the marketplace (camelCase, Unix ms, string ids)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import EXCLUDE, validate

from backend.core.schemas import BaseSchema, CamelSchema, Id, Symbol
from backend.domain.marketdata.intervals import INTERVALS
from backend.modules.backtests.schemas import RunSettingsSchema
from backend.modules.marketplace.models import REPORT_REASONS, REPORT_STATUSES
from backend.modules.marketplace.read_models import DEFAULT_SORT, SORTS
from backend.modules.strategies.schemas import TAGS

SORT_DOC = (
    "sharpe | return | trades | followers | copies | newest: highest first; drawdown: shallowest "
    "first; then id ascending; a KPI the run could not compute sorts last."
)


class PublishSchema(CamelSchema):
    """POST /api/marketplace/strategies: publish one of my strategies (its latest verified backtest)."""

    strategy_id = Id(required=True)
    sealed = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "python only: others may trial, copy and run it but never read its code."},
    )
    description = ma.fields.String(validate=validate.Length(max=2000))
    tags = TAGS


class BrowseArgsSchema(BaseSchema):
    """Filters and sort of GET /api/marketplace/strategies (page and page_size are the paginator's)."""

    class Meta:
        unknown = EXCLUDE

    q = ma.fields.String(
        validate=validate.Length(min=1, max=100), metadata={"description": "Words in name or description."}
    )
    symbol = Symbol()
    kind = ma.fields.String(validate=validate.Length(min=1, max=32))
    interval = ma.fields.String(validate=validate.OneOf(INTERVALS))
    tags = ma.fields.List(
        ma.fields.String(validate=validate.Length(min=1, max=32)),
        validate=validate.Length(max=10),
        metadata={"description": "Repeat for several (`tags=a&tags=b`): listings with all of them."},
    )
    sort = ma.fields.String(
        load_default=DEFAULT_SORT, validate=validate.OneOf(list(SORTS)), metadata={"description": SORT_DOC}
    )

    @ma.post_load
    def _upper_symbol(self, data: dict, **_kwargs) -> dict:
        if "symbol" in data:
            data["symbol"] = data["symbol"].upper()
        return data


class AuthorSchema(CamelSchema):
    """The public fields of a listing's author."""

    id = ma.fields.String()
    name = ma.fields.String()
    avatar = ma.fields.String()


class ListingSchema(CamelSchema):
    """A listed strategy: metadata, author, verified KPIs and counters (`id` is the strategy's id)."""

    id = ma.fields.String()
    name = ma.fields.String()
    description = ma.fields.String()
    symbol = ma.fields.String()
    interval = ma.fields.String()
    kind = ma.fields.String()
    tags = ma.fields.List(ma.fields.String())
    sealed = ma.fields.Boolean()
    author = ma.fields.Nested(AuthorSchema)
    kpis = ma.fields.Dict(
        metadata={
            "description": "The verified backtest, computed by this server: backtestId, symbol, interval, "
            "start, end, engineVersion, finishedAt, params and the 8 KPIs of a BacktestSummary (percents)."
        }
    )
    copies = ma.fields.Integer()
    followers = ma.fields.Integer()
    published_at = ma.fields.Integer()
    version_id = ma.fields.String()
    backtest_id = ma.fields.String()


class EquityPointSchema(CamelSchema):
    """One point of the equity curve."""

    time = ma.fields.Integer()
    value = ma.fields.Float()


class ListingDetailSchema(ListingSchema):
    """A listing with its verified equity curve (at most 500 points), guardrails and my relation to it."""

    equity = ma.fields.List(ma.fields.Nested(EquityPointSchema))
    guardrails = ma.fields.Dict(allow_none=True, metadata={"description": "As in a backtest's detail."})
    following = ma.fields.Boolean()
    copied = ma.fields.Boolean()
    hidden = ma.fields.Boolean(metadata={"description": "Hidden by a moderator (only its owner sees it)."})
    code = ma.fields.String(
        allow_none=True,
        metadata={"description": "An unsealed python strategy's code (its owner always); null when sealed."},
    )


class TrialSchema(CamelSchema, RunSettingsSchema):
    """POST /api/marketplace/strategies/{id}/trial: where and how to backtest the listed version.

    The settings of a backtest request (``RunSettingsSchema``), camelCase on the wire.
    """


class TrialSubmittedSchema(CamelSchema):
    """The trial's backtest job (poll GET /api/backtests/job/{jobId})."""

    job_id = ma.fields.String()
    backtest_id = ma.fields.String()


class ListingFollowStateSchema(CamelSchema):
    """Whether I follow the strategy, and its follower count."""

    following = ma.fields.Boolean()
    followers = ma.fields.Integer()


class ReportCreateSchema(CamelSchema):
    """POST /api/marketplace/strategies/{id}/report."""

    reason = ma.fields.String(required=True, validate=validate.OneOf(REPORT_REASONS))
    details = ma.fields.String(load_default="", validate=validate.Length(max=2000))


class ReportSchema(CamelSchema):
    """An abuse report."""

    id = ma.fields.String()
    strategy_id = ma.fields.String()
    reporter_id = ma.fields.String()
    reason = ma.fields.String(metadata={"enum": list(REPORT_REASONS)})
    details = ma.fields.String()
    status = ma.fields.String(metadata={"enum": list(REPORT_STATUSES)})
    created_at = ma.fields.Integer()
    resolved_at = ma.fields.Integer(allow_none=True)
    resolved_by = ma.fields.String(allow_none=True)
    resolution = ma.fields.String(allow_none=True)
