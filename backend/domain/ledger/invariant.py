"""The ledger check the API exposes: equity identity and replay agreement."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from backend.domain.ledger.book import Fill, LedgerState, replay


@dataclass(frozen=True)
class InvariantCheck:
    """Both sides of ``equity = cash + position * mark = capital + realised + unrealised``."""

    mark: Decimal
    cash: Decimal
    position: Decimal
    position_value: Decimal
    equity: Decimal  # cash + position * mark
    initial_capital: Decimal
    realised_pnl: Decimal  # net of fees
    unrealised_pnl: Decimal
    fees_paid: Decimal
    expected_equity: Decimal  # initial_capital + realised + unrealised
    difference: Decimal  # equity - expected_equity; 0 when the books balance
    replay_matches: bool  # re-booking every entry from scratch gives the stored state
    ok: bool


def check_invariant(
    state: LedgerState, mark: Decimal, entries: Iterable[Fill] | None = None
) -> InvariantCheck:
    """Check the equity identity at ``mark`` and, given ``entries``, that replaying them agrees."""
    equity = state.equity(mark)
    unrealised = state.unrealised_pnl(mark)
    expected = state.initial_capital + state.realised_pnl + unrealised
    matches = True
    if entries is not None:
        matches = replay(state.initial_capital, entries) == state
    return InvariantCheck(
        mark=mark,
        cash=state.cash,
        position=state.position,
        position_value=state.position_value(mark),
        equity=equity,
        initial_capital=state.initial_capital,
        realised_pnl=state.realised_pnl,
        unrealised_pnl=unrealised,
        fees_paid=state.fees_paid,
        expected_equity=expected,
        difference=equity - expected,
        replay_matches=matches,
        ok=(equity == expected) and matches,
    )
