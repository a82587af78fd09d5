"""Waits on Postgres are bounded: a server that accepts connections but never answers fails fast."""

from __future__ import annotations

import socket
import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from backend.config import load_config


def test_a_silent_postgres_fails_the_connection_within_the_connect_timeout():
    options = load_config({"APP_ENV": "test"}).as_flask_config()["SQLALCHEMY_ENGINE_OPTIONS"]
    assert options["connect_args"]["connect_timeout"] == 5
    with socket.socket() as silent:  # listens (the kernel completes the handshake) but never speaks
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        engine = create_engine(f"postgresql+psycopg2://postgres@127.0.0.1:{port}/none", **options)
        started = time.monotonic()
        with pytest.raises(OperationalError), engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        assert time.monotonic() - started < 10
        engine.dispose()
