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
