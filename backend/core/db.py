"""Database helpers: ids, clock, money column type, and the one transaction boundary."""
from __future__ import annotations

import functools
import time
import uuid
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TypeVar

from sqlalchemy import BigInteger, Numeric
from sqlalchemy.orm import Mapped, Session, mapped_column

from backend.extensions import db

F = TypeVar("F", bound=Callable[..., Any])

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


def transactional(func: F) -> F:
    """Commit after the public service function returns; roll back if it raises.

    Only public service functions carry this; helpers and queries below them never commit.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            result = func(*args, **kwargs)
            db.session.commit()
            return result
        except BaseException:
            db.session.rollback()
            raise

    return wrapper  # type: ignore[return-value]


def get_or_404(model: type, object_id: str, error: type[Exception], **filters: Any) -> Any:
    """Return the row with this id (and matching filters) or raise `error`."""
    obj = db.session.get(model, object_id) if isinstance(object_id, str) else None
    if obj is None or any(getattr(obj, k) != v for k, v in filters.items()):
        raise error()
    return obj


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
