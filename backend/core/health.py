"""GET /api/health: database, Redis and broker reachability, with the version.

The checks run in parallel, each in its own thread with the app context, and the endpoint waits
for them at most ``HEALTH_TIMEOUT_MS``: a frozen dependency shows up as that check failing with
``error: "Timeout"`` instead of holding the request (every client also has its own short timeout,
so a stuck check thread ends soon after).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import marshmallow as ma
from flask import Flask, current_app
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
    latencyMs = ma.fields.Float()  # noqa: N815 - the wire name
    error = ma.fields.String()


class HealthSchema(ma.Schema):
    status = ma.fields.String(metadata={"example": "ok"})
    version = ma.fields.String()
    checks = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Nested(CheckSchema))


def _database() -> None:
    try:
        db.session.execute(text("SELECT 1"))  # the probe thread's own session (own app context)
    finally:
        db.session.remove()


def _redis() -> None:
    get_redis().ping()


def _broker() -> None:
    timeout_s = current_app.config["REDIS_TIMEOUT_MS"] / 1000
    with current_app.extensions["celery"].connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout_s)


CHECKS: dict[str, Callable[[], None]] = {"database": _database, "redis": _redis, "broker": _broker}


class _Probe(threading.Thread):
    """Run one check inside an app context and record its outcome."""

    def __init__(self, app: Flask, name: str, check: Callable[[], None]) -> None:
        super().__init__(name=f"health-{name}", daemon=True)
        self.app, self.check = app, check
        self.result: dict[str, Any] | None = None

    def run(self) -> None:
        start = time.perf_counter()
        outcome: dict[str, Any] = {"ok": True}
        try:
            with self.app.app_context():
                self.check()
        except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
            outcome = {"ok": False, "error": type(exc).__name__}
        self.result = {**outcome, "latencyMs": round((time.perf_counter() - start) * 1000, 2)}


def health_report() -> dict[str, Any]:
    """Probe each dependency once, in parallel, waiting at most HEALTH_TIMEOUT_MS in all."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    timeout_s = app.config["HEALTH_TIMEOUT_MS"] / 1000
    probes = {name: _Probe(app, name, check) for name, check in CHECKS.items()}
    for probe in probes.values():
        probe.start()
    deadline = time.monotonic() + timeout_s
    checks: dict[str, dict[str, Any]] = {}
    for name, probe in probes.items():
        probe.join(max(deadline - time.monotonic(), 0))
        timed_out = {"ok": False, "error": "Timeout", "latencyMs": round(timeout_s * 1000, 2)}
        checks[name] = probe.result if probe.result is not None else timed_out
    ok = all(c["ok"] for c in checks.values())
    return {"status": "ok" if ok else "degraded", "version": app.config["VERSION"], "checks": checks}


@blp.route("")
@blp.doc(security=[])
@blp.response(200, HealthSchema)
@blp.alt_response(503, description="A dependency is unreachable (error envelope with details.checks).")
def health() -> dict[str, Any]:
    """Report the service's health."""
    report = health_report()
    if report["status"] != "ok":
        failing = ", ".join(name for name, check in report["checks"].items() if not check["ok"])
        raise Unavailable(f"A dependency is unreachable: {failing}.", details=report)
    return report
