"""Backtest endpoints (/api/backtests): submit, poll the job, read results, cancel, pictures, diff,
reproduce."""

from __future__ import annotations

from flask import Response, request
from flask_jwt_extended import jwt_required

from backend.core import personal, showcase
from backend.core.auth import current_user_id, optional_user_id
from backend.core.envelope import EnvelopeBlueprint
from backend.core.pagination import PageArgs, paginated
from backend.modules.backtests import charts, compare, reproduce, service, sweeps
from backend.modules.backtests.repro_schemas import BacktestDiffSchema, ChartArgsSchema
from backend.modules.backtests.schemas import (
    BacktestDetailSchema,
    BacktestLatestSchema,
    BacktestQueryArgsSchema,
    BacktestRunSchema,
    BacktestSchema,
    JobStatusSchema,
    LatestQuerySchema,
    SubmittedSchema,
    TradeSchema,
)
from backend.modules.backtests.sweep_schemas import (
    HeatmapArgsSchema,
    HeatmapPictureArgsSchema,
    HeatmapSchema,
    SweepRequestSchema,
    SweepRunSchema,
    SweepSchema,
    SweepSubmittedSchema,
)

TRADES_PAGE_SIZE = 100  # fills per page of GET /{id}/trades by default
TRADES_MAX_PAGE_SIZE = 1000

blp = EnvelopeBlueprint(
    "backtests",
    __name__,
    url_prefix="/api/backtests",
    description="Asynchronous backtests and their results.",
)


@blp.route("/run", methods=["POST"])
@jwt_required()
@blp.arguments(BacktestRunSchema)
@blp.response(202, SubmittedSchema)
def run(body):
    """Submit a backtest; poll GET /api/backtests/job/{job_id} for progress and the result."""
    return service.submit_backtest(actor_id=current_user_id(), **body)


@blp.route("/job/<id:job_id>")
@jwt_required()
@blp.response(200, JobStatusSchema)
def job(job_id: str):
    """Return the status, progress and (on success) the result of my backtest job."""
    return service.get_job_status(actor_id=current_user_id(), job_id=job_id)


@blp.route("/latest")
@jwt_required(optional=True)
@showcase.early
@blp.arguments(LatestQuerySchema, location="query")
@blp.response(200, BacktestLatestSchema)
@blp.doc(security=[])
@showcase.cached(
    "backtests.latest",
    BacktestLatestSchema(),
    reads=("backtests", "backtest_trade_blocks", "jobs", "strategies"),
)
def latest(args):
    """Return my latest completed backtest (anonymous callers get the published showcase)."""
    return service.get_latest(actor_id=optional_user_id(), symbol=args.get("symbol"))


@blp.route("")
@jwt_required()
@personal.cached("backtests", reads={"backtests": personal.OWNER, "jobs": personal.OWNER})
@blp.arguments(BacktestQueryArgsSchema, location="query")
@blp.response(200, BacktestSchema(many=True))
@paginated(blp)
def list_(args, paging: PageArgs):
    """List my backtests (filter by symbol, strategy_id, status).

    Order: `createdAt` descending (newest first), then `id`.
    """
    return service.list_backtests(actor_id=current_user_id(), **args, **paging)


@blp.route("/<id:backtest_id>")
@jwt_required()
@blp.response(200, BacktestDetailSchema)
def get(backtest_id: str):
    """Return one of my backtests with its full result."""
    return service.get_backtest(actor_id=current_user_id(), backtest_id=backtest_id)


@blp.route("/<id:backtest_id>/trades")
@jwt_required()
@blp.response(200, TradeSchema(many=True))
@paginated(blp, page_size=TRADES_PAGE_SIZE, max_page_size=TRADES_MAX_PAGE_SIZE)
def trades(backtest_id: str, paging: PageArgs):
    """Page through every fill of my backtest (total in X-Pagination).

    Order: `timestamp` ascending (oldest first), the entry fill before the exit fill of a trade.
    """
    return service.list_trades(actor_id=current_user_id(), backtest_id=backtest_id, **paging)


@blp.route("/<id:backtest_id>/cancel", methods=["POST"])
@jwt_required()
@blp.response(200, BacktestSchema)
def cancel(backtest_id: str):
    """Cancel my queued or running backtest."""
    return service.cancel_backtest(actor_id=current_user_id(), backtest_id=backtest_id)


# --- parameter sweeps (backend/modules/backtests/sweeps.py) ----------------------------------------

SWEEP_RUNS_PAGE_SIZE = 100
SWEEP_RUNS_MAX_PAGE_SIZE = 1000


@blp.route("/sweeps", methods=["POST"])
@jwt_required()
@blp.arguments(SweepRequestSchema)
@blp.response(202, SweepSubmittedSchema)
def sweep_submit(body):
    """Submit a parameter sweep (grid or random, at most SWEEP_MAX_RUNS runs) as one job."""
    return sweeps.submit_sweep(actor_id=current_user_id(), **body)


@blp.route("/sweeps/<id:sweep_id>")
@jwt_required()
@blp.response(200, SweepSchema)
def sweep_get(sweep_id: str):
    """Return my sweep: status, progress, the best runs by its objective and the guardrails."""
    return sweeps.get_sweep(actor_id=current_user_id(), sweep_id=sweep_id)


@blp.route("/sweeps/<id:sweep_id>/runs")
@jwt_required()
@blp.response(200, SweepRunSchema(many=True))
@paginated(blp, page_size=SWEEP_RUNS_PAGE_SIZE, max_page_size=SWEEP_RUNS_MAX_PAGE_SIZE)
def sweep_runs(sweep_id: str, paging: PageArgs):
    """Page through every stored run of my sweep (parameters and KPIs).

    Order: run `index` ascending (the order the space was expanded in).
    """
    return sweeps.list_runs(actor_id=current_user_id(), sweep_id=sweep_id, **paging)


@blp.route("/sweeps/<id:sweep_id>/heatmap")
@jwt_required()
@blp.arguments(HeatmapArgsSchema, location="query")
@blp.response(200, HeatmapSchema)
def sweep_heatmap(args, sweep_id: str):
    """Return a metric over two swept parameters (the best per cell when more than two vary)."""
    return sweeps.get_heatmap(actor_id=current_user_id(), sweep_id=sweep_id, **args)


@blp.route("/sweeps/<id:sweep_id>/heatmap.png")
@jwt_required()
@blp.arguments(HeatmapPictureArgsSchema, location="query")
@blp.response(200, {"type": "string", "format": "binary"}, content_type="image/png")
def sweep_heatmap_png(args, sweep_id: str):
    """Draw the heatmap of my sweep as PNG (same query as /heatmap, plus width and height)."""
    return sweep_picture(
        sweeps.get_heatmap_picture(actor_id=current_user_id(), sweep_id=sweep_id, fmt="png", **args)
    )


@blp.route("/sweeps/<id:sweep_id>/heatmap.svg")
@jwt_required()
@blp.arguments(HeatmapPictureArgsSchema, location="query")
@blp.response(200, {"type": "string"}, content_type="image/svg+xml")
def sweep_heatmap_svg(args, sweep_id: str):
    """Draw the heatmap of my sweep as SVG (same query as /heatmap, plus width and height)."""
    return sweep_picture(
        sweeps.get_heatmap_picture(actor_id=current_user_id(), sweep_id=sweep_id, fmt="svg", **args)
    )


def sweep_picture(chart: charts.Chart) -> Response:
    """Build an inert image response for a sweep's heatmap; revalidated, since a running sweep grows."""
    resp = image_response(chart)
    resp.headers["Cache-Control"] = "private, no-cache"
    return resp


@blp.route("/sweeps/<id:sweep_id>/runs/<string:index>/promote", methods=["POST"])
@jwt_required()
@blp.response(202, SubmittedSchema)
def sweep_promote(sweep_id: str, index: str):
    """Run one run of my sweep as a normal backtest with its full result (poll its job)."""
    return sweeps.promote_run(actor_id=current_user_id(), sweep_id=sweep_id, index=index)


@blp.route("/sweeps/<id:sweep_id>/cancel", methods=["POST"])
@jwt_required()
@blp.response(200, SweepSchema)
def sweep_cancel(sweep_id: str):
    """Cancel my queued or running sweep; every chunk stops within a quarter second."""
    return sweeps.cancel_sweep(actor_id=current_user_id(), sweep_id=sweep_id)


# --- pictures, comparison and reproduction (charts.py, compare.py, reproduce.py) -------------------

CHART_304 = "Not modified (If-None-Match matched the ETag)."


def image_response(chart: charts.Chart) -> Response:
    """Build a cacheable, inert image response (a bodiless 304 when If-None-Match named its ETag)."""
    resp = Response(chart.data or b"", status=200 if chart.data is not None else 304)
    resp.content_type = chart.content_type
    resp.headers["Cache-Control"] = charts.CACHE_CONTROL
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    resp.set_etag(chart.etag)
    return resp


@blp.route("/<id:backtest_id>/chart.svg")
@jwt_required()
@blp.arguments(ChartArgsSchema, location="query")
@blp.response(200, {"type": "string"}, content_type="image/svg+xml")
@blp.alt_response(304, description=CHART_304)
def chart_svg(args, backtest_id: str):
    """Draw my completed backtest as SVG: equity curve with trade marks, drawdown below."""
    return image_response(
        charts.get_chart(
            actor_id=current_user_id(),
            backtest_id=backtest_id,
            fmt="svg",
            etags=request.if_none_match,
            **args,
        )
    )


@blp.route("/<id:backtest_id>/chart.png")
@jwt_required()
@blp.arguments(ChartArgsSchema, location="query")
@blp.response(200, {"type": "string", "format": "binary"}, content_type="image/png")
@blp.alt_response(304, description=CHART_304)
def chart_png(args, backtest_id: str):
    """Draw my completed backtest as PNG: equity curve with trade marks, drawdown below."""
    return image_response(
        charts.get_chart(
            actor_id=current_user_id(),
            backtest_id=backtest_id,
            fmt="png",
            etags=request.if_none_match,
            **args,
        )
    )


@blp.route("/<id:backtest_id>/diff/<id:other_id>")
@jwt_required()
@blp.response(200, BacktestDiffSchema)
def diff(backtest_id: str, other_id: str):
    """Compare two of my backtests: inputs, KPI deltas and the trades found in only one."""
    return compare.diff_backtests(actor_id=current_user_id(), a_id=backtest_id, b_id=other_id)


@blp.route("/<id:backtest_id>/reproduce", methods=["POST"])
@jwt_required()
@blp.response(202, SubmittedSchema)
def reproduce_(backtest_id: str):
    """Re-run my completed backtest as a job; its status ends with `reproduced` (identical or different)."""
    return reproduce.submit_reproduction(actor_id=current_user_id(), backtest_id=backtest_id)
