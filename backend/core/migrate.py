"""Flask-Migrate, imported when it is first used instead of with every app.

``import flask_migrate`` imports Alembic, and with it Mako and Pygments: about 10 MB resident
(``scripts/bench_job_memory.py``) that only the ``flask db`` commands and the migrations need.
Every process creates the app (web workers, Celery workers, beat), so `LazyMigrate.init_app`
registers two stand-ins that bind Flask-Migrate's own ``Migrate`` to the app on first use:

- the ``db`` command group: listed by ``flask --help`` with Flask-Migrate's help text; running
  ``flask db ...`` (or completing it) binds and hands the arguments to Flask-Migrate's group, so
  its options, subcommands and errors are Flask-Migrate's;
- ``app.extensions["migrate"]``: the first attribute read (by ``flask_migrate.upgrade`` and the
  other API functions, or by ``migrations/env.py``) binds and reads Flask-Migrate's config.

Binding calls ``Migrate.init_app``, which replaces both stand-ins with the real objects.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from flask import Flask
    from flask_sqlalchemy import SQLAlchemy

DB_HELP = "Perform database migrations."  # Flask-Migrate's help for its `db` group


class LazyMigrate:
    """``flask_migrate.Migrate`` bound to each app on first use (see the module docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        self._kwargs = kwargs  # Migrate's keyword arguments (compare_type, render_as_batch, ...)
        self._lock = threading.Lock()

    def init_app(self, app: Flask, db: SQLAlchemy, directory: str) -> None:
        """Register the ``db`` command group and ``app.extensions["migrate"]`` without importing
        Flask-Migrate."""

        def bind() -> Any:
            """Bind Flask-Migrate to ``app`` (once) and return its ``app.extensions["migrate"]``."""
            with self._lock:
                if isinstance(app.extensions.get("migrate"), _DeferredConfig):
                    from flask_migrate import Migrate

                    Migrate(app, db, directory, **self._kwargs)
            return app.extensions["migrate"]

        app.extensions["migrate"] = _DeferredConfig(bind)
        app.cli.add_command(_DeferredGroup(bind), name="db")


class _DeferredConfig:
    """``app.extensions["migrate"]`` until first read: then Flask-Migrate's own config."""

    def __init__(self, bind: Any) -> None:
        self._bind = bind

    def __getattr__(self, name: str) -> Any:
        return getattr(self._bind(), name)


class _DeferredGroup(click.Command):
    """The ``db`` group in ``flask --help``; ``flask db ...`` runs Flask-Migrate's group itself.

    click runs ``ctx.command`` of the context ``make_context`` returns, so handing the arguments
    to the real group's ``make_context`` makes it the command that parses and runs them.
    """

    def __init__(self, bind: Any) -> None:
        super().__init__("db", help=DB_HELP)
        self._bind = bind

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        self._bind()
        from flask_migrate.cli import db

        group: click.Group = db
        return group.make_context(info_name, args, parent=parent, **extra)
