"""Uploaded files: store bytes under the storage root, metadata in `files`, owner-only access.

A row never points at missing bytes: an upload writes the bytes first and removes them if its
transaction rolls back (``on_rollback``); a delete unlinks the bytes only after its commit
(``on_commit``), so a failed commit keeps both. Bytes a crash strands are swept (``sweep_orphans``).

Public files exist for one purpose, avatars: the users module stores an image with
``add_public_image`` and removes it with ``remove_public_file``, both inside its own transaction.
Anyone may read a public file at ``public_url``; every other file stays owner-only.

Each database writes its uploads under its own directory, ``uploads/<namespace>/``, named after
that database (``database_namespace``); the sweep walks only that directory, so two stacks (or two
test runs) that share a storage root never delete each other's files.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from flask import current_app
from sqlalchemy import select, text

from backend.core import storage
from backend.core.db import get_owned_or_404, looks_like_id, now_ms, on_commit, on_rollback, transactional
from backend.core.errors import Invalid
from backend.core.pagination import Page, paginate
from backend.extensions import db
from backend.modules.files.errors import EmptyUpload, FileNotFound, FileTooLarge, FileTypeNotAllowed
from backend.modules.files.models import StoredFile
from backend.modules.files.sniff import SniffError, sniff, sniff_image

logger = logging.getLogger(__name__)

AREA = "uploads"
PUBLIC_PREFIX = "/api/files/public/"
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f]")


_IDENTITY_SQL = text(
    "SELECT (SELECT system_identifier FROM pg_control_system()), oid FROM pg_database"
    " WHERE datname = current_database()"
)


def database_namespace() -> str:
    """Return the directory name of this database's uploads: its cluster id and oid, hashed.

    Two databases never share it (another cluster has another system identifier; another database
    of the same cluster another oid), and it is stable for the life of the database. Cached per app.
    """
    namespace: str | None = current_app.extensions.get("files.namespace")
    if namespace is None:
        system_id, oid = db.session.execute(_IDENTITY_SQL).one()
        namespace = hashlib.sha256(f"{system_id}:{oid}".encode()).hexdigest()[:16]
        current_app.extensions["files.namespace"] = namespace
    return namespace


def own_area() -> Path:
    """Return this database's upload directory (the only one its sweep may touch)."""
    return storage.safe_path(AREA, database_namespace())


def max_upload_bytes() -> int:
    """Return the configured upload size limit in bytes."""
    return int(current_app.config["FILES_MAX_BYTES"])


def clean_filename(filename: str | None) -> str:
    """Return the display name kept for a file: last path component, no control characters."""
    base = re.split(r"[\\/]", unicodedata.normalize("NFC", filename or ""))[-1]
    base = _UNSAFE_NAME.sub("", base).strip().strip(".") or "upload"
    if len(base) > 255:
        stem, ext = os.path.splitext(base)
        base = stem[: 255 - len(ext)] + ext
    return base


def read_limited(stream: IO[bytes], limit: int) -> bytes:
    """Read at most ``limit`` bytes from ``stream``; raise FileTooLarge if there are more."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise FileTooLarge(f"The file is larger than the limit of {limit} bytes.", details={"limit": limit})
    return data


def refuse_other_parts(names: Iterable[str]) -> None:
    """Refuse a multipart upload with parts besides `file` (422 naming them), as documented."""
    others = sorted(names)
    if others:
        raise Invalid(fields={name: ["Unknown field."] for name in others})


@transactional
def upload_file(*, actor_id: str, filename: str | None, stream: IO[bytes]) -> StoredFile:
    """Check, store and record an upload of the caller; return its metadata row."""
    data = read_limited(stream, max_upload_bytes())
    if not data:
        raise EmptyUpload(fields={"file": ["The file is empty."]})
    name = clean_filename(filename)
    try:
        content_type = sniff(data, name)
    except SniffError as exc:
        raise FileTypeNotAllowed(str(exc)) from exc
    return _store(owner_id=actor_id, name=name, content_type=content_type, data=data)


def _store(*, owner_id: str, name: str, content_type: str, data: bytes, public: bool = False) -> StoredFile:
    """Write checked bytes and add their row to the current transaction."""
    rel, path = storage.new_stored_name(f"{AREA}/{database_namespace()}")
    storage.write_atomic(path, data)
    on_rollback(lambda: path.unlink(missing_ok=True))  # the row is not there, so neither may the bytes be
    row = StoredFile(
        owner_id=owner_id,
        original_name=name,
        stored_name=rel,
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        public=public,
    )
    db.session.add(row)
    db.session.flush()
    return row


def add_public_image(*, owner_id: str, filename: str | None, stream: IO[bytes], max_bytes: int) -> StoredFile:
    """Store an image of ``owner_id`` that anyone may read (an avatar); join the caller's transaction.

    The type is decided on the content (PNG, JPEG, WebP or GIF; else FileTypeNotAllowed, a 415);
    more than ``max_bytes`` is FileTooLarge (413). Does not commit: the caller's public function
    does, together with whatever makes the image its purpose.
    """
    data = read_limited(stream, max_bytes)
    if not data:
        raise EmptyUpload(fields={"file": ["The file is empty."]})
    try:
        content_type = sniff_image(data)
    except SniffError as exc:
        raise FileTypeNotAllowed(str(exc)) from exc
    return _store(
        owner_id=owner_id, name=clean_filename(filename), content_type=content_type, data=data, public=True
    )


def public_url(file_id: str) -> str:
    """Return the absolute path at which anyone may read the public file ``file_id``."""
    return PUBLIC_PREFIX + file_id


def public_file_id(url: str) -> str | None:
    """Return the file id of a ``public_url``, or None when ``url`` is not one."""
    if not url.startswith(PUBLIC_PREFIX):
        return None
    file_id = url[len(PUBLIC_PREFIX) :]
    return file_id if looks_like_id(file_id) else None


def find_public_file(*, file_id: str) -> StoredFile | None:
    """Return the public file ``file_id``, or None when it is unknown or private."""
    row = db.session.get(StoredFile, file_id) if looks_like_id(file_id) else None
    return row if row is not None and row.public else None


def get_public_file_content(*, file_id: str) -> tuple[StoredFile, bytes]:
    """Return a public file's row and bytes for anyone (FileNotFound for private or unknown ids)."""
    row = find_public_file(file_id=file_id)
    if row is None:
        raise FileNotFound()
    return row, _read_bytes(row)


def remove_public_file(*, owner_id: str, file_id: str) -> None:
    """Delete a public file of ``owner_id`` in the caller's transaction (no-op if it is gone)."""
    row = db.session.get(StoredFile, file_id) if looks_like_id(file_id) else None
    if row is None or row.owner_id != owner_id or not row.public:
        return
    _delete_row(row)


def get_file_content(*, actor_id: str, file_id: str) -> tuple[StoredFile, bytes]:
    """Return the caller's file row and its bytes (FileNotFound for others' or unknown ids)."""
    row = get_owned_or_404(StoredFile, file_id, actor_id=actor_id, error=FileNotFound)
    return row, _read_bytes(row)


def _read_bytes(row: StoredFile) -> bytes:
    try:
        return storage.safe_path(row.stored_name).read_bytes()
    except FileNotFoundError as exc:
        logger.error("file %s has a row but no bytes at %s", row.id, row.stored_name)
        raise FileNotFound() from exc


def list_files(*, actor_id: str, page: int, page_size: int) -> Page[StoredFile]:
    """Return one page of the caller's files, newest first."""
    stmt = (
        select(StoredFile)
        .where(StoredFile.owner_id == actor_id)
        .order_by(StoredFile.created_at.desc(), StoredFile.id)
    )
    return paginate(stmt, page=page, page_size=page_size)


def sweep_orphans(*, older_than_ms: int = 3_600_000) -> int:
    """Remove bytes of this database's uploads that no row points to (left by a crash); return how many.

    Only this database's own directory is walked (files of other databases sharing the storage
    root, or written before uploads were namespaced, are never touched), and only files older
    than ``older_than_ms``, so an upload between its write and its commit is never taken for one.
    """
    area = own_area()
    if not area.exists():
        return 0
    root = storage.storage_root()
    cutoff_s = (now_ms() - older_than_ms) / 1000
    candidates = {
        p.relative_to(root).as_posix(): p
        for p in area.rglob("*")
        if p.is_file() and p.stat().st_mtime < cutoff_s
    }
    known = set(
        db.session.scalars(select(StoredFile.stored_name).where(StoredFile.stored_name.in_(list(candidates))))
    )
    orphans = [path for rel, path in candidates.items() if rel not in known]
    for path in orphans:
        path.unlink(missing_ok=True)
    if orphans:
        logger.warning("removed %d orphaned upload file(s) under %s", len(orphans), area)
    return len(orphans)


@transactional
def delete_file(*, actor_id: str, file_id: str) -> None:
    """Delete the caller's file: the row, then (once that is committed) the bytes."""
    row = get_owned_or_404(StoredFile, file_id, actor_id=actor_id, error=FileNotFound, lock=True)
    _delete_row(row)


def delete_owner_files(*, owner_id: str) -> int:
    """Delete every file of ``owner_id`` in the caller's transaction; the bytes go after its commit.

    For account deletion (``files.account``); returns how many files there were.
    """
    rows = list(db.session.scalars(select(StoredFile).where(StoredFile.owner_id == owner_id)))
    for row in rows:
        _delete_row(row)
    db.session.flush()
    return len(rows)


def _delete_row(row: StoredFile) -> None:
    """Delete ``row`` in the current transaction and its bytes once that commits."""
    path, file_id = storage.safe_path(row.stored_name), row.id
    db.session.delete(row)
    on_commit(lambda: _unlink_bytes(path, file_id))


def _unlink_bytes(path: Path, file_id: str) -> None:
    """Remove a deleted file's bytes; bytes that cannot be removed now are swept later."""
    try:
        path.unlink()
    except FileNotFoundError:
        logger.warning("file %s had no bytes at %s; its row is deleted", file_id, path)
    except OSError:
        logger.exception("could not remove the bytes of deleted file %s; the sweep will", file_id)
