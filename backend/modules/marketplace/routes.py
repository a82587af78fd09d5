"""Marketplace endpoints (/api/marketplace): published, server-verified strategies."""

from __future__ import annotations

from flask.views import MethodView
from flask_jwt_extended import jwt_required

from backend.core.auth import current_user_id
from backend.core.envelope import EnvelopeBlueprint
from backend.core.pagination import PageArgs, paginated
from backend.modules.marketplace import service
from backend.modules.marketplace.schemas import (
    BrowseArgsSchema,
    ListingDetailSchema,
    ListingFollowStateSchema,
    ListingSchema,
    PublishSchema,
    ReportCreateSchema,
    ReportSchema,
    TrialSchema,
    TrialSubmittedSchema,
)
from backend.modules.strategies.schemas import StrategyDetailSchema

blp = EnvelopeBlueprint(
    "marketplace",
    __name__,
    url_prefix="/api/marketplace",
    description="Published strategies with server-verified backtests: browse, trial, copy, follow, report.",
)


@blp.route("/strategies")
class Listings(MethodView):
    """The marketplace's strategies."""

    @jwt_required()
    @blp.arguments(BrowseArgsSchema, location="query")
    @blp.response(200, ListingSchema(many=True))
    @paginated(blp)
    def get(self, args, paging: PageArgs):
        """Browse and search published strategies (filters symbol, kind, interval, tags; q over name
        and description).

        Order: by `sort` (default sharpe): sharpe, return, trades, followers, copies, newest highest
        first; drawdown shallowest first; then `id` ascending; a KPI the run could not compute last.
        """
        return service.list_listings(**args, **paging)

    @jwt_required()
    @blp.arguments(PublishSchema)
    @blp.response(201, ListingDetailSchema)
    def post(self, body):
        """Publish my strategy with its latest backtest (of its current version) as the verified result.

        422 `marketplace.not_publishable` without a completed backtest of the current version, for a
        kind the marketplace cannot copy (workflow), `sealed` on a kind without code, or a sealed copy.
        Publishing again refreshes the verified result.
        """
        return service.publish_strategy(actor_id=current_user_id(), **body)


@blp.route("/strategies/<id:strategy_id>")
class ListingById(MethodView):
    """One listed strategy."""

    @jwt_required()
    @blp.response(200, ListingDetailSchema)
    def get(self, strategy_id: str):
        """Return a listed strategy: author, verified KPIs, equity curve, guardrails, counters."""
        return service.get_listing(actor_id=current_user_id(), strategy_id=strategy_id)

    @jwt_required()
    @blp.response(200)
    def delete(self, strategy_id: str):
        """Unpublish my strategy (it leaves the marketplace and is no longer published)."""
        service.unpublish_strategy(actor_id=current_user_id(), strategy_id=strategy_id)


@blp.route("/strategies/<id:strategy_id>/trial", methods=["POST"])
@jwt_required()
@blp.arguments(TrialSchema, required=False)  # every field is optional: no body is the defaults
@blp.response(202, TrialSubmittedSchema)
def trial(body, strategy_id: str):
    """Backtest the listed version on my symbol or range (my backtest; nothing is copied).

    Poll GET /api/backtests/job/{jobId}. A sealed strategy's code is never returned.
    """
    return service.trial_strategy(actor_id=current_user_id(), strategy_id=strategy_id, **body)


@blp.route("/strategies/<id:strategy_id>/copy", methods=["POST"])
@jwt_required()
@blp.response(201, StrategyDetailSchema)
def copy(strategy_id: str):
    """Copy the listed version into my strategies (`forkedFrom`, version 1; a sealed one stays sealed).

    422 `marketplace.own_strategy` for my own strategy; 404 when it is not listed.
    """
    return service.copy_strategy(actor_id=current_user_id(), strategy_id=strategy_id)


@blp.route("/strategies/<id:strategy_id>/follow")
class FollowListing(MethodView):
    """Following a listed strategy."""

    @jwt_required()
    @blp.response(200, ListingFollowStateSchema)
    def post(self, strategy_id: str):
        """Follow a listed strategy (again: no change; my own: 422)."""
        return service.follow_strategy(actor_id=current_user_id(), strategy_id=strategy_id)

    @jwt_required()
    @blp.response(200, ListingFollowStateSchema)
    def delete(self, strategy_id: str):
        """Stop following a listed strategy."""
        return service.unfollow_strategy(actor_id=current_user_id(), strategy_id=strategy_id)


@blp.route("/strategies/<id:strategy_id>/report", methods=["POST"])
@jwt_required()
@blp.arguments(ReportCreateSchema)
@blp.response(201, ReportSchema)
def report(body, strategy_id: str):
    """Report a listed strategy for abuse, once (a second report: 409 `marketplace.already_reported`)."""
    return service.report_strategy(actor_id=current_user_id(), strategy_id=strategy_id, **body)
