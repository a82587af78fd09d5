"""Decimal helpers for the paper ledger: conversion from engine floats and fixed quanta.

Every amount the ledger stores (cash, quantity, price, fee, PnL) is a ``Decimal`` quantized to
``QUANTUM`` (1e-8), so sums of stored amounts are exact and a NUMERIC column round-trips them.
"""

from __future__ import annotations

import math
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation

QUANTUM = Decimal("0.00000001")
BPS = Decimal(10000)
ZERO = Decimal(0)


class BadNumber(ValueError):
    """Raised when a price or amount is NaN, infinite or not a number at all."""


def to_decimal(value: object) -> Decimal:
    """Convert a float/int/str/Decimal to a finite Decimal; floats use their shortest repr."""
    if isinstance(value, bool):
        raise BadNumber(f"{value!r} is not a number")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise BadNumber(f"{value!r} is not a finite number")
        value = repr(value)
    try:
        result = Decimal(value)  # type: ignore[arg-type]
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise BadNumber(f"{value!r} is not a number") from exc
    if not result.is_finite():
        raise BadNumber(f"{value!r} is not a finite number")
    return result


def q(value: Decimal) -> Decimal:
    """Round to the ledger quantum, half to even (notionals, prices, basis)."""
    return value.quantize(QUANTUM, rounding=ROUND_HALF_EVEN)


def q_up(value: Decimal) -> Decimal:
    """Round to the ledger quantum, half up (fees: never under-charge by a half quantum)."""
    return value.quantize(QUANTUM, rounding=ROUND_HALF_UP)


def q_down(value: Decimal) -> Decimal:
    """Truncate to the ledger quantum towards zero (order sizes: never over-spend)."""
    return value.quantize(QUANTUM, rounding=ROUND_DOWN)


def positive_price(value: object) -> Decimal:
    """Return ``value`` as a Decimal price quantized to 1e-8; ``BadNumber`` unless finite and > 0."""
    price = q(to_decimal(value))
    if price <= 0:
        raise BadNumber(f"price {price} must be positive")
    return price
