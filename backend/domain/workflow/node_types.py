"""The built-in trigger, data and action node types (``logic`` lives in ``logic.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from croniter import croniter

from backend.domain.backtest import indicators as ind
from backend.domain.marketdata.intervals import INTERVALS
from backend.domain.workflow.graph import Edge, Node
from backend.domain.workflow.nodes import (
    JOIN_PARAM,
    BarsFor,
    InputProblem,
    Inputs,
    NodeType,
    no_inputs_check,
)
from backend.domain.workflow.params import Param
from backend.domain.workflow.problems import INVALID_PARAMETER, MISSING_PARAMETER

PRICE_FIELDS = ("open", "high", "low", "close", "volume")
INDICATORS = ("price", "sma", "ema", "rsi", "macd", "bbands", "atr")
MULTI_OUTPUTS = {"macd": ("line", "signal", "hist"), "bbands": ("upper", "middle", "lower")}
ACTIONS = ("buy", "sell", "close", "notify")
NO_INPUTS: frozenset[str] = frozenset()


class TriggerNode(NodeType):
    """Start of a run: ``manual`` or ``cron`` (a 5-field expression in an IANA timezone)."""

    name = "trigger"
    output = "event"
    params = (
        Param("mode", "choice", choices=("manual", "cron"), default="manual"),
        Param("cron", "str"),
        Param("timezone", "str", default="UTC"),
    )

    def accepts(self, data: dict[str, Any]) -> frozenset[str]:
        """Take no inputs at all."""
        return NO_INPUTS

    def check(self, data: dict[str, Any]) -> list[tuple[str, str]]:
        """Check the mode and, for cron, the expression and timezone."""
        found = super().check(data)
        if self.p(data, "mode") != "cron":
            return found
        expr = data.get("cron")
        if not isinstance(expr, str) or not expr.strip():
            found.append((MISSING_PARAMETER, "parameter 'cron' is required when mode is cron"))
        elif not croniter.is_valid(expr) or len(expr.split()) != 5:
            message = f"parameter 'cron' is not a 5-field cron expression (got {expr!r})"
            found.append((INVALID_PARAMETER, message))
        tz = data.get("timezone", "UTC")
        try:
            ZoneInfo(str(tz))
        except (ZoneInfoNotFoundError, ValueError):
            found.append((INVALID_PARAMETER, f"parameter 'timezone' is not an IANA timezone (got {tz!r})"))
        return found


class DataNode(NodeType):
    """A price field or an indicator of one symbol/interval over the last ``lookback`` bars."""

    name = "data"
    output = "series"
    params = (
        Param("indicator", "choice", choices=INDICATORS, default="price"),
        Param("field", "choice", choices=PRICE_FIELDS, default="close"),
        Param("period", "int", minimum=1, maximum=10_000),
        Param("fast", "int", minimum=1, maximum=10_000, default=12),
        Param("slow", "int", minimum=1, maximum=10_000, default=26),
        Param("signal", "int", minimum=1, maximum=10_000, default=9),
        Param("k", "number", minimum=0, maximum=100, default=2.0),
        Param("output", "choice", choices=("line", "signal", "hist", "upper", "middle", "lower")),
        Param("symbol", "str"),
        Param("interval", "choice", choices=INTERVALS, default="1d"),
        Param("lookback", "int", minimum=1, maximum=100_000, default=300),
        JOIN_PARAM,
    )
    _default_period = {"rsi": 14, "atr": 14, "bbands": 20}

    def check(self, data: dict[str, Any]) -> list[tuple[str, str]]:
        """Check parameters, the period an average needs, and multi-output choices."""
        found = super().check(data)
        kind = data.get("indicator", "price")
        if kind in ("sma", "ema") and data.get("period") is None:
            found.append((MISSING_PARAMETER, f"parameter 'period' is required for {kind}"))
        if kind == "macd" and self.p(data, "fast") >= self.p(data, "slow"):
            found.append((INVALID_PARAMETER, "parameter 'fast' must be below 'slow' for macd"))
        out = data.get("output")
        if out is not None and out not in MULTI_OUTPUTS.get(kind, ()):
            found.append((INVALID_PARAMETER, f"parameter 'output' {out!r} does not apply to {kind}"))
        if not found and self.p(data, "lookback") < self.warmup(data):
            message = (
                f"parameter 'lookback' ({self.p(data, 'lookback')} bars) is shorter "
                f"than the {self.warmup(data)} bars {self.label(data)} needs for a value"
            )
            found.append((INVALID_PARAMETER, message))
        return found

    def warmup(self, data: dict[str, Any]) -> int:
        """Return how many bars the indicator needs before its first value."""
        kind = data.get("indicator", "price")
        if kind == "price":
            return 1
        if kind == "macd":
            return int(self.p(data, "slow")) + int(self.p(data, "signal")) - 1
        return self.period(data) + (1 if kind in ("rsi", "atr") else 0)

    def check_inputs(self, node: Node, edges: list[Edge]) -> list[InputProblem]:
        """Require a trigger or a logic branch feeding the node."""
        return no_inputs_check(node, edges)

    def period(self, data: dict[str, Any]) -> int:
        """Return the indicator period (with the indicator's default)."""
        return int(data.get("period") or self._default_period.get(str(data.get("indicator")), 14))

    def label(self, data: dict[str, Any]) -> str:
        """Return ``close``, ``SMA(10)``, ``MACD(12,26,9).hist``..."""
        kind, fld = data.get("indicator", "price"), str(self.p(data, "field"))
        if kind == "price":
            return fld
        if kind == "macd":
            base = f"MACD({self.p(data, 'fast')},{self.p(data, 'slow')},{self.p(data, 'signal')})"
        elif kind == "bbands":
            base = f"BB({self.period(data)},{self.p(data, 'k'):g})"
        else:
            base = f"{kind.upper()}({self.period(data)})"
        if kind in ("sma", "ema", "rsi") and fld != "close":
            base = f"{base[:-1]},{fld})"
        out = data.get("output") or MULTI_OUTPUTS.get(kind, ("",))[0]
        return f"{base}.{out}" if kind in MULTI_OUTPUTS else base

    def compute(self, node: Node, inputs: Inputs, bars_for: BarsFor) -> np.ndarray:
        """Return the field or indicator per bar (float64, NaN during warm-up)."""
        data, bars = node.data, bars_for(node)
        kind = data.get("indicator", "price")
        src: np.ndarray = getattr(bars, self.p(data, "field"))
        if kind == "price":
            return src
        if kind in ("sma", "ema", "rsi"):
            average: Callable[[np.ndarray, int], np.ndarray] = getattr(ind, kind)
            return average(src, self.period(data))
        if kind == "atr":
            return ind.atr(bars.high, bars.low, bars.close, self.period(data))
        if kind == "macd":
            parts = ind.macd(src, self.p(data, "fast"), self.p(data, "slow"), self.p(data, "signal"))
        else:
            parts = ind.bbands(src, self.period(data), float(self.p(data, "k")))
        names = MULTI_OUTPUTS[kind]
        return parts[names.index(data.get("output") or names[0])]


class ActionNode(NodeType):
    """What to do when reached: ``buy``/``sell``/``close`` (paper orders) or ``notify``."""

    name = "action"
    params = (
        Param("action", "choice", required=True, choices=ACTIONS),
        Param("bot_id", "str"),
        Param("symbol", "str"),
        Param("message", "str"),
        JOIN_PARAM,
    )

    def check_inputs(self, node: Node, edges: list[Edge]) -> list[InputProblem]:
        """Require something feeding the action."""
        return no_inputs_check(node, edges)

    def label(self, data: dict[str, Any]) -> str:
        """Return ``BUY``, ``NOTIFY``..."""
        return str(data.get("action", "action")).upper()
