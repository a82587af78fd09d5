"""Backtest endpoints (/api/backtests): submit, poll the job, read results, cancel."""

from __future__ import annotations

from flask_jwt_extended import jwt_required

from backend.core import showcase
from backend.core.auth import current_user_id, optional_user_id
from backend.core.envelope import EnvelopeBlueprint
from backend.core.pagination import PageArgs, paginated
from backend.modules.backtests import service
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


@blp.route("/job/<string:job_id>")
@jwt_required()
@blp.response(200, JobStatusSchema)
def job(job_id: str):
    """Return the status, progress and (on success) the result of my backtest job."""
    return service.get_job_status(actor_id=current_user_id(), job_id=job_id)


@blp.route("/latest")
@jwt_required(optional=True)
@blp.arguments(LatestQuerySchema, location="query")
@blp.response(200, BacktestLatestSchema)
@blp.doc(security=[])
@showcase.cached(
    "backtests.latest",
    BacktestLatestSchema(),
    reads=("backtests", "backtest_trades", "jobs", "strategies"),
)
def latest(args):
    """Return my latest completed backtest (anonymous callers get the published showcase)."""
    return service.get_latest(actor_id=optional_user_id(), symbol=args.get("symbol"))


@blp.route("")
@jwt_required()
@blp.arguments(BacktestQueryArgsSchema, location="query")
@blp.response(200, BacktestSchema(many=True))
@paginated(blp)
def list_(args, paging: PageArgs):
    """List my backtests, newest first (filter by symbol, strategy_id, status)."""
    return service.list_backtests(actor_id=current_user_id(), **args, **paging)


@blp.route("/<string:backtest_id>")
@jwt_required()
@blp.response(200, BacktestDetailSchema)
def get(backtest_id: str):
    """Return one of my backtests with its full result."""
    return service.get_backtest(actor_id=current_user_id(), backtest_id=backtest_id)


@blp.route("/<string:backtest_id>/trades")
@jwt_required()
@blp.response(200, TradeSchema(many=True))
@paginated(blp, page_size=TRADES_PAGE_SIZE, max_page_size=TRADES_MAX_PAGE_SIZE)
def trades(backtest_id: str, paging: PageArgs):
    """Page through every fill of my backtest, oldest first (total in X-Pagination)."""
    return service.list_trades(actor_id=current_user_id(), backtest_id=backtest_id, **paging)


@blp.route("/<string:backtest_id>/cancel", methods=["POST"])
@jwt_required()
@blp.response(200, BacktestSchema)
def cancel(backtest_id: str):
    """Cancel my queued or running backtest."""
    return service.cancel_backtest(actor_id=current_user_id(), backtest_id=backtest_id)
