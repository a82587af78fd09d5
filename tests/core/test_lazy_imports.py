"""What a process that creates the app does not import, and that the deferred parts still work.

Each case runs in a fresh interpreter: the test session itself has imported everything long ago.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Imported only by `flask db` and the migrations (backend/core/migrate.py).
MIGRATION_ONLY = ("flask_migrate", "alembic", "mako", "pygments")

_PROBE = """
import json, sys
from backend.app import MIGRATIONS_DIR, create_app
from backend.extensions import db

app = create_app()
loaded = sorted(m for m in sys.argv[1:] if m in sys.modules)
config = app.extensions["migrate"]  # the first read binds Flask-Migrate
bound = {"db": config.db is db, "directory": config.directory == MIGRATIONS_DIR,
         "type": type(app.extensions["migrate"]).__name__,
         "configure_args": config.configure_args}
help_text = app.test_cli_runner().invoke(args=["db", "--help"]).output
print(json.dumps({"loaded": loaded, "bound": bound, "help": help_text}))
"""


def _run(probe: str, *args: str) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", probe, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_creating_the_app_does_not_import_flask_migrate_and_its_first_use_binds_it():
    out = _run(_PROBE, *MIGRATION_ONLY)
    assert out["loaded"] == []
    assert out["bound"] == {
        "db": True,
        "directory": True,
        "type": "_MigrateConfig",  # Flask-Migrate's own config replaced the stand-in
        "configure_args": {"compare_type": True, "render_as_batch": True},  # Migrate()'s defaults
    }
    # `flask db` is Flask-Migrate's group: its options and subcommands.
    assert "--x-arg" in out["help"] and "upgrade" in out["help"] and "downgrade" in out["help"]
