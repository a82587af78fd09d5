"""Ledger accounting pinned by hand-computed Decimal scenarios."""

from decimal import Decimal as D

import pytest

from backend.domain.ledger import LedgerState, apply_executed, apply_fill, check_invariant, replay


def _buy_10_at_100_1():
    """Capital 10000; buy 10 at ref 100 with 10 bps slippage and 10 bps fee."""
    state = LedgerState.start("10000")
    return apply_fill(
        state, side="buy", quantity=D(10), reference_price=D(100), fee_bps=D(10), slippage_bps=D(10)
    )


def test_buy_moves_price_charges_fee_and_books_cash():
    state, fill = _buy_10_at_100_1()
    # price 100 * 1.001 = 100.1; notional 1001; fee 1001 * 0.001 = 1.001
    assert fill.price == D("100.1")
    assert fill.notional == D("1001")
    assert fill.fee == D("1.001")
    assert state.cash == D("8997.999")  # 10000 - 1001 - 1.001
    assert state.position == D(10)
    assert state.avg_price == D("100.1")
    assert state.realised_pnl == D("-1.001")  # the entry fee
    assert state.fees_paid == D("1.001")


def test_unrealised_and_equity_identity_at_mark():
    state, _ = _buy_10_at_100_1()
    check = check_invariant(state, D(105))
    assert check.position_value == D(1050)
    assert check.unrealised_pnl == D(49)  # 1050 - 1001
    assert check.equity == D("10047.999")  # 8997.999 + 1050
    assert check.expected_equity == D("10047.999")  # 10000 - 1.001 + 49
    assert check.difference == 0 and check.ok


def test_partial_then_full_close_realises_pnl_net_of_fees():
    state, _ = _buy_10_at_100_1()
    # sell 4 at 110 * 0.999 = 109.89: notional 439.56, fee 0.43956, basis closed 400.4
    state, fill = apply_fill(
        state, side="sell", quantity=D(4), reference_price=D(110), fee_bps=D(10), slippage_bps=D(10)
    )
    assert fill.price == D("109.89")
    assert fill.realised_pnl == D("38.72044")  # 439.56 - 400.4 - 0.43956
    assert state.cash == D("9437.11944")
    assert state.position == D(6) and state.avg_price == D("100.1")
    # sell the last 6 at 90 without costs: 540 - 600.6 = -60.6
    state, fill = apply_fill(
        state, side="sell", quantity=D(6), reference_price=D(90), fee_bps=D(0), slippage_bps=D(0)
    )
    assert fill.realised_pnl == D("-60.6")
    assert state.position == 0 and state.cost_basis == 0
    assert state.realised_pnl == D("-22.88056")  # -1.001 + 38.72044 - 60.6
    assert state.cash == D("9977.11944")  # 10000 - 22.88056
    assert state.fees_paid == D("1.44056")


def test_short_then_cover():
    state = LedgerState.start(1000)
    state, _ = apply_executed(state, side="sell", quantity=D(5), price=D(100), fee=D(0))
    assert state.cash == D(1500) and state.position == D(-5) and state.cost_basis == D(-500)
    assert state.avg_price == D(100)
    check = check_invariant(state, D(90))
    assert check.equity == D(1050) and check.unrealised_pnl == D(50) and check.ok
    state, fill = apply_executed(state, side="buy", quantity=D(5), price=D(90), fee=D(1))
    assert fill.realised_pnl == D(49)  # 500 - 450 - 1
    assert state.cash == D(1049) and state.position == 0 and state.realised_pnl == D(49)


def test_flip_long_to_short_in_one_fill():
    state = LedgerState.start(1000)
    state, _ = apply_executed(state, side="buy", quantity=D(10), price=D(100), fee=D(0))
    state, fill = apply_executed(state, side="sell", quantity=D(15), price=D(120), fee=D(0))
    assert fill.realised_pnl == D(200)  # 10 * (120 - 100)
    assert state.position == D(-5)
    assert state.cost_basis == D(-600) and state.avg_price == D(120)
    assert state.cash == D(1800)
    assert check_invariant(state, D(120)).equity == D(1200)


def test_partial_close_with_repeating_average_stays_exact():
    state = LedgerState.start(100)
    state, _ = apply_executed(state, side="buy", quantity=D(3), price=D("33.33333333"), fee=D(0))
    state, fill = apply_executed(state, side="sell", quantity=D(1), price=D(40), fee=D(0))
    # basis closed = 99.99999999 / 3 = 33.33333333
    assert fill.realised_pnl == D("6.66666667")
    assert state.cost_basis == D("66.66666666")
    for mark in (D("0.01"), D("33.3"), D("1234.56789")):
        assert check_invariant(state, mark).difference == 0


def test_replay_rebuilds_state_and_detects_tampering():
    state, first = _buy_10_at_100_1()
    state, second = apply_fill(
        state, side="sell", quantity=D(4), reference_price=D(110), fee_bps=D(10), slippage_bps=D(10)
    )
    assert replay(D(10000), [first, second]) == state
    assert check_invariant(state, D(100), [first, second]).replay_matches
    bad = check_invariant(state, D(100), [first])
    assert not bad.replay_matches and not bad.ok


@pytest.mark.parametrize(
    "kwargs",
    [
        {"side": "hold", "quantity": D(1), "price": D(1), "fee": D(0)},
        {"side": "buy", "quantity": D(0), "price": D(1), "fee": D(0)},
        {"side": "buy", "quantity": D(1), "price": D(-1), "fee": D(0)},
        {"side": "buy", "quantity": D(1), "price": D(1), "fee": D(-1)},
    ],
)
def test_invalid_orders_are_rejected(kwargs):
    with pytest.raises(ValueError):
        apply_executed(LedgerState.start(100), **kwargs)


@pytest.mark.parametrize("capital", ["0", "-5", "nan", "inf", float("nan")])
def test_capital_must_be_finite_and_positive(capital):
    with pytest.raises(ValueError):
        LedgerState.start(capital)
