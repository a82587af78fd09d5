"""Strategy endpoints (/api/strategies)."""

from __future__ import annotations

from flask.views import MethodView
from flask_jwt_extended import jwt_required

from backend.core import showcase
from backend.core.auth import current_user_id, optional_user_id
from backend.core.envelope import EnvelopeBlueprint
from backend.core.pagination import PageArgs, paginated
from backend.core.schemas import LimitQuerySchema
from backend.modules.strategies import service
from backend.modules.strategies.schemas import (
    StrategyCreateSchema,
    StrategyDetailSchema,
    StrategyKindSchema,
    StrategySchema,
    StrategyUpdateSchema,
    StrategyVersionSchema,
)

blp = EnvelopeBlueprint(
    "strategies",
    __name__,
    url_prefix="/api/strategies",
    description="Strategies, their immutable versions and the showcase.",
)


@blp.route("/recent")
@jwt_required(optional=True)
@blp.arguments(LimitQuerySchema, location="query")
@blp.response(200, StrategySchema(many=True))
@blp.doc(security=[])
@showcase.cached(
    "strategies.recent", StrategySchema(many=True), reads=("strategies", "strategy_versions", "jobs")
)
def recent(args):
    """List my latest strategies (anonymous callers get the published showcase)."""
    return service.list_recent(actor_id=optional_user_id(), limit=args["limit"])


@blp.route("/kinds")
@jwt_required()
@blp.response(200, StrategyKindSchema(many=True))
def kinds():
    """List the built-in strategy kinds and their parameter schemas."""
    return service.list_kinds()


@blp.route("")
class Strategies(MethodView):
    """The caller's strategies."""

    @jwt_required()
    @blp.response(200, StrategyDetailSchema(many=True))
    @paginated(blp)
    def get(self, paging: PageArgs):
        """List my strategies, most recently updated first."""
        return service.list_strategies(actor_id=current_user_id(), **paging)

    @jwt_required()
    @blp.arguments(StrategyCreateSchema)
    @blp.response(201, StrategyDetailSchema)
    def post(self, body):
        """Create a strategy (its parameters become version 1)."""
        return service.create_strategy(actor_id=current_user_id(), **body)


@blp.route("/<string:strategy_id>")
class StrategyById(MethodView):
    """One strategy."""

    @jwt_required()
    @blp.response(200, StrategyDetailSchema)
    def get(self, strategy_id: str):
        """Return a strategy I own or that is published."""
        return service.get_strategy(actor_id=current_user_id(), strategy_id=strategy_id)

    @jwt_required()
    @blp.arguments(StrategyUpdateSchema)
    @blp.response(200, StrategyDetailSchema)
    def patch(self, changes, strategy_id: str):
        """Change my strategy; new parameters create a new version."""
        return service.update_strategy(actor_id=current_user_id(), strategy_id=strategy_id, changes=changes)

    @jwt_required()
    @blp.response(200)
    def delete(self, strategy_id: str):
        """Delete my strategy (its versions and backtests stay reproducible)."""
        service.delete_strategy(actor_id=current_user_id(), strategy_id=strategy_id)


@blp.route("/<string:strategy_id>/versions")
@jwt_required()
@blp.response(200, StrategyVersionSchema(many=True))
def versions(strategy_id: str):
    """List the versions of a strategy I own or that is published, newest first."""
    return service.list_versions(actor_id=current_user_id(), strategy_id=strategy_id)
