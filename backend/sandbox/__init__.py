"""Run user-written Python strategies inside a real sandbox (bubblewrap + seccomp + rlimits).

The worker's entry points (it never executes user code itself):

- ``check(code)``: size and syntax, in the worker, by ``compile()`` only (no execution);
  raises CodeTooLarge or CodeSyntaxError (line, column).
- ``describe(code)``: the strategy's ``PARAMS`` as ``{name: ParamSpec}``, read inside the sandbox.
- ``run_signals(code, bars, params)``: the strategy's signals on ``bars`` as the engine's
  ``Signals``, computed inside the sandbox.
- ``evaluate(code, bars, params)``: both of the above from one sandbox start (for "check before
  saving").
- ``validate_params(specs, params)``: the built-in kinds' parameter rules applied to PARAMS.

Failures are typed (``errors.py``): SandboxUnavailable (503, nothing ran), StrategyError,
StrategyTimeout, StrategyMemory, StrategyOutputInvalid, each with a stable ``reason``.
The user-facing API and the threat model are in docs/code-strategies.md. This package imports
``backend.domain`` only (never ``backend.modules``), so any worker can use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from backend.domain.backtest.strategies import ParamSpec
from backend.domain.backtest.types import Signals
from backend.domain.bars import Bars
from backend.sandbox.errors import (
    CodeSyntaxError,
    CodeTooLarge,
    SandboxError,
    SandboxUnavailable,
    StrategyError,
    StrategyMemory,
    StrategyOutputInvalid,
    StrategyTimeout,
)
from backend.sandbox.params import descriptor_json, parse_descriptor, validate_params
from backend.sandbox.protocol import decode_response, encode_request, max_response_bytes
from backend.sandbox.runtime import Limits, execute, load_runtime

__all__ = [
    "MAX_CODE_BYTES",
    "CodeSyntaxError",
    "CodeTooLarge",
    "Evaluation",
    "Limits",
    "SandboxError",
    "SandboxUnavailable",
    "StrategyError",
    "StrategyMemory",
    "StrategyOutputInvalid",
    "StrategyTimeout",
    "available",
    "check",
    "describe",
    "descriptor_json",
    "evaluate",
    "run_signals",
    "validate_params",
]

MAX_CODE_BYTES = 64 * 1024
DESCRIBE_LIMITS = Limits(wall_seconds=10.0, cpu_seconds=5)


@dataclass(frozen=True)
class Evaluation:
    """One sandboxed run: the strategy's parameter descriptor and its signals."""

    params: dict[str, ParamSpec]
    signals: Signals


def check(code: str) -> None:
    """Raise CodeTooLarge or CodeSyntaxError (with line and column) unless ``code`` compiles.

    Compiling does not execute anything, so this is safe in the API process.
    """
    size = len(code.encode("utf-8", "surrogatepass"))
    if size > MAX_CODE_BYTES:
        raise CodeTooLarge(
            f"the code is {size} bytes; the limit is {MAX_CODE_BYTES} bytes (64 KiB)", limit=MAX_CODE_BYTES
        )
    try:
        compile(code, "<strategy>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise CodeSyntaxError(
            f"{type(exc).__name__}: {exc.msg}", line=exc.lineno, column=exc.offset
        ) from None
    except (ValueError, RecursionError, MemoryError) as exc:  # null bytes, absurd nesting
        raise CodeSyntaxError(f"{type(exc).__name__}: {exc}", line=None, column=None) from None


def describe(code: str, *, limits: Limits = DESCRIBE_LIMITS) -> dict[str, ParamSpec]:
    """Return the strategy's PARAMS as ``{name: ParamSpec}``, read by running the module in the sandbox."""
    check(code)
    response = execute(encode_request("describe", code, Bars.empty(), {}), limits, max_response_bytes(0))
    header, _ = decode_response(response, 0)
    return parse_descriptor(header.get("params"))


def evaluate(code: str, bars: Bars, params: Mapping[str, Any], *, limits: Limits | None = None) -> Evaluation:
    """Run ``signals(bars, params)`` of ``code`` in the sandbox; return PARAMS and the signals.

    ``params`` should already be validated (``validate_params(describe(code), params)``); they
    are passed to the code as a plain dict of JSON numbers.
    """
    check(code)
    n = len(bars)
    request = encode_request("signals", code, bars, params)
    response = execute(request, limits or Limits(), max_response_bytes(n))
    header, arrays = decode_response(response, n)
    if not arrays:
        raise StrategyOutputInvalid("the strategy's output is invalid: no signals")
    return Evaluation(
        params=parse_descriptor(header.get("params")),
        signals=Signals(
            entries=arrays["entries"],
            exits=arrays["exits"],
            short_entries=arrays.get("short_entries"),
            short_exits=arrays.get("short_exits"),
        ),
    )


def run_signals(code: str, bars: Bars, params: Mapping[str, Any], *, limits: Limits | None = None) -> Signals:
    """Return the signals of ``code`` on ``bars`` (computed in the sandbox), like a built-in kind's."""
    return evaluate(code, bars, params, limits=limits).signals


def available() -> bool:
    """Return True when the sandbox can start on this machine (runs a trivial strategy once)."""
    try:
        load_runtime()
        describe("def signals(bars, params):\n    return {}\n")
    except SandboxUnavailable:
        return False
    return True
