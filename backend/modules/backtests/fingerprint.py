"""A run's fingerprint: what makes two backtests the same run.

Five parts: the strategy's content hash (its version's ``content_hash``: kind, parameters, code),
the parameters, a hash of the bars the engine saw, the engine version, and the broker settings
(capital, fees, slippage, shorting), without which equal fingerprints could give different
results. The strategy and bars hashes are recorded when the result is stored (`stamp`, called by
``results.store``), so a fingerprint describes the data a result was computed from, not the data
a later read would load. A job reads its version's hash with its row when it starts (one round
trip fewer at the store; a version's content never changes).
``hash`` combines them, so two results with equal hashes came from equal inputs.
"""

from __future__ import annotations

import hashlib
import json
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from backend.domain.bars import Bars
from backend.modules.backtests.models import Backtest
from backend.modules.strategies import service as strategies_service

# The bars' columns in hash order, each as a fixed little-endian dtype, so the hash does not depend
# on the platform's byte order or on how a provider typed its arrays.
_BAR_COLUMNS = (
    ("time", "<i8"),
    ("open", "<f8"),
    ("high", "<f8"),
    ("low", "<f8"),
    ("close", "<f8"),
    ("volume", "<f8"),
)


def bars_hash(bars: Bars) -> str:
    """Return the SHA-256 hex digest of the bars' bytes (time, open, high, low, close, volume).

    Bars values are never written to, so the digest is remembered per memory the columns cover
    (address, length, strides, type) while the arrays owning that memory live: a re-run on cached
    mock bars (a slice of a cache entry is a view of its memory) skips hashing, ~100 ms at 1M bars.
    The entry goes when an owner is collected, before its memory can be reused.
    """
    columns = [getattr(bars, name) for name, _ in _BAR_COLUMNS]
    key = tuple((c.__array_interface__["data"][0], c.shape, c.strides, c.dtype.str) for c in columns)
    known = _HASHES.get(key)
    if known is not None:
        return known
    digest = hashlib.sha256()
    for column, (_, dtype) in zip(columns, _BAR_COLUMNS, strict=True):
        digest.update(np.ascontiguousarray(column, dtype=dtype).data)  # no copy when it fits
    found = digest.hexdigest()
    owners = [_owner(c) for c in columns]
    if len(_HASHES) < _HASHES_MAX and all(isinstance(o, np.ndarray) for o in owners):
        _HASHES[key] = found
        for owner in {id(o): o for o in owners}.values():
            weakref.finalize(owner, _forget, key)
    return found


def _forget(key: tuple[Any, ...]) -> None:
    _HASHES.pop(key, None)


def _owner(array: np.ndarray) -> object:
    """Return the object owning an array's memory (the end of its ``base`` chain)."""
    while isinstance(array, np.ndarray) and array.base is not None:
        array = array.base
    return array


_HASHES: dict[tuple[Any, ...], str] = {}
_HASHES_MAX = 64  # live bars values remembered at once (the mock cache holds far fewer)


def strategy_hash(row: Backtest, pinned: str | None = None) -> str:
    """Return the content hash of what the row runs: its pinned version's, or an inline definition's.

    ``pinned``: the version's content hash when the caller read it already (a job reads it with
    its row: ``strategies_service.version_content_hash_of``); versions never change, so it is the
    value this would read. None: read here (a round trip) when the row pins a version.
    """
    if row.strategy_version_id is not None:
        if pinned is None:
            pinned = strategies_service.version_content_hash(version_id=row.strategy_version_id)
        if pinned is not None:
            return pinned
    return strategies_service.content_hash(row.kind, row.params)


def stamp(row: Backtest, bars: Bars, pinned: str | None = None) -> None:
    """Record the strategy and bars hashes of a result being stored on ``row`` (``pinned``: see
    ``strategy_hash``)."""
    row.strategy_hash = strategy_hash(row, pinned)
    row.bars_hash = bars_hash(bars)


@dataclass(frozen=True)
class Fingerprint:
    """What a result was computed from; ``hash`` is the SHA-256 of the other parts (canonical JSON)."""

    strategy_hash: str
    params: dict[str, Any]
    bars_hash: str
    engine_version: str
    broker: dict[str, Any]
    hash: str


def broker_of(row: Backtest) -> dict[str, Any]:
    """Return the row's broker settings under their wire names.

    Money as floats: the same value whether the Decimal was just set or read back as NUMERIC(28,10).
    """
    return {
        "initialCapital": float(row.initial_capital),
        "feeBps": float(row.fee_bps),
        "slippageBps": float(row.slippage_bps),
        "allowShort": bool(row.allow_short),
    }


def fingerprint_of(row: Backtest) -> Fingerprint | None:
    """Return the fingerprint of a stored result (None before it is stored, or for older results)."""
    if row.strategy_hash is None or row.bars_hash is None:
        return None
    parts: dict[str, Any] = {
        "strategy_hash": row.strategy_hash,
        "params": dict(row.params),
        "bars_hash": row.bars_hash,
        "engine_version": row.engine_version,
        "broker": broker_of(row),
    }
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return Fingerprint(**parts, hash=hashlib.sha256(canonical.encode()).hexdigest())
