"""core/changes.py: what a committed transaction wrote, per table and owner, as the caches hear it."""

from __future__ import annotations

import pytest
from sqlalchemy import text, update

from backend.core import changes
from backend.core.jobs import Job
from backend.extensions import db
from tests.helpers.redis_wire import _names, redis_round_trips


@pytest.fixture
def heard(app):
    got: list[changes.Changes] = []
    listener = got.append
    changes.on_commit(listener)
    yield got
    changes._listeners.remove(listener)


def test_statements_name_their_owners_or_count_as_unknown(user, heard):
    db.session.execute(
        update(Job).where(Job.id == "none").values(progress=0),
        execution_options={changes.OWNER_OPTION: user.id},
    )
    db.session.execute(update(Job).where(Job.id == "none").values(progress=0))  # no owner told
    db.session.execute(text("UPDATE jobs SET progress = 0 WHERE id = 'none'"))  # no tables told
    db.session.execute(
        text("UPDATE jobs SET progress = 0 WHERE id = 'none'"),
        execution_options={changes.TABLES_OPTION: ("jobs",)},
    )
    db.session.execute(text("SELECT 1"))  # reads are not writes
    db.session.commit()
    assert heard == [{"jobs": {user.id, changes.UNKNOWN}, changes.ANY_TABLE: {changes.UNKNOWN}}]


def test_noted_writes_and_shared_deletes(user, heard):
    db.session.execute(
        update(Job).where(Job.id == "none").values(progress=0),
        execution_options={changes.OWNER_OPTION: changes.NOTED},
    )
    changes.note(db.session, "jobs", [user.id])
    db.session.execute(
        text("DELETE FROM strategies WHERE id = 'none'"),
        execution_options={changes.TABLES_OPTION: ("strategies",), changes.OWNER_OPTION: user.id},
    )
    db.session.commit()
    # a strategy's delete reaches other users' rows (forks): its owner is unknown whatever was said
    assert heard == [{"jobs": {user.id}, "strategies": {changes.UNKNOWN}}]


def test_orm_flushes_name_the_owner_column_and_savepoints_and_rollbacks_tell_nobody(user, heard):
    from backend.modules.users.models import User

    me = db.session.get(User, user.id)
    with db.session.begin_nested():
        me.bio = "first"
    assert heard == []  # a released savepoint: nothing visible to others yet
    db.session.commit()
    assert heard == [{"users": {user.id}}]
    me.bio = "second"
    db.session.flush()
    db.session.rollback()
    db.session.commit()
    assert heard == [{"users": {user.id}}]  # the rolled-back write was forgotten


def _touch_job(owner_id: str) -> None:
    """A write both caches depend on (jobs): it drops the owner's personal entries and showcases."""
    db.session.execute(
        update(Job).where(Job.id == "none").values(progress=0),
        execution_options={changes.OWNER_OPTION: owner_id},
    )


def test_a_commit_that_invalidates_and_publishes_makes_one_redis_round_trip(app, user, monkeypatch):
    """The caches' drops and the transaction's events: one send, one MULTI, drops first."""
    from backend.core import events, personal
    from backend.core.db import transactional
    from backend.core.redis import get_redis

    @transactional
    def work(emit: bool = True) -> None:
        _touch_job(user.id)
        if emit:
            events.emit(events.Event("test.done", "jobs", user.id, object_id="j1"))
            events.emit(events.Event("test.other", "notifications", user.id, object_id="n1"))

    stream = events.user_stream_key(user.id)
    before = int(get_redis().get(personal._user_gen_key(user.id)) or 0)
    with redis_round_trips(monkeypatch) as sent:
        work()
    assert len(sent) == 1, sent
    [names] = sent
    assert names[0] == "MULTI" and names[-1] == "EXEC"
    assert names.count("XADD") == 2
    first_xadd = names.index("XADD")
    assert "INCRBY" in names[:first_xadd] and "DEL" in names[:first_xadd]  # drops before the events
    assert int(get_redis().get(personal._user_gen_key(user.id))) == before + 1  # the drop landed
    assert [fields["e"] for _id, fields in get_redis().xrange(stream)][-1].count('"objectId":"n1"') == 1

    with redis_round_trips(monkeypatch) as sent:
        work(emit=False)  # only drops: still one
        db.session.execute(text("SELECT 1"))
        db.session.commit()  # nothing written, nothing queued: nothing sent
    assert [names[0] for names in sent] == ["MULTI"]


def test_a_redis_failure_after_a_commit_never_fails_it_and_opens_the_breaker(app, user, monkeypatch, caplog):
    from backend.core import events
    from backend.core.db import transactional

    @transactional
    def work() -> None:
        _touch_job(user.id)
        events.emit(events.Event("test.done", "jobs", user.id, object_id="j1"))

    import redis
    from redis.connection import AbstractConnection

    sent: list[list[str]] = []

    def down(_conn, command, *_a, **_k):  # the server gone: every send fails
        sent.append(_names(command))
        raise redis.ConnectionError("down")

    breaker = app.extensions["redis_breaker"]
    try:
        monkeypatch.setattr(AbstractConnection, "send_packed_command", down)
        work()  # no error: the commit stands
        assert breaker.is_open()  # this process reads Postgres for REDIS_BACKOFF_S
        work()  # the batch is tried again all the same (the breaker is not asked), once
        # one attempt per commit: the MULTI, then (the connection was dropped) the new one's handshake
        assert len(sent) == 2 and sent[0][0] == "MULTI"
        assert "redis unavailable after a commit" in caplog.text
        assert "cache invalidation commands" in caplog.text  # the warning says what was lost
        assert "events ['test.done'] not published" in caplog.text
    finally:
        monkeypatch.undo()
        breaker.reset()


def test_a_rolled_back_transaction_sends_nothing_and_leaves_nothing_for_the_next(app, user, monkeypatch):
    from backend.core import events
    from backend.core.db import transactional

    @transactional
    def work(fail: bool) -> None:
        if fail:  # an event queued before anything began: a rollback with no transaction to end
            events.emit(events.Event("test.lost", "jobs", user.id, object_id="j0"))
            raise ValueError("the cause failed")
        _touch_job(user.id)

    with redis_round_trips(monkeypatch) as sent:
        with pytest.raises(ValueError):
            work(fail=True)
        assert sent == []
        work(fail=False)
    assert len(sent) == 1 and "XADD" not in sent[0]


def test_the_caches_ttls_may_not_exceed_the_redis_backoff():
    """What the failure rule needs: the writer's process reads Postgres until the entries it may
    have left stale have expired."""
    from backend.config import load_config

    ttls = ("SHOWCASE_CACHE_TTL_S", "PERSONAL_CACHE_TTL_S", "AUTH_CACHE_TTL_S")
    equal = {"REDIS_BACKOFF_S": "5", **dict.fromkeys(ttls, "5")}
    assert load_config(equal).REDIS_BACKOFF_S == 5
    for name in ttls:
        with pytest.raises(ValueError, match=f"{name} must not exceed REDIS_BACKOFF_S"):
            load_config({**equal, name: "6"})


def _both_paths(run) -> tuple[changes.Changes, changes.Changes, list[str], list[str]]:
    """Run ``run(execute)`` once through ``session.execute`` and once through ``execute_on_connection``;
    return what each transaction noted (the committed changes) and which write listeners heard it."""
    from backend.core.db import execute_on_connection

    noted, calls = [], []
    for execute in (
        lambda stmt, opts: db.session.execute(stmt, execution_options=opts),
        lambda stmt, opts: execute_on_connection(stmt, options=opts),
    ):
        heard_writes: list[str] = []
        listeners = {
            t: (lambda s, t=t, heard=heard_writes: heard.append(t)) for t in ("jobs", "users", "strategies")
        }
        for table, listener in listeners.items():
            changes.on_write(table, listener)
        try:
            run(execute)
            noted.append({t: set(o) for t, o in db.session.info.get("qyq_changes", {}).items()})
        finally:
            for table, listener in listeners.items():
                changes._on_write[table].remove(listener)
        db.session.rollback()
        calls.append(heard_writes)
    return noted[0], noted[1], calls[0], calls[1]


def test_a_statement_run_on_the_sessions_connection_is_noted_as_through_the_session(user):
    """``execute_on_connection`` (a statement built once, run off the ORM path) notes and tells the
    write listeners exactly what ``session.execute`` of the same statement does, in the same order."""
    from sqlalchemy import delete, select

    from backend.modules.strategies.models import Strategy

    def writes(execute) -> None:
        execute(update(Job).where(Job.id == "none").values(progress=0), {changes.OWNER_OPTION: user.id})
        execute(update(Job).where(Job.id == "none").values(progress=0), {changes.OWNER_OPTION: changes.NOTED})
        execute(update(Job).where(Job.id == "none").values(progress=0), None)
        execute(delete(Strategy).where(Strategy.id == "none"), {changes.OWNER_OPTION: user.id})
        execute(text("UPDATE jobs SET progress = 0 WHERE id = 'none'"), {changes.TABLES_OPTION: ("jobs",)})
        execute(
            text("UPDATE jobs SET progress = 0 WHERE id = 'none'"), {changes.OWNER_OPTION: [user.id, "x"]}
        )
        execute(select(Job.id).where(Job.id == "none"), {changes.OWNER_OPTION: user.id})  # a read: nothing

    via_session, via_connection, heard_session, heard_connection = _both_paths(writes)
    assert (
        via_connection
        == via_session
        == {
            "jobs": {user.id, changes.UNKNOWN},
            "strategies": {changes.UNKNOWN},
            changes.ANY_TABLE: {user.id, "x"},
        }
    )
    assert heard_connection == heard_session
    assert heard_session.count("jobs") >= 4 and "strategies" in heard_session


def test_a_statement_on_the_sessions_connection_autoflushes_first_and_drops_the_caches_on_commit(user, heard):
    """Pending ORM changes are flushed before the statement (as a query's autoflush), after it is
    noted (as the ``do_orm_execute`` hook notes it before the ORM's flush); the commit then tells the
    caches' listeners both writes, as through the session."""
    from backend.core.db import execute_on_connection
    from backend.modules.users.models import User

    me = db.session.get(User, user.id)
    me.bio = "pending"
    db.session.execute(
        update(Job).where(Job.id == "none").values(progress=0),
        execution_options={changes.OWNER_OPTION: user.id},
    )
    assert list(db.session.info["qyq_changes"]) == ["jobs", "users"]  # the ORM's order
    db.session.rollback()
    me = db.session.get(User, user.id)
    me.bio = "pending"
    assert db.session.dirty
    execute_on_connection(
        update(Job).where(Job.id == "none").values(progress=0), options={changes.OWNER_OPTION: user.id}
    )
    assert not db.session.dirty  # flushed
    assert list(db.session.info["qyq_changes"]) == ["jobs", "users"]  # the statement's note first
    db.session.commit()
    assert heard == [{"jobs": {user.id}, "users": {user.id}}]
    assert db.session.scalar(text("SELECT bio FROM users WHERE id = :id"), {"id": user.id}) == "pending"
