"""HTTP contract of the strategies module (field names as CONTRACT.md section 2)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from backend.core.schemas import BaseSchema, CamelSchema, Rounded, Symbol
from backend.domain.marketdata.intervals import INTERVALS
from backend.modules.strategies import service

# The kinds are registered at app start (workflows adds its own), so the enum is read then.
KIND_DOC = {"enum_from": service.kind_names}

TAGS = ma.fields.List(
    ma.fields.String(validate=validate.Length(min=1, max=32)), validate=validate.Length(max=10)
)


CODE = ma.fields.String(
    metadata={
        "description": "Python source (kind python only): PARAMS + signals(bars, params); at most 64 KiB."
    }
)


class StrategySchema(CamelSchema):
    """The contract's Strategy; KPIs come from its latest completed backtest (percent numbers,
    rounded to 2 decimals for display; the detail's ``metrics`` keep full precision)."""

    id = ma.fields.String()
    name = ma.fields.String()
    symbol = ma.fields.String()
    status = ma.fields.String(metadata={"enum": ["running", "paused", "stopped", "completed"]})
    returns = Rounded(2, metadata={"description": "Total return in percent."})
    win_rate = Rounded(2, metadata={"description": "Win rate in percent."})
    max_drawdown = Rounded(2, metadata={"description": "Maximum drawdown in percent (<= 0)."})
    tags = ma.fields.List(ma.fields.String())
    last_update = ma.fields.Integer()
    trades = ma.fields.Integer()


class ForkedFromSchema(CamelSchema):
    """Where a copied strategy came from (ids null once that strategy or account is gone)."""

    strategy_id = ma.fields.String(allow_none=True)
    author_id = ma.fields.String(allow_none=True)
    author_name = ma.fields.String()


class StrategyDetailSchema(StrategySchema):
    """A Strategy plus its definition, current version and the full metrics of its latest backtest."""

    kind = ma.fields.String()
    interval = ma.fields.String()
    description = ma.fields.String()
    published = ma.fields.Boolean()
    owner_id = ma.fields.String()
    version = ma.fields.Integer()
    version_id = ma.fields.String(allow_none=True)
    params = ma.fields.Dict()
    created_at = ma.fields.Integer()
    latest_backtest_id = ma.fields.String(allow_none=True)
    metrics = ma.fields.Dict(allow_none=True)
    params_schema = ma.fields.Dict(
        allow_none=True,
        metadata={
            "description": "Parameter descriptor to draw a form from: {name: {type: int|float, default, "
            "min?, max?, description?}}; null for kinds without one (workflow)."
        },
    )
    code = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "A python strategy's source; only for its owner (null for everyone else and "
            "for other kinds, and for everyone on a copy of a sealed strategy). Lists leave it out."
        },
    )
    sealed = ma.fields.Boolean(
        metadata={
            "description": "A copy of a sealed marketplace strategy: it runs, but its code is never "
            "returned and cannot be replaced."
        }
    )
    forked_from = ma.fields.Nested(
        ForkedFromSchema, allow_none=True, metadata={"description": "Attribution of a marketplace copy."}
    )


class StrategyCreateSchema(BaseSchema):
    """POST /api/strategies."""

    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    symbol = Symbol(required=True)
    kind = ma.fields.String(required=True, validate=validate.Length(min=1, max=32), metadata=KIND_DOC)
    params = ma.fields.Dict(keys=ma.fields.String(), load_default=dict)
    tags = TAGS
    description = ma.fields.String(validate=validate.Length(max=2000))
    interval = ma.fields.String(validate=validate.OneOf(INTERVALS))
    published = ma.fields.Boolean()
    code = CODE


class StrategyUpdateSchema(BaseSchema):
    """PATCH /api/strategies/{id}: any subset; kind/params/code changes create a new version."""

    class Meta:
        openapi = {"minProperties": 1}

    name = ma.fields.String(validate=validate.Length(min=1, max=200))
    symbol = Symbol()
    kind = ma.fields.String(validate=validate.Length(min=1, max=32), metadata=KIND_DOC)
    params = ma.fields.Dict(keys=ma.fields.String())
    tags = TAGS
    description = ma.fields.String(validate=validate.Length(max=2000))
    interval = ma.fields.String(validate=validate.OneOf(INTERVALS))
    published = ma.fields.Boolean()
    code = CODE

    @ma.validates_schema
    def _not_empty(self, data, **kwargs):
        if not data:
            raise ma.ValidationError("Give at least one field to change.", "_schema")


class StrategyVersionSchema(CamelSchema):
    """One immutable version of a strategy."""

    id = ma.fields.String()
    number = ma.fields.Integer()
    kind = ma.fields.String()
    params = ma.fields.Dict()
    content_hash = ma.fields.String()
    created_at = ma.fields.Integer()


class StrategyKindSchema(CamelSchema):
    """A built-in strategy kind and its parameter schema."""

    kind = ma.fields.String()
    title = ma.fields.String()
    params = ma.fields.List(ma.fields.Dict())


class StrategyCheckSchema(BaseSchema):
    """POST /api/strategies/check: code to compile and run on sample bars (nothing is stored)."""

    code = ma.fields.String(required=True, metadata=CODE.metadata)
    params = ma.fields.Dict(keys=ma.fields.String(), load_default=dict)
    symbol = Symbol(metadata={"description": "Whose latest bars to run on (default BTCUSDT)."})
    interval = ma.fields.String(
        validate=validate.OneOf(INTERVALS), metadata={"description": "Bar interval (default 1h)."}
    )


class StrategyCheckResultSchema(CamelSchema):
    """What a check found: signal counts on the sample bars, the parameters used and the descriptor."""

    bars = ma.fields.Integer(metadata={"description": "How many sample bars the code ran on."})
    signals = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        metadata={"description": "True values per returned key: entries, exits, shortEntries?, shortExits?"},
    )
    signal_count = ma.fields.Integer()
    params = ma.fields.Dict()
    params_schema = ma.fields.Dict()


class StrategyTemplateSchema(CamelSchema):
    """A starter python strategy."""

    key = ma.fields.String()
    title = ma.fields.String()
    code = ma.fields.String()
