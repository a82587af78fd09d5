"""Technical indicators over float64 arrays, vectorised with numpy.

Every function takes 1-D arrays of length n (one value per bar, oldest first) and returns float64
arrays of length n. Values that are not yet defined (warm-up) are NaN. The value at index ``t`` uses
inputs at indices ``<= t`` only, so an indicator never looks ahead. Leading NaNs in the input (for
example an indicator of an indicator) shift the warm-up; NaNs after the first valid value are not
supported (they propagate).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["first_valid", "window_sum", "sma", "ema", "rsi", "macd", "bbands", "atr"]

# Chunk length cap for the blocked linear recursion in ``_smooth``.
_MAX_BLOCK = 4096


Triple = tuple[np.ndarray, np.ndarray, np.ndarray]


def _as_float(x: ArrayLike) -> np.ndarray:
    """Return ``x`` as a contiguous 1-D float64 array."""
    arr = np.ascontiguousarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"expected a 1-D array, got shape {arr.shape}")
    return arr


def _check_period(n: int) -> int:
    """Return ``n`` as an int, raising ValueError unless it is a positive integer."""
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"period must be a positive integer, got {n!r}")
    return int(n)


def first_valid(x: np.ndarray) -> int:
    """Return the index of the first non-NaN value (len(x) if there is none)."""
    if len(x) and not np.isnan(x[0]):
        return 0
    finite = np.flatnonzero(~np.isnan(x))
    return int(finite[0]) if finite.size else len(x)


def window_sum(x: np.ndarray, n: int) -> np.ndarray:
    """Return the sums of every window of n consecutive values (length len(x) - n + 1).

    Built from power-of-two partial sums (O(len(x) * log2(n))): every addition combines values of
    similar size, so there is no running-sum drift, and it stays fast for long windows.
    """
    length = len(x) - n + 1
    out = np.zeros(length)
    level, size, offset = x, 1, 0  # level[i] = sum of x[i : i + size]
    while True:
        if n & size:
            out += level[offset : offset + length]
            offset += size
        if size * 2 > n:
            return out
        level = level[:-size] + level[size:]
        size *= 2


def sma(x: ArrayLike, n: int) -> np.ndarray:
    """Simple moving average of the last ``n`` values; NaN for the first ``n - 1`` valid bars."""
    x, n = _as_float(x), _check_period(n)
    out = np.full(len(x), np.nan)
    start = first_valid(x)
    if len(x) - start < n:
        return out
    out[start + n - 1 :] = window_sum(x[start:], n) / n
    return out


def _smooth(x: np.ndarray, alpha: float, seed_index: int, seed: float) -> np.ndarray:
    """Return y with y[seed_index] = seed and y[t] = y[t-1] + alpha * (x[t] - y[t-1]) after it.

    The recursion is evaluated in blocks: inside a block, y is a cumulative sum of geometrically
    weighted inputs (vectorised); only the carry between blocks is a Python loop.
    """
    out = np.full(len(x), np.nan)
    out[seed_index] = seed
    tail = x[seed_index + 1 :]
    if tail.size == 0:
        return out
    if alpha >= 1.0:
        out[seed_index + 1 :] = tail
        return out
    decay = 1.0 - alpha
    # Block length such that decay**-block stays far below float64 overflow.
    block = int(max(1, min(_MAX_BLOCK, 200.0 / -np.log(decay))))
    steps = np.arange(block, dtype=np.float64)
    carry = decay ** (steps + 1.0)  # weight of the previous block's last value
    inv = decay**-steps  # undo the decay inside a block ...
    scale = alpha * decay**steps  # ... and re-apply it after the cumulative sum
    prev = seed
    res = np.empty(tail.size)
    for s in range(0, tail.size, block):
        m = min(block, tail.size - s)
        acc = np.cumsum(np.multiply(tail[s : s + m], inv[:m], out=res[s : s + m]))
        np.multiply(acc, scale[:m], out=acc)
        acc += carry[:m] * prev
        res[s : s + m] = acc
        prev = acc[-1]
    out[seed_index + 1 :] = res
    return out


def ema(x: ArrayLike, n: int) -> np.ndarray:
    """Exponential moving average, alpha = 2 / (n + 1), seeded with the SMA of the first n values.

    The first value is at valid index ``n - 1`` (the TA-Lib convention); earlier values are NaN.
    """
    x, n = _as_float(x), _check_period(n)
    start = first_valid(x)
    if len(x) - start < n:
        return np.full(len(x), np.nan)
    seed_index = start + n - 1
    return _smooth(x, 2.0 / (n + 1), seed_index, float(np.mean(x[start : seed_index + 1])))


def _wilder(values: np.ndarray, n: int, first: int) -> np.ndarray:
    """Wilder smoothing (alpha = 1/n) of ``values[first:]``, seeded with their first-n mean."""
    if len(values) - first < n:
        return np.full(len(values), np.nan)
    seed_index = first + n - 1
    return _smooth(values, 1.0 / n, seed_index, float(np.mean(values[first : seed_index + 1])))


def rsi(close: ArrayLike, n: int = 14) -> np.ndarray:
    """Wilder's RSI in [0, 100]; first value at index n (it needs n price changes).

    Average gain and loss are seeded with the plain mean of the first n changes and then smoothed
    with alpha = 1/n. RSI = 100 * gain / (gain + loss): 100 when the average loss is 0, and 50 when
    both averages are 0 (a flat market).
    """
    close, n = _as_float(close), _check_period(n)
    out = np.full(len(close), np.nan)
    start = first_valid(close)
    if len(close) - start <= n:
        return out
    change = np.diff(close[start:])  # change[i] is the move into bar start + i + 1
    avg_gain = _wilder(np.maximum(change, 0.0), n, 0)[n - 1 :]
    avg_loss = _wilder(np.maximum(-change, 0.0), n, 0)[n - 1 :]
    total = avg_gain + avg_loss
    value = np.full(len(total), 50.0)
    np.divide(100.0 * avg_gain, total, out=value, where=total > 0)
    out[start + n :] = value
    return out


def macd(close: ArrayLike, fast: int = 12, slow: int = 26, signal: int = 9) -> Triple:
    """MACD: (line = EMA(fast) - EMA(slow), signal = EMA(line, signal), hist = line - signal).

    The line starts at index slow - 1, the signal and histogram at slow + signal - 2.
    """
    fast, slow, signal = _check_period(fast), _check_period(slow), _check_period(signal)
    if fast >= slow:
        raise ValueError(f"fast period ({fast}) must be below slow period ({slow})")
    close = _as_float(close)
    line = ema(close, fast) - ema(close, slow)
    sig = ema(line, signal)
    return line, sig, line - sig


def bbands(close: ArrayLike, n: int = 20, k: float = 2.0) -> Triple:
    """Bollinger Bands (upper, middle, lower): SMA(n) +/- k * population std of the last n closes.

    Costs O(n_bars * n) through a sliding window (exact, no running-sum cancellation).
    """
    close, n = _as_float(close), _check_period(n)
    middle = sma(close, n)
    std = np.full(len(close), np.nan)
    start = first_valid(close)
    if len(close) - start >= n:
        windows = np.lib.stride_tricks.sliding_window_view(close[start:], n)
        std[start + n - 1 :] = windows.std(axis=1)
    return middle + k * std, middle, middle - k * std


def atr(high: ArrayLike, low: ArrayLike, close: ArrayLike, n: int = 14) -> np.ndarray:
    """Average true range (Wilder); first value at index n.

    True range at t >= 1 is max(high - low, |high - close[t-1]|, |low - close[t-1]|); the ATR is
    seeded with the mean of the first n true ranges (indices 1..n) and then smoothed with 1/n.
    """
    high, low, close, n = _as_float(high), _as_float(low), _as_float(close), _check_period(n)
    if not len(high) == len(low) == len(close):
        raise ValueError("high, low and close must have the same length")
    tr = np.full(len(close), np.nan)
    if len(close) > 1:
        prev = close[:-1]
        tr[1:] = np.maximum.reduce([high[1:] - low[1:], np.abs(high[1:] - prev), np.abs(low[1:] - prev)])
    return _wilder(tr, n, 1) if len(close) > n else np.full(len(close), np.nan)
