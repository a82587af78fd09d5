"""Pure Decimal paper ledger: fills, fees, slippage, PnL, the equity invariant, tick walking."""

from backend.domain.ledger.book import Fill, LedgerState, apply_executed, apply_fill, replay
from backend.domain.ledger.invariant import InvariantCheck, check_invariant
from backend.domain.ledger.keys import format_runtime, order_key
from backend.domain.ledger.money import BadNumber, positive_price, to_decimal
from backend.domain.ledger.sizing import order_for_target
from backend.domain.ledger.walk import (
    EquityPoint,
    TickOrder,
    WalkResult,
    anchored,
    first_unprocessed,
    last_flat,
    walk,
)

__all__ = [
    "BadNumber",
    "EquityPoint",
    "anchored",
    "last_flat",
    "Fill",
    "InvariantCheck",
    "LedgerState",
    "TickOrder",
    "WalkResult",
    "apply_executed",
    "apply_fill",
    "check_invariant",
    "first_unprocessed",
    "format_runtime",
    "order_for_target",
    "order_key",
    "positive_price",
    "replay",
    "to_decimal",
    "walk",
]
