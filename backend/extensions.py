"""Unbound extension singletons; `create_app` binds them with `init_app`. No work at import."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask_limiter.util import get_remote_address
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.model import Model as FlaskModel
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from backend.core.cors import QuickCORS
from backend.core.envelope import EnvelopeApi
from backend.core.jwt_cache import CachingJWTManager
from backend.core.migrate import LazyMigrate
from backend.core.ratelimit import QuietLimiter

# Stable constraint names so Alembic migrations are reproducible.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """The declarative base handed to Flask-SQLAlchemy: one metadata with stable constraint names.

    Models never subclass it directly; they subclass `Model` (below), which is `db.Model` at runtime.
    """

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# join_transaction_mode lets the test suite wrap every test in one outer transaction: a service's
# commit then releases a savepoint instead of ending the test's transaction. In production the
# session owns its connection and the mode has no effect.
db = SQLAlchemy(
    model_class=Base,
    session_options={"join_transaction_mode": "create_savepoint", "expire_on_commit": False},
)

# Every model subclasses `Model`. At runtime it is `db.Model`: Flask-SQLAlchemy builds that class
# from Base's body on the bases (its Model mixins, DeclarativeBase). A type checker cannot use an
# attribute (`db.Model`) as a base class, so it sees the same shape spelled as a class statement.
# tests/core/test_extensions.py holds the two spellings together.
if TYPE_CHECKING:

    class Model(FlaskModel, Base):
        """The base of every model (the type checker's view of `db.Model`)."""

        __abstract__ = True

else:
    Model = db.Model

migrate = LazyMigrate()  # Flask-Migrate (and Alembic) imported on first use: core/migrate.py
jwt = CachingJWTManager()
api = EnvelopeApi()
cors = QuickCORS()
limiter = QuietLimiter(key_func=get_remote_address, default_limits=[])
