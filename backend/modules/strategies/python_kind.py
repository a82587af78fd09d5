"""The ``python`` strategy kind: the user's own code, run only inside the sandbox (backend/sandbox).

- ``define(code, params)``: at create and update. Size and syntax are checked in this process by
  compiling only; ``PARAMS`` is read in the sandbox and ``params`` are validated against it like
  a built-in kind's. Returns the clean parameters and the parameter descriptor (``paramsSchema``).
- ``signals(code, params, bars)``: a run (backtest job, bot tick), in the sandbox.
- ``check(code, params, bars)``: ``POST /api/strategies/check``, both of the above on sample bars.

Every sandbox failure becomes one of this module's AppErrors: StrategyCodeInvalid (422, fields
``code``), StrategyFailed (reason ``strategy_error`` | ``strategy_timeout`` | ``strategy_memory`` |
``strategy_output_invalid``), SandboxUnavailable (503, nothing ran). The API process itself never
executes user code: it starts a sandbox process for ``define`` and ``check``, at most
``API_SLOTS`` at a time, under the short ``CHECK_LIMITS``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from backend import sandbox
from backend.core.errors import AppError
from backend.domain.backtest.strategies import ParamError
from backend.domain.backtest.types import Signals
from backend.domain.bars import Bars
from backend.modules.strategies.errors import (
    InvalidStrategy,
    SandboxBusy,
    SandboxUnavailable,
    StrategyCodeInvalid,
    StrategyFailed,
)

PYTHON = "python"
MAX_CODE_BYTES = sandbox.MAX_CODE_BYTES
CHECK_BARS = 300  # sample bars of POST /check
CHECK_LIMITS = sandbox.Limits(wall_seconds=5.0, cpu_seconds=3)  # what an API request may spend
RUN_LIMITS = sandbox.Limits()  # a backtest or bot tick: 20 s wall, 15 CPU s, 1 GiB (docs/code-strategies.md)
API_SLOTS = 2  # sandboxes one API process runs at once for define/check (each is a process)
API_SLOT_WAIT_S = 10.0
_api_slots = threading.BoundedSemaphore(API_SLOTS)


@dataclass(frozen=True)
class Definition:
    """A valid python strategy: its clean parameters and the descriptor of its PARAMS."""

    params: dict[str, Any]
    params_schema: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class CheckResult:
    """What ``check`` found: signal counts on ``bars`` sample bars, the parameters and descriptor."""

    bars: int
    signals: dict[str, int]
    signal_count: int
    params: dict[str, Any]
    params_schema: dict[str, dict[str, Any]]


def translate(exc: sandbox.SandboxError, *, show_traceback: bool = True) -> AppError:
    """Return this module's AppError for a sandbox failure.

    ``show_traceback=False`` drops the traceback lines, which quote the code, for a caller who may
    run the strategy (published) but not read it.
    """
    if isinstance(exc, sandbox.SandboxUnavailable):
        return SandboxUnavailable(f"Python strategies cannot run on this server: {exc.message}")
    if isinstance(exc, sandbox.CodeTooLarge):
        return StrategyCodeInvalid(
            f"The code is too large: {exc.message}.",
            fields={"code": [f"At most {MAX_CODE_BYTES} bytes (64 KiB)."]},
            details={"limit": MAX_CODE_BYTES},
        )
    if isinstance(exc, sandbox.CodeSyntaxError):
        line, column = exc.details.get("line"), exc.details.get("column")
        where = f" (line {line}, column {column})" if line is not None else ""
        return StrategyCodeInvalid(
            f"The code does not compile: {exc.message}{where}.",
            fields={"code": [f"{exc.message}{where}"]},
            details={"line": line, "column": column},
        )
    traceback = exc.details.get("traceback") if show_traceback else None
    return StrategyFailed(exc.reason, exc.message, traceback=traceback)


@contextmanager
def _api_slot() -> Iterator[None]:
    """Hold one of this process's API sandbox slots (429 SandboxBusy when none frees up in time)."""
    if not _api_slots.acquire(timeout=API_SLOT_WAIT_S):
        raise SandboxBusy(headers={"Retry-After": "5"})
    try:
        yield
    finally:
        _api_slots.release()


def compile_check(code: str) -> None:
    """Raise StrategyCodeInvalid unless ``code`` is within the size limit and compiles (never runs it)."""
    try:
        sandbox.check(code)
    except sandbox.SandboxError as exc:
        raise translate(exc) from None


def _validate(specs: Mapping[str, Any], params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return ``params`` checked against the strategy's PARAMS, or raise InvalidStrategy per field."""
    try:
        return sandbox.validate_params(specs, params)
    except ParamError as exc:
        raise InvalidStrategy(fields={f"params.{k}": v for k, v in exc.fields.items()}) from None


def define(
    code: str, params: Mapping[str, Any] | None, *, base: Mapping[str, Any] | None = None
) -> Definition:
    """Return the clean parameters and descriptor of ``code`` (PARAMS read in the sandbox).

    ``params`` are validated against PARAMS (defaults filled in); ``base`` (the parameters of the
    version being changed) is merged under them for the names PARAMS still declares.
    """
    compile_check(code)
    try:
        with _api_slot():
            specs = sandbox.describe(code, limits=CHECK_LIMITS)
    except sandbox.SandboxError as exc:
        raise translate(exc) from None
    kept = {k: v for k, v in (base or {}).items() if k in specs}
    return Definition(_validate(specs, {**kept, **(params or {})}), sandbox.descriptor_json(specs))


def signals(code: str, params: Mapping[str, Any], bars: Bars, *, show_traceback: bool = True) -> Signals:
    """Return the signals of ``code`` with a version's (validated) ``params`` on ``bars``, in the sandbox."""
    try:
        return sandbox.run_signals(code, bars, params, limits=RUN_LIMITS)
    except sandbox.SandboxError as exc:
        raise translate(exc, show_traceback=show_traceback) from None


def check(code: str, params: Mapping[str, Any] | None, bars: Bars) -> CheckResult:
    """Compile ``code``, validate ``params`` against its PARAMS and run it on ``bars`` (two sandbox runs)."""
    definition = define(code, params)
    try:
        with _api_slot():
            found = sandbox.run_signals(code, bars, definition.params, limits=CHECK_LIMITS)
    except sandbox.SandboxError as exc:
        raise translate(exc) from None
    counts = {"entries": int(found.entries.sum()), "exits": int(found.exits.sum())}
    if found.short_entries is not None:
        counts["shortEntries"] = int(found.short_entries.sum())
    if found.short_exits is not None:
        counts["shortExits"] = int(found.short_exits.sum())
    return CheckResult(
        bars=len(bars),
        signals=counts,
        signal_count=sum(counts.values()),
        params=definition.params,
        params_schema=definition.params_schema,
    )
