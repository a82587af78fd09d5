"""Demo backtests for `flask seed`: one completed run per demo strategy, computed synchronously.

Range: the 180 days before today 00:00 UTC on the strategy's interval, 10 bps fees, 2 bps
slippage. Idempotent: a strategy that already has a completed backtest is skipped.
"""

from __future__ import annotations

from backend.core.db import now_ms
from backend.domain.marketdata.intervals import DAY_MS, floor_time
from backend.modules.backtests import service
from backend.modules.strategies import service as strategies_service
from backend.modules.strategies.seed import demo_strategy_ids

DEMO_DAYS = 180


def seed_demo(*, admin_id: str, now: int | None = None) -> None:
    """Backtest every demo strategy that has no completed backtest yet."""
    end = floor_time(now if now is not None else now_ms(), "1d")
    for strategy_id in demo_strategy_ids(admin_id=admin_id):
        if service.strategy_kpis(strategy_id=strategy_id, owner_id=admin_id) is not None:
            continue
        run = strategies_service.get_strategy_for_run(actor_id=admin_id, strategy_id=strategy_id)
        service.run_backtest_sync(
            actor_id=admin_id,
            strategy_id=strategy_id,
            interval=run.interval,
            start=end - DEMO_DAYS * DAY_MS,
            end=end,
            fee_bps=10,
            slippage_bps=2,
        )
