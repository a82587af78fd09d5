"""backend.extensions: the typed model base is what Flask-SQLAlchemy builds at runtime.

`Model` is spelled as a class statement for the type checker and is `db.Model` at runtime; these
tests keep the two spellings saying the same thing, and pin the metadata and session options.
"""

from __future__ import annotations

import pytest
from flask_sqlalchemy.model import Model as FlaskModel
from sqlalchemy.orm import DeclarativeBase

from backend.core.jobs import Job
from backend.extensions import NAMING_CONVENTION, Base, Model, db


def test_model_is_db_model_with_the_shape_the_type_checker_sees():
    assert Model is db.Model
    assert issubclass(Model, FlaskModel) and issubclass(Model, DeclarativeBase)


def test_one_metadata_with_the_naming_convention():
    assert db.metadata is Model.metadata is Base.metadata
    assert {key: db.metadata.naming_convention[key] for key in NAMING_CONVENTION} == NAMING_CONVENTION
    assert Job.__table__.primary_key.name == "pk_jobs"


def test_every_mapped_class_is_a_model_on_the_shared_metadata(app):
    mapped = [mapper.class_ for mapper in Model.registry.mappers]
    assert Job in mapped
    assert all(issubclass(cls, Model) and cls.__table__.metadata is db.metadata for cls in mapped)


def test_constructors_take_keyword_columns_only():
    job = Job(kind="core.selftest", owner_id=None)
    assert job.kind == "core.selftest" and job.owner_id is None
    with pytest.raises(TypeError):
        Job(no_such_column=1)


def test_session_options_are_kept(app):
    with app.app_context():
        session = db.session()
        assert session.join_transaction_mode == "create_savepoint"
        assert session.expire_on_commit is False
