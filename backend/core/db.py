"""Database helpers: ids, clock, money column type, and the one transaction boundary."""

from __future__ import annotations

import functools
import logging
import re
import time
import uuid
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from flask import Flask
from sqlalchemy import BigInteger, ColumnElement, Dialect, Engine, Numeric, Text, TypeDecorator, cast, event
from sqlalchemy.dialects.postgresql import JSON
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.orm.util import identity_key
from sqlalchemy.pool import ConnectionPoolEntry, PoolResetState
from sqlalchemy.sql import Executable

from backend.core import changes
from backend.extensions import db

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
M = TypeVar("M")

_ID_RE = re.compile(r"[0-9A-Fa-f-]{1,36}")

# NUMERIC(28, 10): 18 integer digits and 10 decimals covers prices, crypto quantities and fees.
Money = Numeric(28, 10, asdecimal=True)


class JSONText(TypeDecorator[str]):
    """A PostgreSQL ``json`` column read and written as its text: already encoded JSON.

    Postgres keeps a ``json`` value's text as it was written (``jsonb`` re-renders it), so what a
    writer encoded once is read back as the same string and can go into a response as it is
    (``core.jsonprovider.RawJSON``): the driver never parses it (it is selected as ``::text``)
    and Python never encodes it (the bound string is sent as it is; Postgres checks it is JSON).
    """

    impl = JSON
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> None:
        """Send the string as it is (the JSON type would encode it as a JSON string)."""
        return None

    def result_processor(self, dialect: Dialect, coltype: object) -> None:
        """Return the text as it is (selected as ``::text``, see ``column_expression``)."""
        return None

    def column_expression(self, colexpr: ColumnElement[Any]) -> ColumnElement[Any]:
        """Select the value as ``text``: psycopg2 would parse a ``json`` column into Python objects."""
        return cast(colexpr, Text)


# A pooled connection idle longer than this is pinged before use (it may have died meanwhile);
# one used moments ago is not: a request pays no SELECT 1 under load.
PING_AFTER_IDLE_S = 1.0
_IDLE_SINCE = "qyq_idle_since"


def init_engine_events(app: Flask) -> None:
    """Install the pool's liveness check and reset on the app's engines (call after `db.init_app`).

    Replaces ``pool_pre_ping`` and the pool's unconditional rollback-on-return (both off in
    ``SQLALCHEMY_ENGINE_OPTIONS``). A connection that died while in use (Postgres restarted) fails
    its statement: SQLAlchemy then invalidates the whole pool and the error handler answers 503,
    so a process sees at most one such failure per restart; one that died while idle is replaced
    at checkout without an error.
    """
    with app.app_context():
        engines = list(db.engines.values())
    for engine in engines:
        if engine not in _EVENTS_ON:
            _EVENTS_ON.add(engine)
            _listen(engine)


_EVENTS_ON: weakref.WeakSet[Engine] = weakref.WeakSet()


def _listen(engine: Engine) -> None:
    dialect = engine.dialect

    def checkout(dbapi_conn: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        _ping_if_idle(dialect, dbapi_conn, record)

    event.listen(engine, "checkin", _mark_idle)
    event.listen(engine, "checkout", checkout)
    event.listen(engine, "reset", _rollback_if_in_transaction)


def _mark_idle(_dbapi_conn: Any, record: ConnectionPoolEntry) -> None:
    record.info[_IDLE_SINCE] = time.monotonic()


def _ping_if_idle(dialect: Dialect, dbapi_conn: Any, record: ConnectionPoolEntry) -> None:
    idle_since = record.info.pop(_IDLE_SINCE, None)
    if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
        return
    try:
        dialect.do_ping(dbapi_conn)
    except Exception as exc:  # noqa: BLE001 - any failure means "use a new connection"
        raise DisconnectionError("idle connection failed its ping") from exc  # the pool reconnects


def _rollback_if_in_transaction(dbapi_conn: Any, _record: ConnectionPoolEntry, state: PoolResetState) -> None:
    """End a transaction left open on a returned connection; skip the round trip when there is none."""
    if state.terminate_only:
        return
    info = getattr(dbapi_conn, "info", None)
    if getattr(info, "transaction_status", None) == 0:  # psycopg2 TRANSACTION_STATUS_IDLE
        return
    dbapi_conn.rollback()


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
    Redis writes that only wait for the commit go in the commit's one Redis round trip instead
    (``core.changes.Batch``, as the events do).
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
            changes.forget(db.session)  # the after-commit Redis batch too (even with nothing begun)
            db.session.rollback()
            _run_on_rollback()
            raise
        db.session.info.pop(_ON_ROLLBACK, None)
        _run_on_commit()
        return result

    return wrapper  # type: ignore[return-value]


def execute_on_connection(
    statement: Executable,
    params: Mapping[str, Any] | None = None,
    *,
    options: Mapping[str, Any] | None = None,
) -> CursorResult[Any]:
    """Run ``statement`` on ``db.session``'s connection, in its transaction, as ``session.execute`` would.

    For a statement built once (module level, with ``bindparam``s) that needs no ORM feature: no
    object of the session is to be synchronised with it, and its rows are read as plain rows. The
    ORM's execution of a statement costs about half a millisecond of Python more (its compile state,
    the session's synchronisation, the execution events), several times the statement's round trip.
    What the ORM path does and the outcome depends on is done here in the same order: the write
    watch notes the statement with ``options`` (`changes.note_statement`, as its
    ``do_orm_execute`` hook would), then pending changes are flushed (the autoflush), then it runs.
    A caller whose statement may match an object the session holds (``holds``) keeps the ORM path.
    """
    session = db.session()
    changes.note_statement(session, statement, options)
    if session.autoflush:
        session.flush()
    return session.connection().execute(statement, params, execution_options=options)


def holds(model: type[Any], object_id: Any) -> bool:
    """Return whether ``db.session`` holds the ``model`` object of primary key ``object_id`` (no SQL)."""
    return identity_key(model, object_id) in db.session().identity_map


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
