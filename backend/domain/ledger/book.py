"""The paper ledger: one account holding cash and a signed position in one symbol.

Accounting (all ``Decimal``, quantized to 1e-8 by ``money``):

- ``position`` is a signed quantity (> 0 long, < 0 short).
- ``cost_basis`` is the signed entry notional of the open position (> 0 long, < 0 short);
  the average price is ``|cost_basis| / |position|``.
- ``realised_pnl`` is net of fees: every fee is charged to it when paid, and closing part of a
  position adds ``proceeds - closed basis``.
- Hence ``cash + cost_basis == initial_capital + realised_pnl`` exactly after every fill, and with
  ``unrealised = position * mark - cost_basis`` the invariant
  ``equity = cash + position * mark = initial_capital + realised + unrealised`` holds exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal

from backend.domain.ledger.money import BPS, ZERO, q, q_up, to_decimal

SIDES = ("buy", "sell")


@dataclass(frozen=True)
class LedgerState:
    """Account state after some fills (money in the bot's currency, quantity in units)."""

    initial_capital: Decimal
    cash: Decimal
    position: Decimal = ZERO
    cost_basis: Decimal = ZERO
    realised_pnl: Decimal = ZERO
    fees_paid: Decimal = ZERO

    @classmethod
    def start(cls, capital: object) -> LedgerState:
        """Return a flat account holding ``capital`` in cash (must be finite and > 0)."""
        amount = q(to_decimal(capital))
        if amount <= 0:
            raise ValueError(f"capital {amount} must be positive")
        return cls(initial_capital=amount, cash=amount)

    @property
    def avg_price(self) -> Decimal:
        """Average entry price of the open position (0 when flat)."""
        if self.position == 0:
            return ZERO
        return q(abs(self.cost_basis) / abs(self.position))

    @property
    def direction(self) -> int:
        """Return +1 long, -1 short, 0 flat."""
        return (self.position > 0) - (self.position < 0)

    def position_value(self, mark: Decimal) -> Decimal:
        """Signed market value of the position at ``mark``."""
        return q(self.position * mark)

    def unrealised_pnl(self, mark: Decimal) -> Decimal:
        """Gain of the open position at ``mark`` against its cost basis."""
        return self.position_value(mark) - self.cost_basis

    def equity(self, mark: Decimal) -> Decimal:
        """Cash plus the position marked at ``mark``."""
        return self.cash + self.position_value(mark)


@dataclass(frozen=True)
class Fill:
    """One executed paper trade and what it did to the account."""

    side: str  # "buy" | "sell"
    quantity: Decimal  # > 0
    price: Decimal  # executed price (reference price moved by slippage)
    fee: Decimal
    notional: Decimal  # quantity * price, quantized
    realised_pnl: Decimal  # change of realised PnL (net of this fee)
    cash_delta: Decimal


def fill_price(side: str, reference: Decimal, slippage_bps: Decimal) -> Decimal:
    """Move ``reference`` against the trader by ``slippage_bps`` (buys pay more, sells get less)."""
    sign = 1 if side == "buy" else -1
    return q(reference * (1 + sign * slippage_bps / BPS))


def fee_for(notional: Decimal, fee_bps: Decimal) -> Decimal:
    """Fee charged on ``notional`` at ``fee_bps`` basis points, rounded half up to 1e-8."""
    return q_up(abs(notional) * fee_bps / BPS)


def _check_order(side: str, quantity: Decimal, price: Decimal, fee: Decimal) -> None:
    if side not in SIDES:
        raise ValueError(f"side {side!r} must be buy or sell")
    if quantity <= 0:
        raise ValueError(f"quantity {quantity} must be positive")
    if price <= 0:
        raise ValueError(f"price {price} must be positive")
    if fee < 0:
        raise ValueError(f"fee {fee} must not be negative")


def apply_executed(
    state: LedgerState, *, side: str, quantity: Decimal, price: Decimal, fee: Decimal
) -> tuple[LedgerState, Fill]:
    """Book a trade executed at ``price`` with ``fee``; reduces, closes or flips the position."""
    _check_order(side, quantity, price, fee)
    sign = 1 if side == "buy" else -1
    notional = q(quantity * price)
    closed = ZERO
    if state.direction == -sign:
        closed = min(quantity, abs(state.position))
    if closed == 0:
        basis_closed, closed_notional = ZERO, ZERO
    elif closed == abs(state.position):
        basis_closed = state.cost_basis
        closed_notional = notional if closed == quantity else q(closed * price)
    else:
        basis_closed = q(state.cost_basis * closed / abs(state.position))
        closed_notional = notional
    realised = -sign * closed_notional - basis_closed - fee
    cash_delta = -sign * notional - fee
    new_state = replace(
        state,
        cash=state.cash + cash_delta,
        position=state.position + sign * quantity,
        cost_basis=state.cost_basis - basis_closed + sign * (notional - closed_notional),
        realised_pnl=state.realised_pnl + realised,
        fees_paid=state.fees_paid + fee,
    )
    return new_state, Fill(side, quantity, price, fee, notional, realised, cash_delta)


def apply_fill(
    state: LedgerState,
    *,
    side: str,
    quantity: Decimal,
    reference_price: Decimal,
    fee_bps: Decimal,
    slippage_bps: Decimal,
) -> tuple[LedgerState, Fill]:
    """Fill a market order at ``reference_price`` moved by slippage, charging ``fee_bps``."""
    price = fill_price(side, reference_price, slippage_bps)
    fee = fee_for(q(quantity * price), fee_bps)
    return apply_executed(state, side=side, quantity=quantity, price=price, fee=fee)


def replay(initial_capital: Decimal, fills: Iterable[Fill]) -> LedgerState:
    """Rebuild the account from its starting capital and executed fills, in order."""
    state = LedgerState.start(initial_capital)
    for fill in fills:
        state, _ = apply_executed(
            state, side=fill.side, quantity=fill.quantity, price=fill.price, fee=fill.fee
        )
    return state
