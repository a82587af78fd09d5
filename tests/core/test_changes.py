"""core/changes.py: what a committed transaction wrote, per table and owner, as the caches hear it."""

from __future__ import annotations

import pytest
from sqlalchemy import text, update

from backend.core import changes
from backend.core.jobs import Job
from backend.extensions import db


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


def test_the_caches_invalidations_of_one_commit_go_in_one_pipeline(app, user, monkeypatch):
    """The personal entries' and the showcases' drops share one MULTI: one Redis round trip per commit."""
    import redis

    sent: list[list[str]] = []
    real = redis.client.Pipeline.execute

    def execute(self, *a, **k):
        sent.append([str(args[0]) for args, _options in self.command_stack] + ["MULTI"] * self.transaction)
        return real(self, *a, **k)

    monkeypatch.setattr(redis.client.Pipeline, "execute", execute)
    db.session.execute(
        update(Job).where(Job.id == "none").values(progress=0),
        execution_options={changes.OWNER_OPTION: user.id},
    )
    db.session.commit()
    assert len(sent) == 1  # both caches read jobs: one pipeline carried both
    # a MULTI holding the showcases' generations and the owner's personal generation (with its TTL)
    assert "MULTI" in sent[0] and "DEL" in sent[0] and "EXPIRE" in sent[0]
    db.session.execute(text("SELECT 1"))
    db.session.commit()
    assert len(sent) == 1  # nothing written: nothing sent


def test_a_redis_failure_while_invalidating_never_fails_the_commit(app, user, monkeypatch, caplog):
    import redis

    def down(self, *a, **k):
        raise redis.ConnectionError("gone")

    monkeypatch.setattr(redis.client.Pipeline, "execute", down)
    db.session.execute(
        update(Job).where(Job.id == "none").values(progress=0),
        execution_options={changes.OWNER_OPTION: user.id},
    )
    db.session.commit()  # no error: logged, and the breaker opened
    assert "redis unavailable" in caplog.text
    app.extensions["redis_breaker"].reset()
