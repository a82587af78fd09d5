"""Serve the Swagger UI assets from the installed `swagger-ui-bundle` package (no CDN)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, send_from_directory
from swagger_ui_bundle import swagger_ui_path

docs_assets_bp = Blueprint("docs_assets", __name__, url_prefix="/api/docs/assets")

_ALLOWED = {
    "swagger-ui.css",
    "swagger-ui-bundle.js",
    "swagger-ui-standalone-preset.js",
    "favicon-32x32.png",
    "favicon-16x16.png",
}


@docs_assets_bp.get("/<path:filename>")
def asset(filename: str) -> Response:
    """Return one Swagger UI asset."""
    if filename not in _ALLOWED:
        abort(404)
    return send_from_directory(swagger_ui_path, filename, max_age=86400)
