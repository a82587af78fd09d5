"""`flask seed`: idempotent demo data, the admin user first, then each module's seed_demo."""

from __future__ import annotations

import importlib
import logging

import click
from flask import current_app
from flask.cli import with_appcontext

logger = logging.getLogger(__name__)

# Modules with a seed.py, in dependency order: later modules use what earlier ones seeded.
SEED_ORDER = ("strategies", "backtests", "bots", "forum", "workflows", "marketplace")


@click.command("seed")
@with_appcontext
def seed_command() -> None:
    """Create the demo user (admin/admin123 by default) and the demo showcase."""
    from backend.modules.users import service as users_service

    admin = users_service.ensure_user(
        username=current_app.config["ADMIN_USERNAME"],
        password=current_app.config["ADMIN_PASSWORD"],
        is_admin=True,
    )
    click.echo(f"user {admin.username} ready")
    for name in SEED_ORDER:
        importlib.import_module(f"backend.modules.{name}.seed").seed_demo(admin_id=admin.id)
        click.echo(f"seeded {name}")
