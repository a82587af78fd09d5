"""The application factory: the only place where things are wired together."""

from __future__ import annotations

import importlib
import importlib.util
import logging
from pathlib import Path
from typing import Any

from flask import Flask

from backend.config import Settings, load_config

logger = logging.getLogger(__name__)

# Blueprint modules, in registration order: each has a routes.py with `blp` (or `blueprints`).
MODULES = (
    "auth",
    "users",
    "strategies",
    "backtests",
    "bots",
    "forum",
    "files",
    "workflows",
    "market",
    "udf",
    "agent",
    "notifications",
    "webhooks",
    "marketplace",
    "stream",
    "dashboard",
    "admin",
)
# Modules that add a `flask <name>` command group (their cli.py defines `cli`).
CLI_MODULES = ("market",)

MIGRATIONS_DIR = str(Path(__file__).resolve().parent / "migrations")


def create_app(config: Settings | None = None, **overrides: Any) -> Flask:
    """Create and wire the Flask app. `overrides` replace Flask config keys (tests use this)."""
    return _create(config, overrides, serve=True)


def create_worker_app(config: Settings | None = None, **overrides: Any) -> Flask:
    """Create the app a Celery worker (or beat) runs its tasks in: `create_app` without serving HTTP.

    Everything a task relies on is wired as in `create_app`: config, logging, the database and its
    engine events, the write listeners that drop the showcase and personal caches, Redis, JWT, Celery,
    event subscribers, every job kind and task module. Every module's ``routes.py`` is imported too:
    importing it is what declares each cached read (`showcase.cached`, `personal.cached`) that a
    job's writes must drop, and what imports the services that declare job kinds. Left out: the
    OpenAPI ``Api`` and its spec (each blueprint's schemas converted to JSON Schema), the blueprints
    and URL rules, the per-request hooks (request id, input guard, CORS, rate limits) and the
    ``flask`` CLI commands: about 2.5 MB less resident per worker process (docs/engine.md).
    """
    return _create(config, overrides, serve=False)


def _create(config: Settings | None, overrides: dict[str, Any], *, serve: bool) -> Flask:
    from backend.celery_app import celery_init_app
    from backend.core import proxies
    from backend.core.auth import init_jwt_callbacks
    from backend.core.db import init_engine_events
    from backend.core.flaskapp import App
    from backend.core.input_guard import init_input_guard
    from backend.core.jsonprovider import AppJSONProvider
    from backend.core.logging import configure_logging, init_request_id
    from backend.core.personal import init_personal_events
    from backend.core.redis import init_redis
    from backend.core.showcase import init_showcase_events
    from backend.domain.backtest import kernels
    from backend.extensions import api, cors, db, jwt, limiter, migrate
    from backend.modules.marketplace import service as marketplace_service
    from backend.modules.notifications import service as notifications_service
    from backend.modules.webhooks import service as webhooks_service
    from backend.modules.workflows import service as workflows_service

    settings = config or load_config()
    proxies.install()  # Flask's context proxies read public attributes directly (process-wide)
    app = App(__name__)
    app.json = AppJSONProvider(app)
    app.config.update(settings.as_flask_config())
    app.config.update(_openapi_config(settings))
    app.config.update(overrides)
    # The engine's path for every backtest this process runs (process-wide; numba loads lazily).
    kernels.use_jit(bool(app.config["ENGINE_JIT"]))

    configure_logging(app)
    if serve:
        init_request_id(app)
        init_input_guard(app)
    db.init_app(app)
    init_engine_events(app)
    init_showcase_events()
    init_personal_events()
    migrate.init_app(app, db, directory=MIGRATIONS_DIR)
    init_redis(app)
    jwt.init_app(app)
    init_jwt_callbacks(app)
    if serve:
        cors.init_app(
            app,
            resources={r"/api/*": {"origins": app.config["CORS_ORIGINS"]}},
            expose_headers=["X-Request-ID", "X-Pagination", "Retry-After"],
        )
        limiter.init_app(app)
        api.init_app(app, spec_kwargs=_spec_kwargs())
    celery_init_app(app)
    workflows_service.register_strategy_kind()  # before the blueprints: the OpenAPI kind enum lists it
    marketplace_service.init_app()  # keeps listings in step with their strategies (events)
    if serve:
        _register_blueprints(app, api)
    else:
        _import_routes()
    _subscribe_account_hooks()
    notifications_service.register()  # event subscribers (core/events.py)
    webhooks_service.register()
    if serve:
        _register_cli(app)
    _import_task_modules()
    return app


def _openapi_config(settings: Settings) -> dict[str, Any]:
    return {
        "API_TITLE": "QYQuant API",
        "API_VERSION": settings.VERSION,
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "/docs",
        # Served by the app itself (backend/core/docs.py), so the page renders with no internet.
        "OPENAPI_SWAGGER_UI_URL": "/api/docs/assets/",
        "OPENAPI_SWAGGER_UI_CONFIG": {"persistAuthorization": True},
    }


def _spec_kwargs() -> dict[str, Any]:
    return {
        "info": {
            "description": "QYQuant backend. Every JSON success is wrapped in "
            "`{code, message, data, request_id}`; errors in "
            "`{code, message, details, request_id}`."
        },
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                # The same access tokens, obtained by Swagger UI's Authorize dialog with a username
                # and password (RFC 6749 password grant at /api/auth/token).
                "oauth2": {
                    "type": "oauth2",
                    "description": "Log in with a username (or email) and password.",
                    "flows": {
                        "password": {
                            "tokenUrl": "/api/auth/token",
                            "refreshUrl": "/api/auth/token",
                            "scopes": {},
                        }
                    },
                },
            }
        },
        "security": [{"bearerAuth": []}, {"oauth2": []}],
    }


def _import_routes() -> list[Any]:
    """Import every module's routes (what their decorators declare: cached reads, job kinds)."""
    return [importlib.import_module(f"backend.modules.{name}.routes") for name in MODULES]


def _register_blueprints(app: Flask, api: Any) -> None:
    from backend.core.docs import docs_assets_bp
    from backend.core.health import blp as health_blp

    app.register_blueprint(docs_assets_bp)
    api.register_blueprint(health_blp)
    for module in _import_routes():
        for blp in getattr(module, "blueprints", None) or [module.blp]:
            api.register_blueprint(blp)
        for plain in getattr(module, "flask_blueprints", ()):  # outside OpenAPI (WebSockets)
            app.register_blueprint(plain)


def _subscribe_account_hooks() -> None:
    """Register each module's `account.deleted` subscriber (its `account.py`, docs/developing.md)."""
    for name in reversed(MODULES):
        if importlib.util.find_spec(f"backend.modules.{name}.account") is not None:
            importlib.import_module(f"backend.modules.{name}.account").subscribe()


def _register_cli(app: Flask) -> None:
    from backend.cli import seed_command

    app.cli.add_command(seed_command)
    for name in CLI_MODULES:
        app.cli.add_command(importlib.import_module(f"backend.modules.{name}.cli").cli)


def _import_task_modules() -> None:
    from backend.celery_app import TASK_MODULES

    for name in TASK_MODULES:
        importlib.import_module(name)
