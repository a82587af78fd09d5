"""Synthetic bars shared by the domain tests."""

from __future__ import annotations

import numpy as np

from backend.domain.bars import Bars


def random_bars(n: int, seed: int) -> Bars:
    """Return ``n`` one-minute bars of a seeded random walk (open = previous close, volume 1)."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.concatenate(([100.0], close[:-1]))
    return Bars.from_arrays(
        np.arange(n) * 60_000, open_, np.maximum(open_, close), np.minimum(open_, close), close, np.ones(n)
    )
