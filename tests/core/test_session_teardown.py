"""A request whose database connection dies after its handler ran still ends cleanly.

Found by tests/faults/test_postgres_restart.py: Postgres stopped while a request held a session,
the teardown's rollback raised past every error handler and gunicorn answered a bare 500.
"""

from __future__ import annotations

import psycopg2
from sqlalchemy import text


def _terminate(app, pid: int) -> None:
    """Kill one server backend from another connection, as a Postgres shutdown would."""
    url = app.config["SQLALCHEMY_DATABASE_URI"].replace("+psycopg2", "")
    admin = psycopg2.connect(url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
    admin.close()


def test_teardown_survives_a_connection_the_server_closed(app, committed):
    from backend.extensions import db

    ctx = app.test_request_context("/api/health")
    ctx.push()
    pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()  # a transaction is open
    _terminate(app, pid)
    ctx.pop()  # Flask-SQLAlchemy's teardown rolls back: on a dead connection it used to raise here
    with app.app_context():  # and the pool still serves a working connection afterwards
        assert db.session.execute(text("SELECT 1")).scalar_one() == 1
