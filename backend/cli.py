"""`flask seed`: idempotent demo data, the admin user first, then each module's seed_demo."""
from __future__ import annotations

import importlib
import importlib.util
import logging

import click
from flask import current_app
from flask.cli import with_appcontext

logger = logging.getLogger(__name__)

# Dependency order: later modules use what earlier ones seeded.
SEED_ORDER = ("market", "strategies", "backtests", "bots", "forum", "files", "workflows", "agent")


@click.command("seed")
@with_appcontext
def seed_command() -> None:
    """Create the demo user (admin/admin123 by default) and the demo showcase."""
    from backend.modules.users import service as users_service

    admin = users_service.ensure_user(username=current_app.config["ADMIN_USERNAME"],
                                      password=current_app.config["ADMIN_PASSWORD"], is_admin=True)
    click.echo(f"user {admin.username} ready")
    for name in SEED_ORDER:
        module_name = f"backend.modules.{name}.seed"
        if importlib.util.find_spec(module_name) is None:
            continue
        importlib.import_module(module_name).seed_demo(admin_id=admin.id)
        click.echo(f"seeded {name}")
