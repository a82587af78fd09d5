"""A code strategy's PARAMS: schema check of what the sandbox reported, and params validation.

``PARAMS`` in user code is a dict of ``name -> {"type": "int"|"float", "default": number,
"min": number, "max": number, "description": str}`` (min, max and description optional). It is
read inside the sandbox (``describe``) and checked here, in the worker, into the same
``ParamSpec`` the built-in kinds use, so one validation serves both.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from backend.domain.backtest.strategies import ParamError, ParamSpec
from backend.sandbox.errors import StrategyOutputInvalid

MAX_PARAMS = 32
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_FIELDS = {"type", "default", "min", "max", "description"}


def _number(value: Any) -> bool:
    """Return True for an int or float that is a finite float (not a bool; not a 400-digit int)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def _bad(name: str, what: str) -> StrategyOutputInvalid:
    """Return the error for one malformed PARAMS entry."""
    return StrategyOutputInvalid(f"PARAMS[{name!r}]: {what}")


def _entry(name: str, raw: Any) -> ParamSpec:
    """Return the ParamSpec of one PARAMS entry or raise StrategyOutputInvalid."""
    if not _NAME.match(name):
        raise _bad(name, "names must be identifiers of at most 64 characters")
    if not isinstance(raw, dict):
        raise _bad(name, "must be a dict like {'type': 'int', 'default': 10}")
    unknown = sorted(set(raw) - _FIELDS)
    if unknown:
        raise _bad(name, f"unknown fields {unknown}; allowed: {sorted(_FIELDS)}")
    if raw.get("type") not in ("int", "float"):
        raise _bad(name, "type must be 'int' or 'float'")
    for key in ("default", "min", "max"):
        if key in raw and not _number(raw[key]):
            raise _bad(name, f"{key} must be a finite number")
    if "default" not in raw:
        raise _bad(name, "default is required")
    description = raw.get("description", "")
    if not isinstance(description, str) or len(description) > 200:
        raise _bad(name, "description must be a string of at most 200 characters")
    spec = ParamSpec(raw["type"], raw["default"], raw.get("min"), raw.get("max"), description)
    default, errors = spec.check(spec.default)
    if errors:
        raise _bad(name, f"default {spec.default!r}: {' '.join(errors)}")
    return ParamSpec(spec.type, default, spec.min, spec.max, description)


def parse_descriptor(raw: Any) -> dict[str, ParamSpec]:
    """Return ``{name: ParamSpec}`` from the PARAMS the sandbox reported, or raise StrategyOutputInvalid."""
    if not isinstance(raw, dict):
        raise StrategyOutputInvalid("PARAMS must be a dict of parameter name -> spec")
    if len(raw) > MAX_PARAMS:
        raise StrategyOutputInvalid(f"PARAMS may declare at most {MAX_PARAMS} parameters")
    return {name: _entry(name, spec) for name, spec in raw.items()}


def descriptor_json(specs: Mapping[str, ParamSpec]) -> dict[str, dict[str, Any]]:
    """Return the parameter descriptor a client draws a form from (the PARAMS shape)."""
    out: dict[str, dict[str, Any]] = {}
    for name, spec in specs.items():
        entry: dict[str, Any] = {"type": spec.type, "default": spec.default}
        if spec.min is not None:
            entry["min"] = spec.min
        if spec.max is not None:
            entry["max"] = spec.max
        if spec.description:
            entry["description"] = spec.description
        out[name] = entry
    return out


def validate_params(specs: Mapping[str, ParamSpec], params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return ``params`` with defaults filled in, or raise ParamError naming every bad field.

    The same rules as ``backend.domain.backtest.strategies.validate_params`` for built-in kinds.
    """
    given = dict(params or {})
    fields: dict[str, list[str]] = {name: ["Unknown parameter."] for name in sorted(set(given) - set(specs))}
    clean: dict[str, Any] = {}
    for name, spec in specs.items():
        if name not in given:
            clean[name] = spec.default
            continue
        clean[name], errors = spec.check(given[name])
        if errors:
            fields[name] = errors
    if fields:
        raise ParamError(fields)
    return clean
