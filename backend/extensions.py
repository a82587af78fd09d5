"""Unbound extension singletons; `create_app` binds them with `init_app`. No work at import."""

from __future__ import annotations

from flask_cors import CORS
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData

from backend.core.envelope import EnvelopeApi

# Stable constraint names so Alembic migrations are reproducible.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# join_transaction_mode lets the test suite wrap every test in one outer transaction: a service's
# commit then releases a savepoint instead of ending the test's transaction. In production the
# session owns its connection and the mode has no effect.
db = SQLAlchemy(
    metadata=MetaData(naming_convention=NAMING_CONVENTION),
    session_options={"join_transaction_mode": "create_savepoint", "expire_on_commit": False},
)
migrate = Migrate()
jwt = JWTManager()
api = EnvelopeApi()
cors = CORS()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
