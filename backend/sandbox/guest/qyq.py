"""Indicators for user strategies: ``from qyq import sma, ema, rsi, bollinger, atr, crossover``.

These are the project's own indicator functions (backend/domain/backtest/indicators.py, mounted
read-only into the sandbox as ``_indicators``), so a strategy written with them computes exactly
what the built-in kinds compute. Every function takes 1-D arrays (one value per bar, oldest
first) and returns float64 arrays of the same length, NaN during warm-up; the value at bar t
uses bars up to t only.
"""

from __future__ import annotations

import numpy as np
from _indicators import atr, bbands, ema, first_valid, macd, rsi, sma  # type: ignore[import-not-found]
from numpy.typing import ArrayLike

__all__ = ["sma", "ema", "rsi", "macd", "bollinger", "atr", "crossover", "crossunder", "first_valid", "np"]


def bollinger(close: ArrayLike, n: int = 20, k: float = 2.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bollinger Bands (upper, middle, lower): SMA(n) +/- k population standard deviations."""
    return bbands(close, n, k)


def crossover(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """Bool array: True at bar t when a > b at t and not at t-1, with both defined at t-1.

    ``b`` may be a number (a level). Matches the built-in SMA crossover's cross detection.
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.broadcast_to(np.asarray(b, dtype=np.float64), x.shape)
    above = x > y
    defined = ~(np.isnan(x) | np.isnan(y))
    out = np.zeros(len(x), dtype=bool)
    out[1:] = above[1:] & ~above[:-1] & defined[:-1]
    return out


def crossunder(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """Bool array: True at bar t when a < b at t and not at t-1 (``crossover(b, a)``)."""
    x = np.asarray(a, dtype=np.float64)
    return crossover(np.broadcast_to(np.asarray(b, dtype=np.float64), x.shape), x)
