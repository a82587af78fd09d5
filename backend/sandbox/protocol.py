"""The fixed binary format between the worker and the sandbox, and the worker's validation.

Mirrors backend/sandbox/guest/runner.py (a test keeps the constants equal). Everything that comes
back is untrusted: the user's code shares the sandbox process with the runner and could write
anything, so ``decode_response`` checks the frame, the header's types, the keys, the exact
length and that every signal byte is 0 or 1, and raises StrategyOutputInvalid otherwise.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np

from backend.domain.bars import Bars
from backend.sandbox.errors import FAILURES, StrategyOutputInvalid

BOOT, REQUEST, RESPONSE = b"QYB1", b"QYQ1", b"QYR1"
SIGNAL_KEYS = ("entries", "exits", "short_entries", "short_exits")
MAX_HEADER_BYTES = 256 * 1024  # PARAMS descriptor + an error message and traceback
MODES = ("signals", "describe")


def encode_request(mode: str, code: str, bars: Bars, params: Mapping[str, Any]) -> bytes:
    """Return the request frame for ``mode`` ("signals" or "describe")."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    code_bytes = code.encode("utf-8")
    n = len(bars)
    header = json.dumps(
        {"mode": mode, "n": n, "code_len": len(code_bytes), "params": dict(params)}, allow_nan=False
    ).encode("utf-8")
    arrays = [np.ascontiguousarray(bars.time, dtype="<i8").tobytes()]
    arrays += [
        np.ascontiguousarray(getattr(bars, f), dtype="<f8").tobytes()
        for f in ("open", "high", "low", "close", "volume")
    ]
    return b"".join([REQUEST, struct.pack("<I", len(header)), header, code_bytes, *arrays])


def max_response_bytes(n: int) -> int:
    """Return the largest valid response for ``n`` bars (the output cap)."""
    return len(BOOT) + len(RESPONSE) + 4 + MAX_HEADER_BYTES + len(SIGNAL_KEYS) * n


def _invalid(what: str) -> StrategyOutputInvalid:
    """Return the error for a malformed response."""
    return StrategyOutputInvalid(f"the strategy's output is invalid: {what}")


def decode_response(data: bytes, n: int) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Return (header, signal arrays by key) from a response frame (boot marker already removed).

    Raises the strategy's own failure (StrategyError, StrategyMemory, ...) when the header says
    ``ok: false``, and StrategyOutputInvalid for anything malformed.
    """
    if len(data) < 8 or data[:4] != RESPONSE:
        raise _invalid("no result frame")
    (header_len,) = struct.unpack("<I", data[4:8])
    if header_len > MAX_HEADER_BYTES or len(data) < 8 + header_len:
        raise _invalid("result header too large or truncated")
    try:
        header = json.loads(data[8 : 8 + header_len])
    except (UnicodeDecodeError, ValueError):
        raise _invalid("result header is not JSON") from None
    if not isinstance(header, dict) or not isinstance(header.get("ok"), bool):
        raise _invalid("result header is not an object with 'ok'")
    payload = data[8 + header_len :]
    if not header["ok"]:
        return _raise_failure(header, payload)
    keys = header.get("keys")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise _invalid("keys must be a list of names")
    if len(set(keys)) != len(keys) or not set(keys) <= set(SIGNAL_KEYS):
        raise _invalid(f"keys must be distinct names among {list(SIGNAL_KEYS)}")
    if keys and not {"entries", "exits"} <= set(keys):
        raise _invalid("entries and exits are required")
    if keys and header.get("n") != n:
        raise _invalid(f"expected {n} values per signal, got {header.get('n')!r}")
    if len(payload) != len(keys) * n:
        raise _invalid(f"expected {len(keys) * n} signal bytes, got {len(payload)}")
    raw = np.frombuffer(payload, dtype=np.uint8)
    if raw.size and int(raw.max()) > 1:
        raise _invalid("signal values must be booleans (0 or 1)")
    arrays = {key: raw[i * n : (i + 1) * n].astype(bool) for i, key in enumerate(keys)}
    return header, arrays


def _raise_failure(header: dict[str, Any], payload: bytes) -> Any:
    """Raise the failure a ``ok: false`` header reports (or StrategyOutputInvalid if malformed)."""
    reason, message, tb = header.get("reason"), header.get("message"), header.get("traceback", [])
    if payload or reason not in FAILURES or not isinstance(message, str):
        raise _invalid("malformed failure report")
    if not isinstance(tb, list) or not all(isinstance(line, str) for line in tb):
        raise _invalid("malformed failure traceback")
    cls = FAILURES[reason]
    raise cls(message[:2000], traceback=[line[:300] for line in tb[:40]]) if tb else cls(message[:2000])
