"""Starter code strategies (``GET /api/strategies/templates``); SMA and RSI match the built-ins.

Each template is plain user code for the sandbox: ``PARAMS`` plus ``signals(bars, params)``.
``tests/sandbox`` checks that the SMA and RSI templates give exactly the built-in ``sma_cross``
and ``rsi`` signals.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Template:
    """A named starter strategy."""

    key: str
    title: str
    code: str


SMA_CROSS = '''\
"""SMA crossover: long when the fast average crosses above the slow one, out when it crosses below."""
from qyq import crossover, crossunder, sma

PARAMS = {
    "fast": {"type": "int", "default": 10, "min": 1, "max": 1000, "description": "Fast SMA period (bars)."},
    "slow": {"type": "int", "default": 30, "min": 2, "max": 5000, "description": "Slow SMA period (bars)."},
}


def signals(bars, params):
    fast = sma(bars.close, params["fast"])
    slow = sma(bars.close, params["slow"])
    up, down = crossover(fast, slow), crossunder(fast, slow)
    return {"entries": up, "exits": down, "short_entries": down, "short_exits": up}
'''

RSI = '''\
"""RSI thresholds: long while RSI is below `lower` (oversold), out while it is above `upper`."""
from qyq import rsi

PARAMS = {
    "period": {"type": "int", "default": 14, "min": 2, "max": 500, "description": "RSI period (bars)."},
    "lower": {"type": "float", "default": 30.0, "min": 0, "max": 100, "description": "Buy below this."},
    "upper": {"type": "float", "default": 70.0, "min": 0, "max": 100, "description": "Sell above this."},
}


def signals(bars, params):
    value = rsi(bars.close, params["period"])
    low, high = value < params["lower"], value > params["upper"]
    return {"entries": low, "exits": high, "short_entries": high, "short_exits": low}
'''

BOLLINGER = '''\
"""Bollinger breakout with an ATR filter: buy a close above the upper band when the range is wide
enough, sell a close back below the middle band."""
import numpy as np
from qyq import atr, bollinger, crossover, crossunder

PARAMS = {
    "period": {"type": "int", "default": 20, "min": 2, "max": 500, "description": "Band period (bars)."},
    "k": {"type": "float", "default": 2.0, "min": 0.5, "max": 5, "description": "Band width (std devs)."},
    "min_atr_pct": {"type": "float", "default": 0.0, "min": 0, "max": 50, "description": "Min ATR %."},
}


def signals(bars, params):
    upper, middle, _lower = bollinger(bars.close, params["period"], params["k"])
    wide = atr(bars.high, bars.low, bars.close, 14) / bars.close * 100 >= params["min_atr_pct"]
    entries = crossover(bars.close, upper) & wide
    exits = crossunder(bars.close, middle)
    return {"entries": entries, "exits": exits}
'''

TEMPLATES = (
    Template("sma_cross", "SMA crossover", SMA_CROSS),
    Template("rsi", "RSI thresholds", RSI),
    Template("bollinger_breakout", "Bollinger breakout", BOLLINGER),
)
