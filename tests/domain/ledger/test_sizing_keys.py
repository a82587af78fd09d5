"""Order sizing, money conversion, idempotency keys and the runtime string."""

from decimal import Decimal as D

import pytest

from backend.domain.ledger import (
    BadNumber,
    LedgerState,
    apply_executed,
    apply_fill,
    format_runtime,
    order_for_target,
    order_key,
    to_decimal,
)


def test_all_in_buy_spends_equity_after_fee_without_overdraft():
    state = LedgerState.start(10000)
    side, qty = order_for_target(state, target=1, reference_price=D(100), fee_bps=D(10), slippage_bps=D(0))
    # 10000 / (100 * 1.001) = 99.900099900..., truncated to 1e-8
    assert (side, qty) == ("buy", D("99.90009990"))
    after, fill = apply_fill(
        state, side=side, quantity=qty, reference_price=D(100), fee_bps=D(10), slippage_bps=D(0)
    )
    assert fill.notional == D("9990.00999") and fill.fee == D("9.99000999")
    assert after.cash == D("0.00000001")


def test_close_and_flip_targets():
    state = LedgerState.start(1000)
    state, _ = apply_executed(state, side="buy", quantity=D(10), price=D(100), fee=D(0))
    assert (
        order_for_target(state, target=1, reference_price=D(100), fee_bps=D(0), slippage_bps=D(0)) is None
    )  # already long: not resized
    assert order_for_target(state, target=0, reference_price=D(90), fee_bps=D(0), slippage_bps=D(0)) == (
        "sell",
        D(10),
    )
    # flip at 125: equity 1250 -> short 10 units, so sell 20
    assert order_for_target(state, target=-1, reference_price=D(125), fee_bps=D(0), slippage_bps=D(0)) == (
        "sell",
        D(20),
    )


def test_flat_target_when_flat_is_no_order():
    assert (
        order_for_target(
            LedgerState.start(5), target=0, reference_price=D(1), fee_bps=D(0), slippage_bps=D(0)
        )
        is None
    )


def test_to_decimal_uses_shortest_float_repr_and_rejects_non_numbers():
    assert to_decimal(0.1) == D("0.1")
    assert to_decimal("12.50") == D("12.50")
    for bad in (float("nan"), float("inf"), "abc", True, None, "NaN", "-Infinity"):
        with pytest.raises(BadNumber):
            to_decimal(bad)


def test_order_key_is_derived_from_bot_bar_and_side():
    assert order_key("b1", 1_700_000_000_000, "buy") == "tick:b1:1700000000000:buy"
    assert order_key("b1", 1_700_000_000_000, "sell") != order_key("b1", 1_700_000_000_000, "buy")
    assert order_key("b1", 1, "buy") != order_key("b2", 1, "buy")
    with pytest.raises(ValueError):
        order_key("b1", 1, "close")


@pytest.mark.parametrize(
    "ms, text",
    [
        (0, "0m"),
        (59_999, "0m"),
        (7 * 60_000, "7m"),
        (90 * 60_000, "1h 30m"),
        (86_400_000, "1d 0h"),
        (15 * 86_400_000 + 8 * 3_600_000 + 59 * 60_000, "15d 8h"),
    ],
)
def test_format_runtime(ms, text):
    assert format_runtime(ms) == text


def test_format_runtime_rejects_negative():
    with pytest.raises(ValueError):
        format_runtime(-1)
