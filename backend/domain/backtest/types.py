"""Value types of the backtest engine: signals, configuration, trade records and results.

Units: times are Unix ms (int64), prices/quantities/money float64 in the quote currency,
percentages are numbers in percent (12.5 means 12.5 %), fees and slippage in basis points.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import numpy as np
from numpy.typing import ArrayLike

SIZING_MODES = ("all_in", "fixed_fraction")

# One closed (or force-closed) round trip. side: +1 long, -1 short. ``closed_at_end`` is True when
# the position was still open on the last bar and was closed at that bar's close.
TRADE_DTYPE = np.dtype(
    [
        ("entry_index", np.int64),
        ("exit_index", np.int64),
        ("entry_time", np.int64),
        ("exit_time", np.int64),
        ("side", np.int8),
        ("entry_price", np.float64),
        ("exit_price", np.float64),
        ("quantity", np.float64),  # units, always positive
        ("pnl", np.float64),  # net of both fees, quote currency
        ("fees", np.float64),  # entry + exit fee
        ("return_pct", np.float64),  # pnl / (quantity * entry_price) * 100
        ("holding_ms", np.int64),  # exit_time - entry_time
        ("closed_at_end", np.bool_),
    ]
)


def _bool_array(values: ArrayLike, name: str, n: int | None) -> np.ndarray:
    """Return ``values`` as a bool array, checking its length against ``n``."""
    arr = np.ascontiguousarray(values, dtype=bool)
    if arr.ndim != 1 or (n is not None and len(arr) != n):
        raise ValueError(f"signals.{name} must be 1-D with {n} values, got shape {arr.shape}")
    return arr


@dataclass(frozen=True)
class Signals:
    """Boolean signal arrays, one value per bar.

    A True at bar t is decided on bar t's close (with data up to t) and acts at bar t+1's open.
    ``exits`` close a long, ``short_exits`` close a short; the short arrays are used only when
    the config allows shorts.
    """

    entries: np.ndarray
    exits: np.ndarray
    short_entries: np.ndarray | None = None
    short_exits: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(np.asarray(self.entries))
        for name in ("entries", "exits", "short_entries", "short_exits"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _bool_array(value, name, n))

    def __len__(self) -> int:
        return len(self.entries)


@dataclass(frozen=True)
class BacktestConfig:
    """Broker settings for one run.

    ``fee_bps`` is charged on the notional of every fill (entry and exit); ``slippage_bps`` moves
    every fill price against the trader (buys higher, sells lower). ``sizing="all_in"`` commits
    all cash on entry; ``"fixed_fraction"`` commits ``fraction`` of the equity at entry.
    ``lot_size`` > 0 rounds quantities down to a multiple of it (0 = fractional units).
    """

    initial_capital: float = 10000.0
    fee_bps: float = 0.0
    slippage_bps: float = 0.0
    sizing: str = "all_in"
    fraction: float = 1.0
    allow_short: bool = False
    lot_size: float = 0.0

    def __post_init__(self) -> None:
        checks = [
            (np.isfinite(self.initial_capital) and self.initial_capital > 0, "initial_capital must be > 0"),
            (0 <= self.fee_bps < 1000, "fee_bps must be in [0, 1000)"),
            (0 <= self.slippage_bps < 1000, "slippage_bps must be in [0, 1000)"),
            (self.sizing in SIZING_MODES, f"sizing must be one of {SIZING_MODES}"),
            (0 < self.fraction <= 1, "fraction must be in (0, 1]"),
            (self.lot_size >= 0, "lot_size must be >= 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def commit_fraction(self) -> float:
        """Return the share of equity committed on entry."""
        return 1.0 if self.sizing == "all_in" else float(self.fraction)


@dataclass(frozen=True, init=False)
class BacktestResult:
    """Arrays of one run, each of length n (one value per bar, after that bar's close).

    ``position`` is the signed quantity held during the bar (filled at its open); ``cash`` and
    ``equity`` (cash + position * close) are in the quote currency. ``target`` is the signal
    state after each bar (+1/0/-1). ``trades`` is a TRADE_DTYPE record array.

    ``cash`` and ``position`` may each be given as a function of no arguments that returns it: it
    is then built on first read and kept. The engine's compiled path does that, since a backtest job
    reads neither (equity already includes them; the exposure needs only ``held_bars``, which the
    engine counts from its segments) and at 1M bars each is 8 MB.
    """

    equity: np.ndarray
    target: np.ndarray
    trades: np.ndarray
    config: BacktestConfig
    _position: np.ndarray | Callable[[], np.ndarray] = field(repr=False)
    _cash: np.ndarray | Callable[[], np.ndarray] = field(repr=False)
    _held: int | None = field(repr=False)

    def __init__(
        self,
        equity: np.ndarray,
        cash: np.ndarray | Callable[[], np.ndarray],
        position: np.ndarray | Callable[[], np.ndarray],
        target: np.ndarray,
        trades: np.ndarray,
        config: BacktestConfig | None = None,
        *,
        held_bars: int | None = None,
    ) -> None:
        values = (equity, target, trades, config or BacktestConfig(), position, cash, held_bars)
        for name, value in zip(
            ("equity", "target", "trades", "config", "_position", "_cash", "_held"), values, strict=True
        ):
            object.__setattr__(self, name, value)

    @property
    def cash(self) -> np.ndarray:
        """Return the cash after each bar (built now when it was given as a function)."""
        if callable(self._cash):
            object.__setattr__(self, "_cash", self._cash())
        return cast(np.ndarray, self._cash)

    @property
    def position(self) -> np.ndarray:
        """Return the quantity held during each bar (built now when it was given as a function)."""
        if callable(self._position):
            object.__setattr__(self, "_position", self._position())
        return cast(np.ndarray, self._position)

    @property
    def held_bars(self) -> int:
        """Return how many bars hold a position (``position != 0``), counted once."""
        if self._held is None:
            object.__setattr__(self, "_held", int(np.count_nonzero(self.position)))
        return cast(int, self._held)

    @property
    def final_equity(self) -> float:
        """Return the equity after the last bar (the initial capital when there are no bars)."""
        return float(self.equity[-1]) if len(self.equity) else float(self.config.initial_capital)
