"""The sandbox's entry point: read one request on stdin, run the user's code, answer on stdout.

Runs inside bubblewrap under the seccomp filter and resource limits, with the stdlib and numpy
only (it must not import the project). Wire format (little-endian), mirrored by
backend/sandbox/protocol.py:

    boot     b"QYB1"                                      written before anything else
    request  b"QYQ1" u32 header_len, header JSON, code bytes, then n int64 times and
             5 x n float64 (open, high, low, close, volume)
    response b"QYR1" u32 header_len, header JSON, then one n-byte 0/1 array per key in header.keys

Nothing written here is trusted: the user's code runs in this process and could forge any of it,
so the worker validates the response byte by byte. The checks below only give honest code
precise messages.
"""

from __future__ import annotations

import builtins
import json
import linecache
import os
import resource
import struct
import sys
import traceback
import types
from typing import Any

BOOT, REQUEST, RESPONSE = b"QYB1", b"QYQ1", b"QYR1"
USER_FILENAME = "<strategy>"
SIGNAL_KEYS = ("entries", "exits", "short_entries", "short_exits")
SITE_DIR = "/qyq/site"  # numpy, mounted read-only by the worker
MAX_MESSAGE = 2000
MAX_TRACEBACK_LINES = 40


class Failure(Exception):
    """A reason and message to answer with instead of signals."""

    def __init__(self, reason: str, message: str, tb: list[str] | None = None) -> None:
        super().__init__(message)
        self.reason, self.message, self.tb = reason, message, tb or []


def _read_exact(fd: int, size: int) -> bytes:
    """Read exactly ``size`` bytes from ``fd``."""
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError("request truncated")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _user_traceback(exc: BaseException) -> list[str]:
    """Return the formatted frames of the user's code only (never the runner's or numpy's)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == USER_FILENAME]
    lines = [f"line {f.lineno}, in {f.name}: {(f.line or '').strip()}" for f in frames]
    return [line[:300] for line in lines[-MAX_TRACEBACK_LINES:]]


def _error_message(exc: BaseException) -> str:
    """Return "Type: message", shortened."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:MAX_MESSAGE]


def _make_bars(np: Any, n: int, raw: bytes) -> types.SimpleNamespace:
    """Return a read-only bars object over the request's arrays."""
    bars = types.SimpleNamespace()
    for i, name in enumerate(("time", "open", "high", "low", "close", "volume")):
        dtype = np.int64 if name == "time" else np.float64
        arr = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<"), count=n, offset=i * 8 * n)
        setattr(bars, name, arr.astype(dtype, copy=False))  # frombuffer over bytes: read-only
    return bars


def _as_signal(np: Any, name: str, value: Any, n: int) -> bytes:
    """Return ``value`` as n bytes of 0/1, or raise Failure naming what is wrong."""
    arr = np.asarray(value)
    if arr.ndim != 1 or len(arr) != n:
        raise Failure(
            "strategy_output_invalid", f"{name} must be a 1-D array of {n} values, got shape {arr.shape}"
        )
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8).tobytes()
    if arr.dtype.kind not in "iuf":
        raise Failure("strategy_output_invalid", f"{name} must be booleans, got dtype {arr.dtype}")
    if arr.dtype.kind == "f" and np.isnan(arr).any():
        raise Failure("strategy_output_invalid", f"{name} contains NaN (booleans cannot be NaN)")
    if not np.isin(arr, (0, 1)).all():
        raise Failure("strategy_output_invalid", f"{name} must be booleans (0/1), got other numbers")
    return arr.astype(np.uint8).tobytes()


def _params_json(namespace: dict[str, Any]) -> Any:
    """Return the module's PARAMS as JSON-compatible data (the worker checks its schema)."""
    params = namespace.get("PARAMS", {})
    try:
        return json.loads(json.dumps(params, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise Failure("strategy_output_invalid", f"PARAMS must be plain JSON data: {exc}") from None


def _run(np: Any, request: bytes) -> tuple[dict[str, Any], bytes]:
    """Execute the user's module and, in "signals" mode, its signals(); return (header, payload)."""
    header_len = struct.unpack("<I", request[4:8])[0]
    header = json.loads(request[8 : 8 + header_len])
    code_end = 8 + header_len + header["code_len"]
    code = request[8 + header_len : code_end].decode("utf-8")
    n = header["n"]
    # Let tracebacks quote the user's own source lines.
    linecache.cache[USER_FILENAME] = (len(code), None, code.splitlines(True), USER_FILENAME)
    namespace: dict[str, Any] = {"__name__": "strategy", "__builtins__": builtins}
    try:
        exec(compile(code, USER_FILENAME, "exec"), namespace)  # noqa: S102 - this IS the sandbox
        described = _params_json(namespace)
        if not callable(namespace.get("signals")):
            raise Failure("strategy_error", "the code must define a function signals(bars, params)")
        if header["mode"] == "describe":
            return {"ok": True, "params": described, "keys": [], "n": 0}, b""
        bars = _make_bars(np, n, request[code_end:])
        result = namespace["signals"](bars, dict(header["params"]))
    except Failure:
        raise
    except MemoryError:
        raise Failure("strategy_memory", "the strategy ran out of memory") from None
    except SystemExit as exc:
        raise Failure(
            "strategy_error", f"the strategy called sys.exit({exc.code!r})", _user_traceback(exc)
        ) from None
    except BaseException as exc:  # noqa: BLE001 - every user failure becomes strategy_error
        raise Failure("strategy_error", _error_message(exc), _user_traceback(exc)) from None
    if not isinstance(result, dict):
        raise Failure("strategy_output_invalid", f"signals() must return a dict, got {type(result).__name__}")
    unknown = sorted(str(k) for k in result if k not in SIGNAL_KEYS)
    if unknown:
        raise Failure("strategy_output_invalid", f"unknown keys {unknown}; allowed: {list(SIGNAL_KEYS)}")
    missing = [k for k in ("entries", "exits") if k not in result]
    if missing:
        raise Failure("strategy_output_invalid", f"missing keys {missing}")
    keys = [k for k in SIGNAL_KEYS if result.get(k) is not None]
    try:
        payload = b"".join(_as_signal(np, k, result[k], n) for k in keys)
    except MemoryError:
        raise Failure("strategy_memory", "the strategy ran out of memory") from None
    return {"ok": True, "params": described, "keys": keys, "n": n}, payload


def _respond(fd: int, header: dict[str, Any], payload: bytes) -> None:
    """Write one response frame to ``fd``."""
    data = json.dumps(header).encode("utf-8")
    frame = RESPONSE + struct.pack("<I", len(data)) + data + payload
    view = memoryview(frame)
    while view:
        view = view[os.write(fd, view) :]


def main() -> None:
    """Boot, read the request, run, respond; the exit status is 0 whenever a response was sent."""
    reply = os.dup(1)
    os.write(reply, BOOT)
    sys.path[:0] = [os.path.dirname(os.path.abspath(__file__)), SITE_DIR]
    import numpy as np  # noqa: PLC0415 - imported after the boot marker so start-up errors are visible
    import qyq  # type: ignore[import-not-found]  # noqa: F401, PLC0415 - warm the helper (and its numpy imports) before user code runs

    request_head = _read_exact(0, 8)
    if request_head[:4] != REQUEST:
        raise SystemExit("bad request magic")
    header_len = struct.unpack("<I", request_head[4:])[0]
    header_raw = _read_exact(0, header_len)
    header = json.loads(header_raw)
    rest = _read_exact(0, header["code_len"] + 48 * header["n"])
    # No new processes or threads from here on (the seccomp filter enforces it too, also for root).
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    # The user's prints must not corrupt the reply: stdout and stderr go to /dev/null.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    try:
        out_header, payload = _run(np, request_head + header_raw + rest)
    except Failure as failure:
        out_header, payload = (
            {"ok": False, "reason": failure.reason, "message": failure.message, "traceback": failure.tb},
            b"",
        )
    try:
        _respond(reply, out_header, payload)
    except MemoryError:
        _respond(
            reply,
            {"ok": False, "reason": "strategy_memory", "message": "out of memory", "traceback": []},
            b"",
        )
    os._exit(0)  # skip interpreter teardown (and any atexit hook the user registered)


if __name__ == "__main__":
    main()
