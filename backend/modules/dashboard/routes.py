"""Dashboard endpoints: /api/dashboard/stats (anonymous callers get the public showcase's figures)."""

from __future__ import annotations

from flask_jwt_extended import jwt_required

from backend.core import showcase
from backend.core.auth import optional_user_id
from backend.core.envelope import EnvelopeBlueprint
from backend.modules.dashboard import service
from backend.modules.dashboard.schemas import DashboardStatsSchema, StatsQuerySchema

blp = EnvelopeBlueprint(
    "dashboard", __name__, url_prefix="/api/dashboard", description="The dashboard's stats card."
)


@blp.route("/stats")
@jwt_required(optional=True)
@showcase.early
@blp.arguments(StatsQuerySchema, location="query")
@blp.response(200, DashboardStatsSchema)
@blp.doc(security=[])
@showcase.cached(
    "dashboard.stats",
    DashboardStatsSchema(),
    # jobs: a discarded submit (broker down) deletes its job, and the backtest row by cascade.
    reads=("backtests", "bot_instances", "bot_equity", "strategies", "jobs"),
)
def stats(args):
    """Return my stats card: backtests this month against the quota, bots, paper profit, KPI averages.

    Anonymous callers get the public showcase's figures (published strategies, public bots).
    """
    return service.get_stats(actor_id=optional_user_id(), period=args["period"])
