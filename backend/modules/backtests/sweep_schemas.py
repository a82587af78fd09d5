"""HTTP shapes of parameter sweeps (/api/backtests/sweeps): the request, the sweep, runs, heatmap."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import EXCLUDE, validate

from backend.core.schemas import BaseSchema, CamelSchema, Money
from backend.modules.backtests import charts
from backend.modules.backtests.schemas import RunRequestSchema, run_status_field

SPACE_DOC = (
    "Parameter name -> a list of values (`[5, 10, 20]`) or an inclusive range "
    '(`{"min": 5, "max": 50, "step": 5}`; a random sweep may leave out `step`).'
)


# The shape `sweep_space.parse_space` accepts (what depends on the method, the strategy's parameters
# or SWEEP_MAX_RUNS is checked by the service): at least one parameter, each a non-empty list of
# numbers or strings, or a {min, max, step} range with step > 0.
SPACE_SHAPE: dict[str, Any] = {
    "minProperties": 1,
    "additionalProperties": {
        "oneOf": [
            {"type": "array", "minItems": 1, "items": {"oneOf": [{"type": "number"}, {"type": "string"}]}},
            {
                "type": "object",
                "required": ["min", "max"],
                "properties": {
                    "min": {"type": "number"},
                    "max": {"type": "number"},
                    "step": {"type": "number", "minimum": 0, "exclusiveMinimum": True},
                },
                "additionalProperties": False,
            },
        ]
    },
}


class SweepRequestSchema(RunRequestSchema):
    """POST /api/backtests/sweeps: a strategy, data range, broker settings, space, method, objective."""

    space = ma.fields.Dict(
        keys=ma.fields.String(validate=validate.Length(min=1, max=64)),
        required=True,
        metadata={"description": SPACE_DOC, **SPACE_SHAPE},
    )
    method = ma.fields.String(load_default="grid", validate=validate.OneOf(["grid", "random"]))
    samples = ma.fields.Integer(validate=validate.Range(min=1, max=2**31 - 1))
    seed = ma.fields.Integer(load_default=0, validate=validate.Range(min=0, max=2**62))
    objective = ma.fields.String(load_default="sharpeRatio", validate=validate.Length(min=1, max=40))
    direction = ma.fields.String(
        validate=validate.OneOf(["max", "min"]),
        metadata={
            "description": "Default: min for volatility, drawdown durations, ulcer index, fees, losses."
        },
    )


class SweepSubmittedSchema(BaseSchema):
    """The ids of a submitted sweep (HTTP 202)."""

    job_id = ma.fields.String()
    sweep_id = ma.fields.String()


class SweepRunSchema(CamelSchema):
    """One run: its index, the swept parameters, every metric (null if it could not run) and why not."""

    index = ma.fields.Integer()
    params = ma.fields.Dict()
    metrics = ma.fields.Dict(allow_none=True)
    objective = ma.fields.Float(allow_none=True)
    error = ma.fields.String(allow_none=True)


class SweepSchema(CamelSchema):
    """A sweep: inputs, status and progress (its job's), counters, the best runs and the guardrails."""

    id = ma.fields.String()
    job_id = ma.fields.String()
    name = ma.fields.String()
    status = run_status_field("sweep")
    progress = ma.fields.Integer()
    strategy_id = ma.fields.String(allow_none=True)
    strategy_version_id = ma.fields.String(allow_none=True)
    kind = ma.fields.String()
    params = ma.fields.Dict(
        metadata={"description": "The base parameters; each run overrides the swept ones."}
    )
    symbol = ma.fields.String()
    interval = ma.fields.String()
    start = ma.fields.Integer()
    end = ma.fields.Integer()
    provider = ma.fields.String()
    initial_capital = Money()
    fee_bps = Money()
    slippage_bps = Money()
    allow_short = ma.fields.Boolean()
    engine_version = ma.fields.String()
    space = ma.fields.Dict()
    method = ma.fields.String()
    samples = ma.fields.Integer(allow_none=True)
    seed = ma.fields.Integer()
    objective = ma.fields.String()
    direction = ma.fields.String()
    total_runs = ma.fields.Integer()
    runs_done = ma.fields.Integer()
    chunks_total = ma.fields.Integer()
    chunks_done = ma.fields.Integer()
    created_at = ma.fields.Integer()
    finished_at = ma.fields.Integer(allow_none=True)
    best = ma.fields.List(
        ma.fields.Nested(SweepRunSchema), metadata={"description": "Best runs by the objective."}
    )
    guardrails = ma.fields.Dict(
        allow_none=True,
        metadata={
            "description": "Set when the sweep completes: trials, the best run's Sharpe ratio, its "
            "probabilistic and deflated Sharpe ratios, the Sharpe ratio expected of the best of that "
            "many unskilled trials, skewness, kurtosis, observations."
        },
    )
    error = ma.fields.Dict(allow_none=True)


class HeatmapArgsSchema(BaseSchema):
    """`?x=&y=&metric=` of GET /api/backtests/sweeps/{id}/heatmap (metric: default the objective)."""

    class Meta:
        unknown = EXCLUDE

    x = ma.fields.String(required=True, validate=validate.Length(min=1, max=64))
    y = ma.fields.String(required=True, validate=validate.Length(min=1, max=64))
    metric = ma.fields.String(validate=validate.Length(min=1, max=40))


class HeatmapSchema(CamelSchema):
    """A metric over two parameters: ``values[j][i]`` is at ``yValues[j]``, ``xValues[i]``."""

    x = ma.fields.String()
    y = ma.fields.String()
    metric = ma.fields.String()
    x_values = ma.fields.List(ma.fields.Raw())
    y_values = ma.fields.List(ma.fields.Raw())
    values = ma.fields.List(ma.fields.List(ma.fields.Float(allow_none=True)))
    runs = ma.fields.List(
        ma.fields.List(ma.fields.Integer(allow_none=True)),
        metadata={"description": "The run behind each cell."},
    )
    aggregated = ma.fields.Boolean(
        metadata={"description": "True when other parameters vary too: each cell is the best over them."}
    )


class HeatmapPictureArgsSchema(HeatmapArgsSchema):
    """`?x=&y=&metric=&width=&height=` of GET /api/backtests/sweeps/{id}/heatmap.png|.svg (pixels)."""

    width = ma.fields.Integer(
        load_default=charts.WIDTH_DEFAULT, validate=validate.Range(min=charts.WIDTH_MIN, max=charts.WIDTH_MAX)
    )
    height = ma.fields.Integer(
        load_default=charts.HEIGHT_DEFAULT,
        validate=validate.Range(min=charts.HEIGHT_MIN, max=charts.HEIGHT_MAX),
    )
