"""Optional numba kernels for the engine's per-bar passes (and the result's chart), and the switch
that selects them.

Each kernel is a plain Python function over arrays that does, in one loop, what the numpy path does
in several whole-array passes (each of which allocates an n-long temporary; at 1M bars the page
faults of those temporaries cost more than the arithmetic). When numba is importable the kernels
are compiled with ``cache=True`` (machine code stored next to this file, or in numba's user cache
when that folder is read-only) on first use; ``warm_up()`` compiles or loads them ahead of the first
request. Without numba, or after ``use_jit(False)``, callers take their numpy path.

Every kernel repeats the numpy path's floating-point operations in the same order (no fastmath, no
reassociation), so signals, trades and per-bar arrays are bit-identical; metric sums use numpy's
pairwise summation scheme, so metrics agree to rounding (tests: tests/domain/backtest/test_jit_parity.py).
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from backend.domain.backtest.types import TRADE_DTYPE

F = TypeVar("F", bound=Callable[..., Any])

# numba is optional: the numpy path is complete without it. It is imported when the kernels are
# first asked for (``active()`` or ``warm_up()`` call ``_load``), not with this module: a process
# that never runs the engine (the web server, the scheduler) does not pay its ~120 MB resident
# (LLVM) at start-up.
AVAILABLE = importlib.util.find_spec("numba") is not None
_state = {"enabled": AVAILABLE, "loaded": False}
_KERNELS: dict[str, Callable[..., Any]] = {}  # public name -> Python function, in definition order
_loading = threading.Lock()


def use_jit(enabled: bool) -> bool:
    """Select the compiled kernels (when numba is installed) or the numpy path; return the old choice.

    Process-wide; meant for tests and benchmarks that compare both paths.
    """
    previous = _state["enabled"]
    _state["enabled"] = bool(enabled) and AVAILABLE
    return previous


def active() -> bool:
    """Return True when callers should use the compiled kernels (loading them on the first call)."""
    if _state["enabled"] and not _state["loaded"]:
        _load()
    return _state["enabled"]


def _kernel(fn: F) -> F:
    """Register ``fn`` as the kernel named like it without the leading underscore; return it.

    The module global holds the Python function until ``_load`` replaces it with the compiled one.
    """
    _KERNELS[fn.__name__.lstrip("_")] = fn
    return fn


def _load() -> None:
    """Replace every kernel global with its numba compilation (lazy, cached on disk).

    Kernels call each other through these globals, so numba sees the compiled ones.
    """
    with _loading:
        if _state["loaded"] or not AVAILABLE:
            return
        numba = importlib.import_module("numba")
        # error_model="numpy": x / 0 gives inf/nan like numpy instead of raising ZeroDivisionError.
        jit = numba.njit(cache=True, nogil=True, error_model="numpy")
        globals().update({name: jit(fn) for name, fn in _KERNELS.items()})
        _state["loaded"] = True


# --- signals ---------------------------------------------------------------------------------


def _window_sums(
    lev: np.ndarray, levels: int, length: int, base: int, a: int, b: int, out: np.ndarray
) -> None:
    """Set ``out[u - a]`` to the sum of the ``length`` values ending at u, for u in [max(a, length-1), b).

    ``lev[k, j]`` holds the sum of the 2**k values starting at input ``base + j``; the window adds
    the levels of ``length``'s set bits, lowest first, to 0.0 (as ``indicators.window_sum`` does).
    """
    first = max(a, length - 1)
    if first >= b:
        return
    # Whole-slice ufuncs with ``out=``: numba compiles them to vectorised loops without the
    # negative-index checks that per-element indexing carries, and without temporaries.
    target = out[first - a : b - a]
    target[:] = 0.0
    offset = 0
    for k in range(levels):
        if (length >> k) & 1:
            lo = first + offset - length + 1 - base
            np.add(target, lev[k, lo : lo + b - first], target)
            offset += 1 << k


window_sums = _kernel(_window_sums)


def _sma_cross_flags(
    close: np.ndarray, start: int, fast: int, slow: int, up: np.ndarray, down: np.ndarray
) -> None:
    """Set ``up``/``down`` where SMA(fast) crosses above/below SMA(slow) (see strategies.sma_cross).

    The window sums are built exactly like ``indicators.window_sum``: level k holds sums of 2**k
    consecutive values, each the sum of two level k-1 values, and a window sum adds the levels of
    the window length's set bits, lowest first. The bars are processed in blocks whose levels fit
    in a small scratch array, so nothing n-long is allocated. ``start`` is the first non-NaN close.
    """
    n = close.shape[0]
    m = n - start
    longest = max(fast, slow)
    levels = 1
    while (1 << levels) <= longest:
        levels += 1
    block = max(4096, longest)
    lev = np.empty((levels, block + longest))
    fast_sums = np.empty(block)
    slow_sums = np.empty(block)
    above_prev = False
    below_prev = False
    first_fast = n
    first_slow = n
    for a in range(0, m, block):
        b = min(a + block, m)
        base = max(a - longest + 1, 0)
        count = b - base
        lev[0, :count] = close[start + base : start + b]
        for k in range(1, levels):
            half, width = 1 << (k - 1), count - (1 << k) + 1
            if width > 0:
                np.add(lev[k - 1, :width], lev[k - 1, half : half + width], lev[k, :width])
        window_sums(lev, levels, fast, base, a, b, fast_sums)
        window_sums(lev, levels, slow, base, a, b, slow_sums)
        for u in range(a, b):
            t = start + u
            fast_value = fast_sums[u - a] / fast if u >= fast - 1 else math.nan
            slow_value = slow_sums[u - a] / slow if u >= slow - 1 else math.nan
            if first_fast == n and not math.isnan(fast_value):
                first_fast = t
            if first_slow == n and not math.isnan(slow_value):
                first_slow = t
            above = fast_value > slow_value
            below = slow_value > fast_value
            if t > 0:
                up[t] = above and not above_prev
                down[t] = below and not below_prev
            above_prev = above
            below_prev = below
    # No cross before both averages exist (and on the bar where the later one starts).
    clear = min(max(first_fast, first_slow) + 1, n)
    for t in range(clear):
        up[t] = False
        down[t] = False


sma_cross_flags = _kernel(_sma_cross_flags)


# --- engine ----------------------------------------------------------------------------------


def _target_state(
    long_in: np.ndarray, long_out: np.ndarray, short_in: np.ndarray, short_out: np.ndarray, out: np.ndarray
) -> None:
    """Write the state after each bar (+1/0/-1) into ``out`` (rules: engine.target_position)."""
    state = 0
    for t in range(long_in.shape[0]):
        command = int(long_in[t]) - int(short_in[t])
        if command != 0:
            state = command
        elif (state == 1 and long_out[t]) or (state == -1 and short_out[t]):
            state = 0
        out[t] = state


target_state = _kernel(_target_state)


def _expand_segments(
    fills: np.ndarray,
    seg_cash: np.ndarray,
    seg_qty: np.ndarray,
    close: np.ndarray,
    position: np.ndarray,
    equity: np.ndarray,
) -> None:
    """Fill per-bar position and equity (cash + position * close) from per-segment values.

    Segment s covers bars ``[fills[s-1], fills[s])`` (segment 0 starts at bar 0, the last ends at n).
    The per-bar cash is not written: the engine builds it only when it is read; nor is the
    position when ``position`` is empty (the engine's own runs: built when read, like the cash).
    """
    n = close.shape[0]
    write_position = position.shape[0] == n
    segment = 0
    next_fill = fills[0] if fills.shape[0] else n
    c = seg_cash[0]
    q = seg_qty[0]
    for t in range(n):
        while t == next_fill:
            segment += 1
            c = seg_cash[segment]
            q = seg_qty[segment]
            next_fill = fills[segment] if segment < fills.shape[0] else n
        if write_position:
            position[t] = q
        equity[t] = c + q * close[t]


expand_segments = _kernel(_expand_segments)


# --- metrics ---------------------------------------------------------------------------------


def _curve_value(equity: np.ndarray, initial: float, mean: float, power: int, i: int) -> float:
    """Return bar i's simple return ``r`` (``equity[i] / equity[i - 1] - 1``, the first from
    ``initial``) with ``power`` 1, else a power of its centred value ``c = r - mean``: ``c * c``
    (2), ``(c * c) * c`` (3), ``(c * c) * (c * c)`` (4): the same operations, in the same order,
    as ``metrics.bar_returns`` and the numpy moments, computed where they are summed."""
    prev = equity[i - 1] if i > 0 else initial
    r: float = equity[i] / prev - 1.0
    if power == 1:
        return r
    c = r - mean
    q = c * c
    if power == 2:
        return q
    if power == 3:
        return q * c
    return q * q


curve_value = _kernel(_curve_value)


def _pairwise_leaf(equity: np.ndarray, initial: float, mean: float, power: int, lo: int, count: int) -> float:
    """Sum values ``lo:lo + count`` (count <= 128) like numpy's pairwise leaf: 8 accumulators.

    The values are ``curve_value``'s (returns or powers of their centred values), made as they
    are added.
    """
    if count < 8:
        res = 0.0
        for i in range(lo, lo + count):
            res += curve_value(equity, initial, mean, power, i)
        return res
    r0 = curve_value(equity, initial, mean, power, lo)
    r1 = curve_value(equity, initial, mean, power, lo + 1)
    r2 = curve_value(equity, initial, mean, power, lo + 2)
    r3 = curve_value(equity, initial, mean, power, lo + 3)
    r4 = curve_value(equity, initial, mean, power, lo + 4)
    r5 = curve_value(equity, initial, mean, power, lo + 5)
    r6 = curve_value(equity, initial, mean, power, lo + 6)
    r7 = curve_value(equity, initial, mean, power, lo + 7)
    i = 8
    stop = count - count % 8
    while i < stop:
        b = lo + i
        r0 += curve_value(equity, initial, mean, power, b)
        r1 += curve_value(equity, initial, mean, power, b + 1)
        r2 += curve_value(equity, initial, mean, power, b + 2)
        r3 += curve_value(equity, initial, mean, power, b + 3)
        r4 += curve_value(equity, initial, mean, power, b + 4)
        r5 += curve_value(equity, initial, mean, power, b + 5)
        r6 += curve_value(equity, initial, mean, power, b + 6)
        r7 += curve_value(equity, initial, mean, power, b + 7)
        i += 8
    total: float = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < count:
        total += curve_value(equity, initial, mean, power, lo + i)
        i += 1
    return total


pairwise_leaf = _kernel(_pairwise_leaf)


def _pairwise_range(
    equity: np.ndarray, initial: float, mean: float, power: int, start: int, count: int
) -> float:
    """Sum the ``count`` values ``curve_value`` gives from bar ``start`` on (returns, or powers of
    their centred values) with numpy's pairwise scheme, without recursion and without an array of
    them.

    numpy splits a range at half its length (rounded down to a multiple of 8) until a piece has
    at most 128 values, and adds the two halves' sums. This walks the same tree with an explicit
    stack (numba's on-disk cache does not support recursive functions), so the sum is bit for bit
    ``values.sum()`` of the ``count``-long array the numpy path builds.
    """
    if count <= 128:
        return pairwise_leaf(equity, initial, mean, power, start, count)
    los = np.empty(64, dtype=np.int64)
    counts = np.empty(64, dtype=np.int64)
    left_sum = np.empty(64)
    left_done = np.zeros(64, dtype=np.bool_)
    sp = 0
    los[0], counts[0] = start, count
    ret = 0.0
    returned = False
    while True:
        c = counts[sp]
        half = c // 2
        half -= half % 8
        if returned:  # a child of node sp just finished with sum ``ret``
            if not left_done[sp]:
                left_sum[sp], left_done[sp] = ret, True
                sp += 1
                los[sp], counts[sp], left_done[sp] = los[sp - 1] + half, c - half, False
                returned = False
                continue
            ret = left_sum[sp] + ret
        elif c <= 128:
            ret = pairwise_leaf(equity, initial, mean, power, los[sp], c)
        else:
            sp += 1
            los[sp], counts[sp], left_done[sp] = los[sp - 1], half, False
            continue
        if sp == 0:
            return ret
        sp -= 1
        returned = True


pairwise_range = _kernel(_pairwise_range)


def _pairwise_sum(equity: np.ndarray, initial: float, mean: float, squared: bool) -> float:
    """Sum the curve's n returns, or with ``squared`` their squares centred on ``mean``
    (``pairwise_range`` over the whole curve): bit for bit ``values.sum()`` of the numpy path's."""
    return pairwise_range(equity, initial, mean, 2 if squared else 1, 0, equity.shape[0])


pairwise_sum = _kernel(_pairwise_sum)


def _curve_stats(equity: np.ndarray, initial: float, sums: np.ndarray) -> np.ndarray:
    """Return the equity-curve figures ``metrics.compute_metrics`` needs, from one pass per sum.

    The curve is ``[initial, *equity]``. Returned float64 vector: sum of returns, sum of squared
    centred returns, sum of squared negative returns, min drawdown, sum of squared drawdowns, max
    of the curve, start point of the longest stretch under a peak and its length in points. The
    per-bar returns are computed where they are used (the
    pairwise sums recompute them): nothing n-long is allocated. ``sums``: the first two figures
    when the caller has them already (``return_sums``: the guardrails need them too), else empty.
    """
    n = equity.shape[0]
    out = np.zeros(8)
    peak = initial
    prev = initial
    dd_min = 0.0
    dd_nan = False
    highest = initial
    last_peak = 0
    best_start = 0
    best_len = -1
    downside = 0.0
    for t in range(n):
        value = equity[t]
        r = value / prev - 1.0
        if r < 0:
            downside += r * r
        prev = value
        if value > peak or math.isnan(value):
            peak = value
        if not (value <= highest) and not math.isnan(highest):
            highest = value
        dd = value / peak - 1.0
        if math.isnan(dd):
            dd_nan = True
        elif dd < dd_min:
            dd_min = dd
        out[4] += dd * dd
        if dd >= 0:
            under = t - last_peak  # points strictly between the previous peak (point last_peak) and this one
            if under > best_len:
                best_len, best_start = under, last_peak
            last_peak = t + 1
    under = n - last_peak
    if under > best_len:
        best_len, best_start = under, last_peak
    if sums.shape[0] == 2:
        out[0] = sums[0]
        out[1] = sums[1]
    else:
        out[:2] = return_sums(equity, initial)
    out[2] = downside
    out[3] = math.nan if dd_nan else dd_min
    out[5] = highest
    out[6] = best_start
    out[7] = best_len
    return out


curve_stats = _kernel(_curve_stats)


def _return_sums(equity: np.ndarray, initial: float) -> np.ndarray:
    """Return [sum of the curve's returns, sum of their squares centred on the mean] (``pairwise_sum``)."""
    n = equity.shape[0]
    out = np.empty(2)
    total = pairwise_sum(equity, initial, 0.0, False)
    mean = total / n if n else 0.0
    out[0] = total
    out[1] = pairwise_sum(equity, initial, mean, True)
    return out


return_sums = _kernel(_return_sums)


def _moment_sums(equity: np.ndarray, initial: float, mean: float, chunk: int) -> np.ndarray:
    """Return [sum of the cubes, sum of the fourth powers] of the curve's returns centred on
    ``mean``: each summed ``chunk`` returns at a time (``pairwise_range``), the chunks' sums added
    left to right, as ``guardrails._third_and_fourth`` adds them from arrays (bit for bit)."""
    n = equity.shape[0]
    out = np.zeros(2)
    for lo in range(0, n, chunk):
        count = min(chunk, n - lo)
        out[0] += pairwise_range(equity, initial, mean, 3, lo, count)
        out[1] += pairwise_range(equity, initial, mean, 4, lo, count)
    return out


moment_sums = _kernel(_moment_sums)


# --- the result's chart ------------------------------------------------------------------------


def _kline_marks(
    n: int, size: int, exits: np.ndarray, entries: np.ndarray, side: np.ndarray, signal: np.ndarray
) -> None:
    """Set ``signal[g]`` (zeroed by the caller) to the mark of the first filled bar among bars
    ``g * size`` to ``g * size + size - 1`` of ``n``, as ``results.fill_points`` marks bars: exits
    (-side) first, then entries (+side), the last write on a bar winning (the opening fill wins
    a tie). Bars outside ``[0, n)`` mark nothing.

    One pass over the trades, instead of sorting their fills and searching the groups' starts.
    """
    first = np.full(signal.shape[0], n, dtype=np.int64)
    for pass_ in range(2):
        bars = exits if pass_ == 0 else entries
        sign = -1 if pass_ == 0 else 1
        g, lo, hi = 0, 0, 0  # bars lo..hi-1 are group g (trades come in time order: few divisions)
        for k in range(bars.shape[0]):
            b = bars[k]
            if b < lo or b >= hi:
                if b < 0 or b >= n:
                    continue
                g = b // size
                lo = g * size
                hi = lo + size
            if b <= first[g]:
                first[g] = b
                signal[g] = sign * side[k]


kline_marks = _kernel(_kline_marks)


def _copy_token(src: np.ndarray, at: int, out: np.ndarray, o: int) -> tuple[int, int]:
    """Copy ``src[at:]`` up to its next ``,`` or ``]`` to ``out[o:]``; return the positions after
    the delimiter in ``src`` and after the copy in ``out``."""
    c = src[at]
    while c != 44 and c != 93:  # "," and "]"
        out[o] = c
        o += 1
        at += 1
        c = src[at]
    return at + 1, o


copy_token = _kernel(_copy_token)


def _json_records(
    times: np.ndarray,
    values: np.ndarray,
    keys: np.ndarray,
    key_ends: np.ndarray,
    tails: np.ndarray,
    tail_ends: np.ndarray,
    tail_of: np.ndarray,
    out: np.ndarray,
) -> int:
    """Write the JSON text of ``len(tail_of)`` objects to ``out``; return its length in bytes.

    ``times`` is the JSON text (UTF-8 bytes) of a list of m numbers and ``values`` that of a list
    of m * k numbers, row by row (k = ``len(key_ends) - 1``); both as orjson writes them, without
    spaces. Object r is key 0 and time r, key j and value (r, j - 1) for each j, and tail
    ``tail_of[r]``: the keys and tails are byte strings laid end to end (``keys[key_ends[j - 1]:
    key_ends[j]]``). ``out`` must hold every byte (the callers size it from the parts).
    """
    m = tail_of.shape[0]
    k = key_ends.shape[0] - 1
    o = 0
    out[o] = 91  # "["
    o += 1
    ti = 1
    vi = 1
    for r in range(m):
        if r:
            out[o] = 44  # ","
            o += 1
        start = 0
        for j in range(k + 1):
            end = key_ends[j]
            for q in range(start, end):
                out[o] = keys[q]
                o += 1
            start = end
            if j == 0:
                ti, o = copy_token(times, ti, out, o)
            else:
                vi, o = copy_token(values, vi, out, o)
        t = tail_of[r]
        for q in range(tail_ends[t - 1] if t else 0, tail_ends[t]):
            out[o] = tails[q]
            o += 1
    out[o] = 93  # "]"
    return o + 1


json_records = _kernel(_json_records)


# --- guardrails --------------------------------------------------------------------------------


def _bootstrap_draws(
    raw: np.ndarray, first: int, bound: int, out: np.ndarray, filled: int
) -> tuple[int, int]:
    """Fill ``out[filled:]`` with integers in ``[0, bound)`` exactly as numpy's ``Generator.integers(0,
    bound)`` draws them (``bound`` < 2**32) from the generator's 32-bit stream, which ``raw`` holds as
    the bit generator's 64-bit outputs (``random_raw``: each word's low half, then its high half).

    Starts at 32-bit position ``first`` of ``raw``; returns (values filled, next position), stopping
    early when ``raw`` runs out. Lemire's multiply-shift with numpy's rejection (a value whose low
    product half is below ``2**32 % bound`` is skipped), as ``buffered_bounded_lemire_uint32`` does.
    A rejection is rare (below ``bound / 2**32`` per value), so whole words are first converted as if
    none happened, a loop without branches; if one did, those words are done again one by one.
    """
    bound_u = np.uint64(bound)
    mask = np.uint64(0xFFFFFFFF)
    shift = np.uint64(32)
    threshold = np.uint64(0x100000000) % bound_u
    size = out.shape[0]
    pos = first
    end = 2 * raw.shape[0]
    if pos % 2 == 0:
        words = min((end - pos) // 2, (size - filled) // 2)
        src = raw[pos // 2 :]  # views indexed from 0: the loop vectorises
        dst = out[filled:]
        rejected = False
        for w in range(words):
            word = src[w]
            low = (word & mask) * bound_u
            high = (word >> shift) * bound_u
            dst[2 * w] = low >> shift
            dst[2 * w + 1] = high >> shift
            rejected |= ((low & mask) < threshold) | ((high & mask) < threshold)
        if not rejected:
            filled += 2 * words
            pos += 2 * words
    while filled < size and pos < end:
        word = raw[pos // 2]
        product = ((word & mask) if pos % 2 == 0 else (word >> shift)) * bound_u
        pos += 1
        if (product & mask) >= threshold:
            out[filled] = product >> shift
            filled += 1
    return filled, pos


bootstrap_draws = _kernel(_bootstrap_draws)


def _bootstrap_paths(log_growth: np.ndarray, draws: np.ndarray, total: np.ndarray, worst: np.ndarray) -> None:
    """Set ``total[i]`` and ``worst[i]`` to the summed log growth of row i of ``draws`` and its worst
    fall below the running peak (the start, 0, included), adding left to right like ``np.cumsum``.

    Four rows go through the loop together: each row's sum is a chain of dependent additions, and
    four independent chains keep the CPU busy where one waits on each add. Every row still adds
    its own values in its own order, so the figures are those of one row at a time.
    """
    samples, n = draws.shape
    i = 0
    while i + 4 <= samples:
        l0 = l1 = l2 = l3 = 0.0
        p0 = p1 = p2 = p3 = 0.0
        w0 = w1 = w2 = w3 = 0.0
        for j in range(n):
            l0 += log_growth[draws[i, j]]
            l1 += log_growth[draws[i + 1, j]]
            l2 += log_growth[draws[i + 2, j]]
            l3 += log_growth[draws[i + 3, j]]
            p0 = max(p0, l0)
            p1 = max(p1, l1)
            p2 = max(p2, l2)
            p3 = max(p3, l3)
            w0 = min(w0, l0 - p0)
            w1 = min(w1, l1 - p1)
            w2 = min(w2, l2 - p2)
            w3 = min(w3, l3 - p3)
        total[i], total[i + 1], total[i + 2], total[i + 3] = l0, l1, l2, l3
        worst[i], worst[i + 1], worst[i + 2], worst[i + 3] = w0, w1, w2, w3
        i += 4
    for r in range(i, samples):
        level = 0.0
        peak = 0.0
        low = 0.0
        for j in range(n):
            level += log_growth[draws[r, j]]
            peak = max(peak, level)
            low = min(low, level - peak)
        total[r] = level
        worst[r] = low


bootstrap_paths = _kernel(_bootstrap_paths)


# numpy's PCG64 (the bit generator of ``default_rng``): a 128-bit LCG ``x -> x * M + inc`` whose
# 64-bit output is the XSL-RR of each new state. ``PCG64_LANES`` consecutive states step side by
# side, each by ``PCG64_LANES`` steps at once (``x -> x * M^L + inc * (M^(L-1) + ... + 1)``): the
# same words, in the same order, as ``random_raw``, but L independent chains of multiplies instead
# of one (numpy's own loop waits on each step's product: ~2.2 ns a word against ~1.2).
PCG64_LANES = 4
_M32 = np.uint64(0xFFFFFFFF)


def _pcg64_mul_add(hi: Any, lo: Any, mhi: Any, mlo: Any, chi: Any, clo: Any) -> tuple[Any, Any]:
    """Return ``(hi:lo) * (mhi:mlo) + (chi:clo)`` modulo 2**128 as (high, low) 64-bit halves."""
    s32 = np.uint64(32)
    a_lo, a_hi = mlo & _M32, mlo >> s32
    b_lo, b_hi = lo & _M32, lo >> s32
    p0, p1, p2, p3 = a_lo * b_lo, a_lo * b_hi, a_hi * b_lo, a_hi * b_hi
    mid = (p0 >> s32) + (p1 & _M32) + (p2 & _M32)
    carry_mul = p3 + (p1 >> s32) + (p2 >> s32) + (mid >> s32)  # the high half of lo * mlo
    new_lo = lo * mlo + clo
    carry = np.uint64(1) if new_lo < clo else np.uint64(0)
    return hi * mlo + lo * mhi + carry_mul + chi + carry, new_lo


pcg64_mul_add = _kernel(_pcg64_mul_add)


def _pcg64_output(hi: Any, lo: Any) -> Any:
    """Return PCG's XSL-RR output of a state: ``(hi ^ lo)`` rotated right by ``hi >> 58``."""
    x = hi ^ lo
    r = hi >> np.uint64(58)
    return (x >> r) | (x << ((np.uint64(64) - r) & np.uint64(63)))


pcg64_output = _kernel(_pcg64_output)


def _pcg64_words(lanes: np.ndarray, step: np.ndarray, out: np.ndarray) -> None:
    """Fill ``out`` (a multiple of ``PCG64_LANES`` long) with the generator's next 64-bit words.

    ``lanes``: (high, low) of each lane's state, lane j's the state whose output is the next word
    j; ``step``: (high, low) of the lanes' multiplier, then of their increment. Advances ``lanes``.
    """
    mhi, mlo, chi, clo = step[0], step[1], step[2], step[3]
    h0, l0, h1, l1 = lanes[0], lanes[1], lanes[2], lanes[3]
    h2, l2, h3, l3 = lanes[4], lanes[5], lanes[6], lanes[7]
    for k in range(0, out.shape[0], 4):
        out[k] = pcg64_output(h0, l0)
        out[k + 1] = pcg64_output(h1, l1)
        out[k + 2] = pcg64_output(h2, l2)
        out[k + 3] = pcg64_output(h3, l3)
        h0, l0 = pcg64_mul_add(h0, l0, mhi, mlo, chi, clo)
        h1, l1 = pcg64_mul_add(h1, l1, mhi, mlo, chi, clo)
        h2, l2 = pcg64_mul_add(h2, l2, mhi, mlo, chi, clo)
        h3, l3 = pcg64_mul_add(h3, l3, mhi, mlo, chi, clo)
    lanes[0], lanes[1], lanes[2], lanes[3] = h0, l0, h1, l1
    lanes[4], lanes[5], lanes[6], lanes[7] = h2, l2, h3, l3


pcg64_words = _kernel(_pcg64_words)


def _bootstrap_run(
    lanes: np.ndarray,
    step: np.ndarray,
    log_growth: np.ndarray,
    draws: np.ndarray,
    raw: np.ndarray,
    total: np.ndarray,
    worst: np.ndarray,
) -> None:
    """Run the whole compiled bootstrap in one call: ``len(total)`` rows of ``len(log_growth)``
    draws (``bootstrap_draws`` from ``pcg64_words``, refilling ``raw``), ``draws`` rows at a time,
    each block's ``total`` and ``worst`` from ``bootstrap_paths``.

    One call instead of a few hundred: on a job's thread each return to Python waits for the GIL.
    ``draws``: a C-contiguous (rows, n) uint32 buffer; ``raw``: a uint64 buffer, a multiple of
    ``PCG64_LANES`` long.
    """
    n = log_growth.shape[0]
    k = total.shape[0]
    rows = draws.shape[0]
    if draws.shape[1] != n or raw.shape[0] % PCG64_LANES or raw.shape[0] == 0:
        raise ValueError("bootstrap_run: draws must be (rows, n), raw a multiple of PCG64_LANES")
    flat = draws.reshape(-1)
    pos = 2 * raw.shape[0]  # every word used: the first fill starts the stream
    for start in range(0, k, rows):
        stop = min(k, start + rows)
        size = (stop - start) * n
        filled = 0
        while filled < size:
            if pos == 2 * raw.shape[0]:
                pcg64_words(lanes, step, raw)
                pos = 0
            filled, pos = bootstrap_draws(raw, pos, n, flat[:size], filled)
        bootstrap_paths(log_growth, draws[: stop - start], total[start:stop], worst[start:stop])


bootstrap_run = _kernel(_bootstrap_run)


def warm_up() -> None:
    """Compile (or load from numba's cache) every kernel now, e.g. when a worker process starts.

    Without it the first backtest in a process pays the compile (about a second on a cold cache,
    tens of ms from the cache). Does nothing without numba or after ``use_jit(False)``.
    """
    if not _state["enabled"]:
        return
    _load()
    close = np.linspace(1.0, 2.0, 8)
    flags = np.zeros(8, dtype=np.bool_)
    sma_cross_flags(close, 0, 2, 3, flags, flags.copy())
    state = np.zeros(8, dtype=np.int8)
    target_state(flags, flags, flags, flags, state)
    fills = np.array([2], dtype=np.int64)
    seg = np.ones(2)
    expand_segments(fills, seg, seg, close, np.empty(8), np.empty(8))
    curve_stats(close, 1.0, return_sums(close, 1.0))
    curve_stats(close, 1.0, np.empty(0))
    pairwise_sum(close, 1.0, 0.0, True)
    moment_sums(close, 1.0, 0.0, 4)
    trades = np.ones(2, dtype=TRADE_DTYPE)  # strided fields, as the caller passes them (not 1: contiguous)
    kline_marks(8, 3, trades["exit_index"], trades["entry_index"], trades["side"], state[:3])
    text = np.frombuffer(b"[1]", dtype=np.uint8)
    ends = np.array([1, 2], dtype=np.int64)
    json_records(text, text, text, ends, text, ends[:1], state[:1], np.empty(16, dtype=np.uint8))
    draws = np.zeros((2, 2), dtype=np.uint32)
    bootstrap_draws(np.arange(2, dtype=np.uint64), 0, 2, draws.reshape(-1), 0)
    bootstrap_paths(close, draws, np.empty(2), np.empty(2))
    lanes = np.ones(2 * PCG64_LANES, dtype=np.uint64)
    raw = np.empty(PCG64_LANES, dtype=np.uint64)
    bootstrap_run(lanes, np.ones(4, dtype=np.uint64), close[:2], draws, raw, np.empty(2), np.empty(2))
