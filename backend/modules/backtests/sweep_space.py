"""Parameter spaces of a sweep: parse, count, expand (grid or seeded random), and score the result.

Pure functions (no Flask, no SQL), so the rules are tested without a database:

- A space maps a parameter name to a list of values (``[5, 10, 20]``; numbers or strings) or to an
  inclusive numeric range ``{"min": 5, "max": 50, "step": 5}``. A grid needs a step on every range
  (without one the grid is unbounded); a random sweep may leave it out and then draws uniformly
  (whole numbers when ``min`` and ``max`` are).
- ``grid`` enumerates every combination, the first parameter varying slowest (``itertools.product``
  order); ``random`` draws ``samples`` distinct grid points with ``random.Random(seed)``, or
  ``samples`` uniform draws when a range has no step. Both are deterministic: a chunk re-expands
  the space and takes its slice, so no point list is stored.
- The guardrails of a finished sweep (the deflated Sharpe ratio of the best of N trials) come from
  ``backend.domain.backtest.guardrails``, the same functions every backtest result uses.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Value = int | float | str
Point = dict[str, Value]

_DIGITS = 12  # stepped values are rounded to this many decimals (0.1 * 3 is 0.3, not 0.30000000000000004)
# Largest magnitude of a swept number: far beyond any strategy parameter, and small enough that
# ranges and their sizes stay finite floats (a JSON integer of 400 digits is not a float at all).
MAX_MAGNITUDE = 1e12
# An axis size no limit reaches (a range like 0..1e12 by 1e-300 has more points than a float holds).
_HUGE = 2**62


class SpaceError(ValueError):
    """A parameter space that cannot be swept; ``fields`` names each bad field (``space.fast.step``)."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items()))
        self.fields = fields


@dataclass(frozen=True)
class Axis:
    """One swept parameter: explicit ``values``, or a numeric range (``step`` None: continuous)."""

    name: str
    values: tuple[Value, ...] | None = None
    low: float = 0.0
    high: float = 0.0
    step: float | None = None
    whole: bool = False  # a range of whole numbers (min, max and step are ints)

    @property
    def size(self) -> int | None:
        """Return how many values the axis holds (None for a continuous range)."""
        if self.values is not None:
            return len(self.values)
        if self.step is None:
            return None
        steps = (self.high - self.low) / self.step
        if not math.isfinite(steps) or steps >= _HUGE:
            return _HUGE
        return int(math.floor(steps + 1e-9)) + 1

    def value(self, i: int) -> Value:
        """Return the axis's ``i``-th value."""
        if self.values is not None:
            return self.values[i]
        step = self.step or 0.0
        if self.whole:
            return int(self.low) + i * int(step)
        return round(self.low + i * step, _DIGITS)

    def draw(self, rng: random.Random) -> Value:
        """Return a uniform draw from a continuous range."""
        if self.whole:
            return rng.randint(int(self.low), int(self.high))
        return rng.uniform(self.low, self.high)


def _number(value: Any) -> bool:
    """Return whether ``value`` is a JSON number within ±MAX_MAGNITUDE (booleans are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return -MAX_MAGNITUDE <= value <= MAX_MAGNITUDE  # False for NaN; exact for huge ints (no float())


def _list_axis(name: str, raw: list[Any]) -> tuple[Axis | None, list[str]]:
    if not raw:
        return None, ["Give at least one value."]
    if not all(_number(v) or isinstance(v, str) for v in raw):
        return None, ["Values must be numbers (within ±1e12) or strings."]
    unique = tuple(dict.fromkeys(raw))  # duplicates would only repeat runs
    return Axis(name, values=unique), []


def _range_axis(name: str, raw: Mapping[str, Any], method: str) -> tuple[Axis | None, dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(raw) - {"min", "max", "step"})
    for key in unknown:
        errors[f"space.{name}.{key}"] = ["Unknown field; use min, max and step."]
    for key in ("min", "max"):
        if key not in raw:
            errors[f"space.{name}.{key}"] = ["Missing: a range needs min and max (else it is unbounded)."]
        elif not _number(raw[key]):
            errors[f"space.{name}.{key}"] = ["Must be a number within ±1e12."]
    step = raw.get("step")
    if step is None:
        if method == "grid":
            errors[f"space.{name}.step"] = ["A grid needs a step (else the range is unbounded)."]
    elif not _number(step):
        errors[f"space.{name}.step"] = ["Must be a number within ±1e12."]
    elif step <= 0:
        errors[f"space.{name}.step"] = ["Must be greater than 0."]
    if errors:
        return None, errors
    low, high = raw["min"], raw["max"]
    if low > high:
        return None, {f"space.{name}.max": ["Must be at least min."]}
    whole = all(isinstance(v, int) for v in (low, high, step if step is not None else 0))
    return Axis(
        name, low=float(low), high=float(high), step=None if step is None else float(step), whole=whole
    ), {}


def parse_space(raw: Any, *, method: str) -> list[Axis]:
    """Return the axes of ``raw`` (in the given order) or raise SpaceError naming every bad field."""
    if not isinstance(raw, Mapping) or not raw:
        raise SpaceError({"space": ["Give at least one parameter to sweep."]})
    axes: list[Axis] = []
    errors: dict[str, list[str]] = {}
    for name, spec in raw.items():
        if isinstance(spec, list):
            axis, messages = _list_axis(name, spec)
            if messages:
                errors[f"space.{name}"] = messages
        elif isinstance(spec, Mapping):
            axis, field_errors = _range_axis(name, spec, method)
            errors.update(field_errors)
        else:
            axis = None
            errors[f"space.{name}"] = ["Must be a list of values or {min, max, step}."]
        if axis is not None:
            axes.append(axis)
    if errors:
        raise SpaceError(errors)
    return axes


def grid_size(axes: Sequence[Axis]) -> int | None:
    """Return the number of grid points (None when an axis is continuous)."""
    sizes = [a.size for a in axes]
    if any(s is None for s in sizes):
        return None
    return math.prod(s for s in sizes if s is not None)


def run_count(axes: Sequence[Axis], *, method: str, samples: int | None) -> int:
    """Return how many runs the sweep makes (a random sweep never repeats a grid point)."""
    size = grid_size(axes)
    if method == "grid":
        assert size is not None  # parse_space refuses a grid over a continuous range
        return size
    wanted = int(samples or 0)
    return wanted if size is None else min(wanted, size)


def _grid_point(axes: Sequence[Axis], index: int) -> Point:
    """Return grid point ``index`` (mixed radix, the first axis most significant)."""
    point: Point = {}
    for axis in reversed(axes):
        size = axis.size or 1
        index, i = divmod(index, size)
        point[axis.name] = axis.value(i)
    return {a.name: point[a.name] for a in axes}


def expand(axes: Sequence[Axis], *, method: str, samples: int | None = None, seed: int = 0) -> list[Point]:
    """Return every point of the sweep, in run-index order (deterministic for a given seed)."""
    if method == "grid":
        values = [[a.value(i) for i in range(a.size or 0)] for a in axes]
        return [dict(zip((a.name for a in axes), combo, strict=True)) for combo in itertools.product(*values)]
    rng = random.Random(seed)
    size = grid_size(axes)
    count = run_count(axes, method=method, samples=samples)
    if size is not None:  # distinct grid points; random.sample draws from a range without building it
        return [_grid_point(axes, i) for i in rng.sample(range(size), count)]
    return [
        {a.name: (a.draw(rng) if a.size is None else a.value(rng.randrange(a.size or 1))) for a in axes}
        for _ in range(count)
    ]


# --- heatmap -------------------------------------------------------------------------------------


def _order_key(value: Value) -> tuple[int, float, str]:
    """Sort numbers before strings, numbers by value."""
    return (0, float(value), "") if isinstance(value, int | float) else (1, 0.0, str(value))


@dataclass(frozen=True)
class Heatmap:
    """A metric over two parameters: ``values[j][i]`` is at ``y_values[j]``, ``x_values[i]``."""

    x_values: list[Value]
    y_values: list[Value]
    values: list[list[float | None]]
    runs: list[list[int | None]]  # the run index behind each cell (the best one when several)
    aggregated: bool  # True when other parameters vary too: each cell is the best over them


def heatmap(
    runs: Sequence[tuple[int, Mapping[str, Any], float | None]], x: str, y: str, *, maximize: bool
) -> Heatmap:
    """Return the matrix of a metric over parameters ``x`` and ``y`` from ``(index, params, value)``.

    A cell holds the best value (by ``maximize``) over the runs sharing its x and y, so with more
    than two swept parameters it shows how good each (x, y) can be. Cells without a value are None.
    """
    xs = sorted({p[x] for _, p, _ in runs if x in p}, key=_order_key)
    ys = sorted({p[y] for _, p, _ in runs if y in p}, key=_order_key)
    col, row = {v: i for i, v in enumerate(xs)}, {v: j for j, v in enumerate(ys)}
    values: list[list[float | None]] = [[None] * len(xs) for _ in ys]
    best: list[list[int | None]] = [[None] * len(xs) for _ in ys]
    seen: dict[tuple[int, int], int] = {}
    for index, params, value in runs:
        if x not in params or y not in params:
            continue
        j, i = row[params[y]], col[params[x]]
        seen[(j, i)] = seen.get((j, i), 0) + 1
        current = values[j][i]
        if value is not None and (current is None or (value > current if maximize else value < current)):
            values[j][i], best[j][i] = value, index
    return Heatmap(xs, ys, values, best, aggregated=any(n > 1 for n in seen.values()))
