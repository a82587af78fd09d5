"""What each transaction wrote, for the caches that must forget what its commit changed.

The showcase cache (`backend.core.showcase`) and the personal read cache
(`backend.core.personal`) both serve pre-serialised reads that a committed write may make
stale. This module is the one place that watches writes: session events note, per table, whose
rows every flush and every INSERT/UPDATE/DELETE statement writes, and once the transaction
commits every registered listener (`on_commit`) gets the notes, ``{table: owners}``:

- a flushed ORM object: its table(s) and, for a table in `OWNER_COLUMNS`, the user its owner
  column names (``users.id`` for the users table); `UNKNOWN` for any other table;
- a statement: its table and the owners its writer passed as the ``qyq_owner`` execution option
  (an id or several), `UNKNOWN` without it; with ``qyq_owner=NOTED`` the writer notes the owners
  itself (`note`, from its RETURNING); a textual statement names its tables with ``qyq_tables``,
  else it counts as `ANY_TABLE`;
- deleting rows of a table in `SHARED_ON_DELETE` changes other users' rows through foreign keys,
  so such a delete's owner is `UNKNOWN` whatever its writer says.

A savepoint's release notifies nobody (nothing is visible to others yet); a rolled-back
transaction's notes are dropped. Listeners run after the commit, before the writer's response.

What a transaction itself remembers of a table (the webhooks' endpoints, read once per
transaction) is dropped through `on_write`: its listeners hear of each noted write of the table
at once, in the transaction, so no writer has to remember it.

Every commit's Redis writes go in one round trip (`Batch`): the caches' invalidations
(`on_commit_pipelined`) and what else a transaction queued for after its commit (its events), in
one ``MULTI``, under one failure rule (`Batch`'s docstring; ADR 0014).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, UOWTransaction, scoped_session
from sqlalchemy.sql import Executable
from sqlalchemy.sql.elements import TextClause

# The column naming the user a row belongs to, per table whose writes the caches tell apart by owner.
OWNER_COLUMNS: dict[str, str] = {
    "users": "id",
    "strategies": "owner_id",
    "strategy_versions": "created_by",
    "backtests": "owner_id",
    "jobs": "owner_id",
    "bot_instances": "owner_id",
    "files": "owner_id",  # deleting a file clears users.avatar_file_id (ON DELETE SET NULL)
}
# Deleting rows of these tables changes other users' rows through foreign keys (a copy's
# `forked_from_*`, a backtest's `strategy_id`/`strategy_version_id`: ON DELETE SET NULL).
SHARED_ON_DELETE = frozenset({"users", "strategies", "strategy_versions"})

OWNER_OPTION = "qyq_owner"  # execution option: the owner(s) of the rows a statement writes
NOTED = "qyq:noted"  # its value when the writer calls `note` itself with RETURNING's owners
TABLES_OPTION = "qyq_tables"  # execution option of a textual statement: the tables it writes
UNKNOWN = "\x00?"  # an owner that could not be told
ANY_TABLE = "*"  # a textual statement without TABLES_OPTION: any table

Changes = dict[str, set[str]]  # table -> owners written (UNKNOWN among them when not told)

logger = logging.getLogger(__name__)

_KEY = "qyq_changes"  # session.info key of the open transaction's notes
_BATCHES = "qyq_commit_batches"  # session.info key of its `Batch` items ({batch: items}, in order)
_listeners: list[Callable[[Changes], None]] = []


def on_commit(listener: Callable[[Changes], None]) -> None:
    """Call ``listener`` with the notes of every committed transaction that wrote anything (idempotent)."""
    if listener not in _listeners:
        _listeners.append(listener)


_pipelined: list[Callable[[Changes, Any], None]] = []


def on_commit_pipelined(listener: Callable[[Changes, Any], None]) -> None:
    """Like `on_commit`, for listeners that only queue Redis writes: ``listener(changes, pipe)``.

    They queue onto the commit's one Redis batch (see `Batch`), ahead of its other items. Only
    an app wired by create_app (with the Redis client and its breaker) has the caches; elsewhere
    nothing is sent.
    """
    if listener not in _pipelined:
        _pipelined.append(listener)


@dataclass(frozen=True, eq=False)
class Batch:
    """Redis writes a transaction makes once it has committed, sent in the commit's one round trip.

    Every commit sends at most one pipeline, a ``MULTI``: first the caches' invalidations
    (`on_commit_pipelined`), then each batch's items in the order its first item was added
    (``queue(pipe, items)``: the events, `backend.core.events`). A rolled-back transaction sends
    none of its items (a savepoint's rollback keeps them, as it keeps the notes).

    The failure rule, one for everything in the batch: the pipeline is always sent (the breaker
    is not asked first), bounded by ``REDIS_TIMEOUT_MS``; a Redis error is logged with what it
    lost (``lost(items)``), opens the breaker (`core.redis.cached_call`: this process reads
    Postgres for ``REDIS_BACKOFF_S``) and never fails the commit, which stands. So a cache entry
    a write changed is never served stale by the writing process: either the drop reached Redis
    or the process reads Postgres until every entry filled before the write has expired (the
    caches' TTLs do not exceed ``REDIS_BACKOFF_S``, `backend.config.validate`). Other processes
    may serve such an entry until its TTL. A frozen Redis gets the batch when it resumes (it was
    sent); events are best effort: Postgres holds their record.
    """

    name: str
    queue: Callable[[Any, list[Any]], None]
    lost: Callable[[list[Any]], str]

    def add(self, session: Session | scoped_session[Any], item: Any) -> None:
        """Queue ``item`` for this batch after the session's transaction commits."""
        batches: dict[Batch, list[Any]] = session.info.setdefault(_BATCHES, {})
        batches.setdefault(self, []).append(item)


def _send(changes: Changes | None, batches: dict[Batch, list[Any]] | None) -> None:
    from flask import current_app, has_app_context  # noqa: PLC0415 - the module stays import-light

    if not (has_app_context() and "redis_breaker" in current_app.extensions):
        return
    import redis  # noqa: PLC0415

    from backend.core.redis import get_redis  # noqa: PLC0415

    pipe = get_redis().pipeline(transaction=True)
    if changes:
        for listener in _pipelined:
            listener(changes, pipe)
    drops = len(pipe)
    for batch, items in (batches or {}).items():
        batch.queue(pipe, items)
    if not len(pipe):
        return
    try:
        pipe.execute()
    except redis.RedisError as exc:
        backoff = current_app.config["REDIS_BACKOFF_S"]
        current_app.extensions["redis_breaker"].trip(backoff)
        lost = [f"{drops} cache invalidation commands"] if drops else []
        lost += [batch.lost(items) for batch, items in (batches or {}).items()]
        logger.warning(
            "redis unavailable after a commit, using the database for %ss; lost: %s: %s",
            backoff,
            "; ".join(lost),
            exc,
        )


_on_write: dict[str, list[Callable[[Any], None]]] = {}  # table -> listeners of its writes, as noted


def on_write(table: str, listener: Callable[[Any], None]) -> None:
    """Call ``listener(session)`` whenever ``session``'s open transaction notes a write to ``table``.

    At once, in the transaction (not after its commit): for what a transaction itself remembers of
    the table, such as the webhooks' endpoint memo. An ORM object's write is noted when it is
    flushed (before its SQL), a statement before it runs; a textual statement that names no
    tables counts for every table. Idempotent.
    """
    listeners = _on_write.setdefault(table, [])
    if listener not in listeners:
        listeners.append(listener)


def note(session: Session | scoped_session[Any], table: str, owners: Iterable[str | None]) -> None:
    """Record that the open transaction wrote rows of these owners in ``table`` (None: unknown).

    For writes the session events cannot tell: a statement run with ``qyq_owner=NOTED`` (its
    owners come from RETURNING), or SQL on the session's raw connection.
    """
    ids = {owner if owner else UNKNOWN for owner in owners}
    if ids:
        session.info.setdefault(_KEY, {}).setdefault(table, set()).update(ids)
    if _on_write:
        for listener in _write_listeners(table):
            listener(session)


def _write_listeners(table: str) -> list[Callable[[Any], None]]:
    if table == ANY_TABLE:
        return [listener for listeners in _on_write.values() for listener in listeners]
    return _on_write.get(table, [])


def _owners_of(obj: object, table: str) -> set[str]:
    column = OWNER_COLUMNS.get(table)
    if column is None:
        return {UNKNOWN}
    state = inspect(obj)
    if column == "id" and state.identity:
        return {str(state.identity[0])}
    attr = state.attrs[column]
    values = {v for v in (*attr.history.added, *attr.history.unchanged, *attr.history.deleted) if v}
    if not values and state.dict.get(column):
        values = {state.dict[column]}
    return {str(v) for v in values} or {UNKNOWN}


def _note_flush(session: Session, _flush: UOWTransaction, _instances: object) -> None:
    for obj in (*session.new, *session.deleted, *session.dirty):
        if obj in session.dirty and not session.is_modified(obj, include_collections=False):
            continue
        deleted = obj in session.deleted
        for t in inspect(type(obj)).tables:
            name = getattr(t, "name", None)
            if isinstance(name, str):
                shared = deleted and name in SHARED_ON_DELETE
                note(session, name, [None] if shared else _owners_of(obj, name))


def _note_statement(state: ORMExecuteState) -> None:
    if state.is_select:
        return
    _note_write(state.session, state.statement, state.is_delete, state.execution_options)


def note_statement(session: Session, statement: Executable, options: Mapping[str, Any] | None = None) -> None:
    """Note ``statement`` as the session's ``do_orm_execute`` watch would, for one run off the ORM path.

    For a statement executed on ``session.connection()`` (no ORM features needed, none of the ORM
    execution's cost): call this just before it, with the execution options it would have been
    given (merged over the statement's own), and the write is noted exactly as through
    ``session.execute``. A SELECT notes nothing.
    """
    if statement.is_select:
        return
    merged: Mapping[str, Any] = statement.get_execution_options()
    if options:
        merged = {**merged, **options}
    _note_write(session, statement, bool(statement.is_dml and statement.is_delete), merged)


def _note_write(
    session: Session, statement: Any, is_delete: bool, execution_options: Mapping[str, Any]
) -> None:
    if isinstance(statement, TextClause):
        verb = statement.text.lstrip()[:6].lower()
        if verb == "select":
            return
        is_delete = verb == "delete"
        names = list(execution_options.get(TABLES_OPTION) or (ANY_TABLE,))
    else:
        table = getattr(statement, "table", None)
        found = getattr(table, "name", None) if table is not None else None
        names = [found if isinstance(found, str) else ANY_TABLE]
    option = execution_options.get(OWNER_OPTION)
    for name in names:
        told = None if is_delete and name in SHARED_ON_DELETE else option
        if told == NOTED:  # the writer notes the owners (RETURNING); its write is made now
            for listener in _write_listeners(name):
                listener(session)
            continue
        if isinstance(told, str):
            owners: Iterable[str | None] = (told,)
        elif isinstance(told, Collection):
            owners = told
        else:
            owners = (None,)
        note(session, name, owners)


def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint released: nothing is visible to others yet
        return
    changes: Changes | None = session.info.pop(_KEY, None)
    batches: dict[Batch, list[Any]] | None = session.info.pop(_BATCHES, None)
    if batches or (changes and _pipelined):
        _send(changes, batches)
    if changes:
        for listener in _listeners:
            listener(changes)


def _forget(session: Session, previous: SessionTransaction) -> None:
    if previous.parent is None:  # the whole transaction is gone (a savepoint's rollback keeps the rest)
        forget(session)


def forget(session: Session | scoped_session[Any]) -> None:
    """Drop the open transaction's notes and batches (a rollback does; also one with nothing begun)."""
    session.info.pop(_KEY, None)
    session.info.pop(_BATCHES, None)


def init_write_events() -> None:
    """Watch every session's writes (idempotent); `on_commit` listeners hear of them after commit."""
    for name, listener in (
        ("before_flush", _note_flush),
        ("do_orm_execute", _note_statement),
        ("after_commit", _after_commit),
        ("after_soft_rollback", _forget),
    ):
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)
