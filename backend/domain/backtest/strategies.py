"""Built-in strategies: pure functions from bars to signals, with a parameter schema.

No look-ahead: every signal at bar t is computed from indicator values at t and t-1, which use
closes up to t only. The engine fills it at bar t+1's open.

The registry maps a strategy kind to its spec. It is filled at import with the built-ins;
``register_strategy`` exists for plug-ins registered once at start-up (not per request).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, SupportsInt, cast

import numpy as np

from backend.domain.backtest import indicators, kernels
from backend.domain.backtest.types import Signals
from backend.domain.bars import Bars


def _finite(value: numbers.Real) -> bool:
    """Return True when ``value`` converts to a finite float."""
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


class ParamError(ValueError):
    """Raised when strategy parameters are unknown, missing, mistyped or out of range."""

    def __init__(self, fields: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items()))
        self.fields = fields


class UnknownStrategyError(LookupError):
    """Raised when no strategy is registered under the requested kind."""

    def __init__(self, kind: str):
        super().__init__(f"unknown strategy kind {kind!r}")
        self.kind = kind


@dataclass(frozen=True)
class ParamSpec:
    """One parameter: type ("int" or "float"), default, inclusive bounds and a description."""

    type: str
    default: Any
    min: float | None = None
    max: float | None = None
    description: str = ""

    def check(self, value: Any) -> tuple[Any, list[str]]:
        """Return (coerced value, error messages) for ``value``."""
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not _finite(value):
            return value, [f"Must be a {'whole number' if self.type == 'int' else 'number'}."]
        if self.type == "int":
            # numbers.Real does not declare __int__, but every real type in use (int, float, numpy) has it.
            whole = int(cast(SupportsInt, value))
            if whole != value:
                return value, ["Must be a whole number."]
            value = whole
        else:
            value = float(value)
        errors = []
        if self.min is not None and value < self.min:
            errors.append(f"Must be at least {self.min}.")
        if self.max is not None and value > self.max:
            errors.append(f"Must be at most {self.max}.")
        return value, errors


SignalsFn = Callable[[Bars, Mapping[str, Any]], Signals]
CheckFn = Callable[[Mapping[str, Any]], dict[str, list[str]]]


@dataclass(frozen=True)
class StrategySpec:
    """A strategy kind: title, parameter schema, a pure signals function and a cross-field check."""

    kind: str
    title: str
    params: dict[str, ParamSpec]
    signals: SignalsFn
    check: CheckFn | None = field(default=None, compare=False)


_REGISTRY: dict[str, StrategySpec] = {}


def register_strategy(spec: StrategySpec) -> StrategySpec:
    """Register ``spec`` under its kind (replacing an earlier one) and return it."""
    _REGISTRY[spec.kind] = spec
    return spec


def get_strategy(kind: str) -> StrategySpec:
    """Return the spec registered for ``kind`` or raise UnknownStrategyError."""
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise UnknownStrategyError(kind) from None


def list_strategies() -> list[StrategySpec]:
    """Return all registered specs, sorted by kind."""
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def validate_params(kind: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return ``params`` with defaults filled in, or raise ParamError naming every bad field."""
    spec = get_strategy(kind)
    given = dict(params or {})
    fields: dict[str, list[str]] = {}
    for name in sorted(set(given) - set(spec.params)):
        fields[name] = ["Unknown parameter."]
    clean: dict[str, Any] = {}
    for name, pspec in spec.params.items():
        if name not in given:
            if pspec.default is None:
                fields[name] = ["Missing data for required field."]
            else:
                clean[name] = pspec.default
            continue
        clean[name], errors = pspec.check(given[name])
        if errors:
            fields[name] = errors
    if not fields and spec.check is not None:
        fields = spec.check(clean)
    if fields:
        raise ParamError(fields)
    return clean


def _sma_cross_signals(bars: Bars, params: Mapping[str, Any]) -> Signals:
    """Long when SMA(fast) crosses above SMA(slow), out (or short) when it crosses below."""
    if kernels.active():  # the same sums and comparisons in one pass, without n-long temporaries
        close = np.ascontiguousarray(bars.close, dtype=np.float64)
        up, down = np.zeros(len(close), dtype=bool), np.zeros(len(close), dtype=bool)
        start = indicators.first_valid(close)
        kernels.sma_cross_flags(close, start, int(params["fast"]), int(params["slow"]), up, down)
        return Signals(entries=up, exits=down, short_entries=down, short_exits=up)
    fast = indicators.sma(bars.close, params["fast"])
    slow = indicators.sma(bars.close, params["slow"])
    # A cross up is a bar where fast > slow after a bar where it was not (NaN compares False);
    # a cross down is the mirror. Four vectorised passes.
    above, below = fast > slow, slow > fast
    up, down = np.zeros(len(fast), dtype=bool), np.zeros(len(fast), dtype=bool)
    np.greater(above[1:], above[:-1], out=up[1:])
    np.greater(below[1:], below[:-1], out=down[1:])
    # Before both averages exist "above" is False because of NaN, which is not a cross: clear it.
    start = max(indicators.first_valid(fast), indicators.first_valid(slow))
    up[: start + 1] = down[: start + 1] = False
    return Signals(entries=up, exits=down, short_entries=down, short_exits=up)


def _rsi_signals(bars: Bars, params: Mapping[str, Any]) -> Signals:
    """Long while RSI is below ``lower`` (oversold), out (or short) while it is above ``upper``."""
    value = indicators.rsi(bars.close, params["period"])
    low, high = value < params["lower"], value > params["upper"]
    return Signals(entries=low, exits=high, short_entries=high, short_exits=low)


def _fast_below_slow(p: Mapping[str, Any]) -> dict[str, list[str]]:
    """Require fast < slow."""
    return {} if p["fast"] < p["slow"] else {"fast": ["Must be below slow."]}


def _lower_below_upper(p: Mapping[str, Any]) -> dict[str, list[str]]:
    """Require lower < upper."""
    return {} if p["lower"] < p["upper"] else {"lower": ["Must be below upper."]}


register_strategy(
    StrategySpec(
        kind="sma_cross",
        title="SMA crossover",
        params={
            "fast": ParamSpec("int", 10, 1, 1000, "Fast SMA period (bars)."),
            "slow": ParamSpec("int", 30, 2, 5000, "Slow SMA period (bars)."),
        },
        signals=_sma_cross_signals,
        check=_fast_below_slow,
    )
)
register_strategy(
    StrategySpec(
        kind="rsi",
        title="RSI thresholds",
        params={
            "period": ParamSpec("int", 14, 2, 500, "RSI period (bars, Wilder smoothing)."),
            "lower": ParamSpec("float", 30.0, 0, 100, "Buy while RSI is below this level."),
            "upper": ParamSpec("float", 70.0, 0, 100, "Sell while RSI is above this level."),
        },
        signals=_rsi_signals,
        check=_lower_below_upper,
    )
)
