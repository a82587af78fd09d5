"""exposure_of: an all-in long force-closed on the last bar is not 'leveraged'."""

from __future__ import annotations

import numpy as np

from backend.domain.audit.rerun import exposure_of
from backend.domain.backtest import engine
from backend.domain.backtest.types import BacktestConfig, Signals
from backend.domain.bars import Bars


def test_forced_close_on_the_last_bar_reads_flat_not_leveraged():
    closes = [100.0, 101.0, 102.0, 103.0, 104.0]
    bars = Bars.from_arrays(
        np.arange(5) * 60_000, closes, [c + 1 for c in closes], [c - 1 for c in closes], closes, [1.0] * 5
    )
    entries = np.array([True, False, False, False, False])
    signals = Signals(entries=entries, exits=np.zeros(5, dtype=bool))
    result = engine.run(bars, signals, BacktestConfig(initial_capital=1000.0, fee_bps=10.0))
    assert bool(result.trades["closed_at_end"][-1])
    exposure = exposure_of(result, bars)
    assert exposure[-1] == 0.0
    # While held, an all-in long (fees paid from cash) is at most fully invested.
    assert np.all(exposure[1:-1] <= 1.0 + 1e-12) and exposure[1] > 0.99
