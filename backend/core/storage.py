"""Every filesystem path built from input goes through here and stays inside the storage root."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from flask import current_app

from backend.core.errors import Invalid


def storage_root() -> Path:
    """Return the configured storage root (default: the repository's `storage/`), creating it."""
    configured = current_app.config["STORAGE_ROOT"]
    root = Path(configured) if configured else Path(__file__).resolve().parents[2] / "storage"
    root.mkdir(parents=True, exist_ok=True)
    return root.resolve()


def safe_path(*parts: str) -> Path:
    """Join `parts` under the storage root; refuse anything that would escape it."""
    root = storage_root()
    candidate = root.joinpath(*parts).resolve()
    if candidate != root and root not in candidate.parents:
        raise Invalid("Path escapes the storage root.", fields={"path": ["Invalid path."]})
    return candidate


def new_stored_name(area: str) -> tuple[str, Path]:
    """Return a generated relative name and absolute path for a new file in `area`."""
    name = uuid.uuid4().hex
    rel = f"{area}/{name[:2]}/{name}"
    path = safe_path(rel)
    path.parent.mkdir(parents=True, exist_ok=True)
    return rel, path


def write_atomic(path: Path, data: bytes) -> None:
    """Write bytes to a temp file then rename, so a crash never leaves a half-written file."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
