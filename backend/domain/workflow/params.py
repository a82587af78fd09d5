"""Declarative node parameter schemas: each node type lists its ``Param``s."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from backend.domain.workflow.problems import INVALID_PARAMETER, MISSING_PARAMETER

_KINDS = ("str", "int", "number", "choice", "bool")


@dataclass(frozen=True)
class Param:
    """One parameter of a node's ``data``: its kind, bounds and whether it is required."""

    name: str
    kind: str
    required: bool = False
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    default: Any = None

    def describe(self) -> dict[str, Any]:
        """Return the parameter as JSON (for the editor's forms)."""
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "required": self.required}
        for key in ("choices", "minimum", "maximum", "default"):
            value = getattr(self, key)
            if value not in (None, ()):
                out[key] = list(value) if key == "choices" else value
        return out


def _kind_error(param: Param, value: Any) -> str | None:
    """Return why ``value`` is not of the parameter's kind, or None."""
    kind = param.kind
    if kind == "bool":
        return None if isinstance(value, bool) else "must be true or false"
    if kind == "str":
        return None if isinstance(value, str) and value.strip() else "must be a non-empty string"
    if kind == "choice":
        return None if value in param.choices else f"must be one of {', '.join(map(str, param.choices))}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "must be a number"
    if kind == "int" and not float(value).is_integer():
        return "must be an integer"
    if not math.isfinite(value):
        return "must be finite"
    return None


def _bound_error(param: Param, value: Any) -> str | None:
    """Return why a numeric ``value`` is out of bounds, or None."""
    if param.kind not in ("int", "number"):
        return None
    if param.minimum is not None and value < param.minimum:
        return f"must be >= {param.minimum:g}"
    if param.maximum is not None and value > param.maximum:
        return f"must be <= {param.maximum:g}"
    return None


_INDEX: dict[int, tuple[tuple[Param, ...], dict[str, Param], tuple[Param, ...]]] = {}


def _index(params: tuple[Param, ...]) -> tuple[dict[str, Param], tuple[Param, ...]]:
    """Return (params by name, required params) of a schema, cached per schema object.

    Keyed by identity: hashing a tuple of dataclasses on every node costs more than the check.
    """
    entry = _INDEX.get(id(params))
    if entry is None or entry[0] is not params:
        entry = (params, {p.name: p for p in params}, tuple(p for p in params if p.required))
        _INDEX[id(params)] = entry
    return entry[1], entry[2]


def check_params(params: tuple[Param, ...], data: dict[str, Any]) -> list[tuple[str, str]]:
    """Return (reason, message) for every missing or invalid parameter in ``data``."""
    by_name, required = _index(params)
    found = [
        (MISSING_PARAMETER, f"parameter '{p.name}' is required") for p in required if data.get(p.name) is None
    ]
    for name, value in data.items():
        param = by_name.get(name)
        if param is None or value is None:
            continue  # unknown keys (label, styling...) belong to the editor
        if why := _kind_error(param, value) or _bound_error(param, value):
            found.append((INVALID_PARAMETER, f"parameter '{name}' {why} (got {value!r})"))
    return found


def value_of(params: tuple[Param, ...], data: dict[str, Any], name: str) -> Any:
    """Return ``data[name]`` or the parameter's declared default."""
    value = data.get(name)
    return value if value is not None else _index(params)[0][name].default
