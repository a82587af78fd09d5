"""Strategy endpoints (/api/strategies)."""

from __future__ import annotations

from flask.views import MethodView
from flask_jwt_extended import jwt_required

from backend.core import personal, showcase
from backend.core.auth import current_user_id, optional_user_id
from backend.core.envelope import EnvelopeBlueprint
from backend.core.pagination import PageArgs, paginated
from backend.core.schemas import LimitQuerySchema
from backend.modules.strategies import service
from backend.modules.strategies.schemas import (
    StrategyCheckResultSchema,
    StrategyCheckSchema,
    StrategyCreateSchema,
    StrategyDetailSchema,
    StrategyKindSchema,
    StrategySchema,
    StrategyTemplateSchema,
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
@showcase.early
@blp.arguments(LimitQuerySchema, location="query")
@blp.response(200, StrategySchema(many=True))
@blp.doc(security=[])
@showcase.cached(
    "strategies.recent", StrategySchema(many=True), reads=("strategies", "strategy_versions", "jobs")
)
def recent(args):
    """List my latest strategies (anonymous callers, and callers without any, get the published showcase).

    Order: `lastUpdate` descending (newest first), then `id`. The showcase picks published
    strategies with a completed backtest before those without, then shows them in the same order.
    """
    return service.list_recent(actor_id=optional_user_id(), limit=args["limit"])


@blp.route("/kinds")
@jwt_required()
@blp.response(200, StrategyKindSchema(many=True))
def kinds():
    """List the strategy kinds and their parameter schemas.

    Order: `kind` ascending (alphabetical).
    """
    return service.list_kinds()


@blp.route("/templates")
@jwt_required()
@blp.response(200, StrategyTemplateSchema(many=True))
def templates():
    """List the starter python strategies (SMA crossover, RSI, Bollinger breakout) as code.

    Order: fixed, as listed (SMA crossover, RSI, Bollinger breakout).
    """
    return service.list_templates()


@blp.route("/check", methods=["POST"])
@jwt_required()
@blp.arguments(StrategyCheckSchema)
@blp.response(200, StrategyCheckResultSchema)
def check(body):
    """Compile python strategy code and run it in the sandbox on a few hundred sample bars.

    Nothing is stored. 422 with `fields.code` (and `details.line`/`column`) for code that does not
    compile or is over 64 KiB, per `fields.params.*` for parameters its PARAMS refuses, with
    `details.reason` strategy_error (plus `details.traceback`: your own lines), strategy_timeout,
    strategy_memory or strategy_output_invalid when it fails; 503 sandbox_unavailable when this
    server cannot sandbox code.
    """
    return service.check_code(**body)


@blp.route("")
class Strategies(MethodView):
    """The caller's strategies."""

    @jwt_required()
    @personal.cached(
        "strategies",
        reads={
            "strategies": personal.OWNER,
            "strategy_versions": personal.OWNER,
            "jobs": personal.OWNER,
            "users": personal.EVERYONE,  # a copy shows its author's current name
        },
    )
    @blp.response(200, StrategyDetailSchema(many=True, exclude=("code",)))
    @paginated(blp)
    def get(self, paging: PageArgs):
        """List my strategies.

        Order: `lastUpdate` descending (newest first), then `id`.
        """
        return service.list_strategies(actor_id=current_user_id(), **paging)

    @jwt_required()
    @blp.arguments(StrategyCreateSchema)
    @blp.response(201, StrategyDetailSchema)
    def post(self, body):
        """Create a strategy (its parameters, and a python strategy's code, become version 1).

        A python strategy (`kind: "python"`, `code`): 422 `fields.code` when it does not compile
        (line and column) or exceeds 64 KiB, per `fields.params.*` against its PARAMS,
        `details.reason` strategy_* when reading PARAMS fails; 503 sandbox_unavailable when this
        server cannot sandbox code.
        """
        return service.create_strategy(actor_id=current_user_id(), **body)


@blp.route("/<id:strategy_id>")
class StrategyById(MethodView):
    """One strategy."""

    @jwt_required()
    @blp.response(200, StrategyDetailSchema)
    def get(self, strategy_id: str):
        """Return a strategy I own or that is published (`code` only when it is mine)."""
        return service.get_strategy(actor_id=current_user_id(), strategy_id=strategy_id)

    @jwt_required()
    @blp.arguments(StrategyUpdateSchema)
    @blp.response(200, StrategyDetailSchema)
    def patch(self, changes, strategy_id: str):
        """Change my strategy; new parameters or code create a new version."""
        return service.update_strategy(actor_id=current_user_id(), strategy_id=strategy_id, changes=changes)

    @jwt_required()
    @blp.response(200)
    def delete(self, strategy_id: str):
        """Delete my strategy (its versions and backtests stay reproducible)."""
        service.delete_strategy(actor_id=current_user_id(), strategy_id=strategy_id)


@blp.route("/<id:strategy_id>/versions")
@jwt_required()
@blp.response(200, StrategyVersionSchema(many=True))
def versions(strategy_id: str):
    """List the versions of a strategy I own or that is published.

    Order: `number` descending (newest first).
    """
    return service.list_versions(actor_id=current_user_id(), strategy_id=strategy_id)
