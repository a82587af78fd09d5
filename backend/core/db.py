"""Database helpers: ids, clock, money column type, and the one transaction boundary."""

from __future__ import annotations

import functools
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import BigInteger, Numeric
from sqlalchemy.orm import Mapped, Session, mapped_column

from backend.extensions import db

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
M = TypeVar("M")

_ID_RE = re.compile(r"[0-9A-Fa-f-]{1,36}")

# NUMERIC(28, 10): 18 integer digits and 10 decimals covers prices, crypto quantities and fees.
Money = Numeric(28, 10, asdecimal=True)


def new_id() -> str:
    """Return a new string UUID (the type of every id)."""
    return str(uuid.uuid4())


def now_ms() -> int:
    """Return the current Unix time in milliseconds (UTC)."""
    return time.time_ns() // 1_000_000


class TimestampMixin:
    """`created_at` / `updated_at` as Unix ms BIGINT."""

    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False, default=now_ms)
    updated_at: Mapped[int] = mapped_column(BigInteger, nullable=False, default=now_ms, onupdate=now_ms)


_ON_COMMIT = "qyq_on_commit"


def on_commit(callback: Callable[[], None]) -> None:
    """Run ``callback`` once the enclosing ``@transactional`` function has committed.

    The transactional analogue of Django's ``transaction.on_commit``: jobs are enqueued this way,
    so a worker never sees a job whose rows are not committed yet. A rollback drops the callbacks.
    """
    db.session.info.setdefault(_ON_COMMIT, []).append(callback)


def _run_on_commit() -> None:
    callbacks = db.session.info.pop(_ON_COMMIT, [])
    for callback in callbacks:
        callback()


_ON_ROLLBACK = "qyq_on_rollback"


def on_rollback(callback: Callable[[], None]) -> None:
    """Run ``callback`` if the enclosing ``@transactional`` function rolls back (body or commit failed).

    For undoing what the database cannot: bytes written for a row that was never committed.
    Errors in a callback are logged, never raised over the error that caused the rollback.
    """
    db.session.info.setdefault(_ON_ROLLBACK, []).append(callback)


def _run_on_rollback() -> None:
    for callback in db.session.info.pop(_ON_ROLLBACK, []):
        try:
            callback()
        except Exception:  # noqa: BLE001 - the rollback's cause is the error worth raising
            logger.exception("an on_rollback callback failed")


def transactional(func: F) -> F:
    """Make ``func`` one unit of work: commit when it returns, roll back if it raises.

    Public service functions carry this. A job's work (see ``backend.core.jobs``) is several
    units of work on purpose (progress, partial results, the final result), so private steps of
    a job's work may carry it too; ADR 0007 records that. Callbacks registered with
    ``on_commit`` run after the commit, outside the transaction; their errors propagate.
    Callbacks registered with ``on_rollback`` run after a rollback.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            result = func(*args, **kwargs)
            db.session.commit()
        except BaseException:
            db.session.info.pop(_ON_COMMIT, None)
            db.session.rollback()
            _run_on_rollback()
            raise
        db.session.info.pop(_ON_ROLLBACK, None)
        _run_on_commit()
        return result

    return wrapper  # type: ignore[return-value]


def looks_like_id(value: object) -> bool:
    """Return whether ``value`` can be an id (a UUID string); anything else is simply not found."""
    return isinstance(value, str) and _ID_RE.fullmatch(value) is not None


def get_owned_or_404(
    model: type[M],
    object_id: object,
    *,
    actor_id: str | None,
    error: type[Exception],
    lock: bool = False,
    owner_attr: str = "owner_id",
) -> M:
    """Return the row ``object_id`` of ``model`` owned by ``actor_id``, else raise ``error`` (a 404).

    Ids that cannot be UUIDs and rows of other users are the same 404, so ids never leak.
    ``lock`` takes a row lock (``SELECT ... FOR UPDATE``) and reloads the row.
    """
    row = (
        db.session.get(model, object_id, with_for_update=lock, populate_existing=lock)
        if looks_like_id(object_id)
        else None
    )
    if row is None or actor_id is None or getattr(row, owner_attr) != actor_id:
        raise error()
    return row


def get_readable_or_404(
    model: type[M],
    object_id: object,
    *,
    actor_id: str | None,
    public_attr: str,
    error: type[Exception],
    lock: bool = False,
    owner_attr: str = "owner_id",
) -> M:
    """Return the live row ``object_id`` of ``model`` if ``actor_id`` owns it or it is public.

    Anything else (unknown, deleted, private and someone else's) raises ``error``.

    For resources their owner may publish (``public_attr`` true: readable by anyone, even anonymous).
    A soft-deleted row (``deleted_at`` set) is absent for everyone. What a non-owner may not change
    is the caller's rule (typically a 403, since the row is visible).
    """
    row = (
        db.session.get(model, object_id, with_for_update=lock, populate_existing=lock)
        if looks_like_id(object_id)
        else None
    )
    if row is None or getattr(row, "deleted_at", None) is not None:
        raise error()
    if getattr(row, owner_attr) != actor_id and not getattr(row, public_attr):
        raise error()
    return row


@contextmanager
def independent_session() -> Iterator[Session]:
    """Yield a session whose commit is independent of the caller's transaction.

    Used for job progress and heartbeats, which must be visible while the work is still running.
    """
    session = Session(bind=db.engine, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
