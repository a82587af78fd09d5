"""Order sizing for a bot that moves between target states (flat, all-in long, all-in short)."""

from __future__ import annotations

from decimal import Decimal

from backend.domain.ledger.book import LedgerState, apply_fill, fill_price
from backend.domain.ledger.money import BPS, QUANTUM, ZERO, q_down


def _side_towards(state: LedgerState, target: int) -> str:
    if target > state.direction:
        return "buy"
    return "sell"


def _all_in_quantity(state: LedgerState, price: Decimal, fee_bps: Decimal) -> Decimal:
    """Units the whole equity buys at ``price`` after closing the current position and fees."""
    rate = fee_bps / BPS
    after_close = state.cash + state.position * price - abs(state.position) * price * rate
    if after_close <= 0:
        return ZERO
    return q_down(after_close / (price * (1 + rate)))


def order_for_target(
    state: LedgerState, *, target: int, reference_price: Decimal, fee_bps: Decimal, slippage_bps: Decimal
) -> tuple[str, Decimal] | None:
    """Return ``(side, quantity)`` moving the account to ``target`` (-1, 0, +1), or None.

    +1 puts the whole equity long and -1 the whole equity short (both after fees and slippage at
    ``reference_price``); 0 closes. An account already on the target's side is not resized.
    """
    if target not in (-1, 0, 1):
        raise ValueError(f"target {target} must be -1, 0 or 1")
    if target == state.direction:
        return None
    side = _side_towards(state, target)
    if target == 0:
        return side, abs(state.position)
    size = _all_in_quantity(state, fill_price(side, reference_price, slippage_bps), fee_bps)
    quantity = abs(target * size - state.position)
    # Quantizing the notional and the fee may overshoot the cash by a quantum or two.
    while side == "buy" and quantity > abs(state.position) and quantity > 0:
        after, _ = apply_fill(
            state,
            side=side,
            quantity=quantity,
            reference_price=reference_price,
            fee_bps=fee_bps,
            slippage_bps=slippage_bps,
        )
        if after.cash >= 0:
            break
        quantity -= QUANTUM
    return (side, quantity) if quantity > 0 else None
