"""Strategy versions: the content hash and appending a version (shared by the service and forks)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from backend.core.db import now_ms
from backend.extensions import db
from backend.modules.strategies.models import Strategy, StrategyVersion


def content_hash(kind: str, params: Mapping[str, Any], code: str | None = None) -> str:
    """Return the SHA-256 hex digest of the canonical JSON of ``{kind, params, code}``."""
    payload = json.dumps(
        {"kind": kind, "params": dict(params), "code": code}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass(frozen=True)
class Content:
    """A version's content: kind, clean parameters, code (``python`` only) and its descriptor."""

    kind: str
    params: dict[str, Any]
    code: str | None = None
    params_schema: dict[str, Any] | None = None


def add_version(row: Strategy, *, actor_id: str, content: Content) -> StrategyVersion:
    """Append a version to ``row`` unless its content equals the current version's."""
    kind, params = content.kind, content.params
    digest = content_hash(kind, params, content.code)
    current = db.session.get(StrategyVersion, row.current_version_id) if row.current_version_id else None
    if current is not None and current.content_hash == digest:
        return current
    row.version_count += 1
    version = StrategyVersion(
        strategy_id=row.id,
        number=row.version_count,
        kind=kind,
        params=params,
        code=content.code,
        params_schema=content.params_schema,
        content_hash=digest,
        created_by=actor_id,
        created_at=now_ms(),
    )
    db.session.add(version)
    db.session.flush()
    row.kind, row.current_version_id = kind, version.id
    return version
