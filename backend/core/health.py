"""GET /api/health: database, Redis and broker reachability, with the version."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import marshmallow as ma
from flask import current_app
from sqlalchemy import text

from backend.core.envelope import EnvelopeBlueprint
from backend.core.errors import Unavailable
from backend.core.redis import get_redis
from backend.extensions import db

blp = EnvelopeBlueprint(
    "health", __name__, url_prefix="/api/health", description="Liveness and dependencies."
)


class CheckSchema(ma.Schema):
    ok = ma.fields.Boolean()
    latencyMs = ma.fields.Float()
    error = ma.fields.String()


class HealthSchema(ma.Schema):
    status = ma.fields.String(metadata={"example": "ok"})
    version = ma.fields.String()
    checks = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Nested(CheckSchema))


def _timed(check: Callable[[], Any]) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        check()
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return {
            "ok": False,
            "latencyMs": round((time.perf_counter() - start) * 1000, 2),
            "error": type(exc).__name__,
        }
    return {"ok": True, "latencyMs": round((time.perf_counter() - start) * 1000, 2)}


def _broker() -> None:
    with current_app.extensions["celery"].connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


def health_report() -> dict[str, Any]:
    """Probe each dependency once."""
    checks = {
        "database": _timed(lambda: db.session.execute(text("SELECT 1"))),
        "redis": _timed(lambda: get_redis().ping()),
        "broker": _timed(_broker),
    }
    db.session.rollback()
    ok = all(c["ok"] for c in checks.values())
    return {"status": "ok" if ok else "degraded", "version": current_app.config["VERSION"], "checks": checks}


@blp.route("")
@blp.doc(security=[])
@blp.response(200, HealthSchema)
@blp.alt_response(503, description="A dependency is unreachable (error envelope with details.checks).")
def health():
    """Report the service's health."""
    report = health_report()
    if report["status"] != "ok":
        raise Unavailable("A dependency is unreachable.", details=report)
    return report
