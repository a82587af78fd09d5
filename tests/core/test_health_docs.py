"""Health, the OpenAPI document and the offline docs page."""

from __future__ import annotations

import re

from tests.helpers.api import error, ok


def test_health_reports_each_dependency(client):
    data = ok(client.get("/api/health"))
    assert data["status"] == "ok"
    assert data["version"]
    assert {name: c["ok"] for name, c in data["checks"].items()} == {
        "database": True,
        "redis": True,
        "broker": True,
    }


def test_health_is_503_when_redis_is_down(app, client):
    import redis as redis_lib

    saved = app.extensions["redis"]
    app.extensions["redis"] = redis_lib.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    try:
        resp = client.get("/api/health")
    finally:
        app.extensions["redis"] = saved
    body = error(resp, 503, "service_unavailable")
    assert body["details"]["checks"]["redis"]["ok"] is False
    assert body["details"]["checks"]["database"]["ok"] is True


def test_with_redis_down_sessions_are_checked_in_postgres(app, client, user, make_user):
    """Redis down: nobody is logged out (was: 503 for everyone) and a revoked token stays revoked."""
    import redis as redis_lib

    from backend.core.redis import reset_backoff

    revoked = make_user()
    assert client.post("/api/auth/logout", headers=revoked.headers).status_code == 200
    saved = app.extensions["redis"]
    app.extensions["redis"] = redis_lib.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    try:
        ok(client.get("/api/users/me", headers=user.headers))
        error(client.get("/api/users/me", headers=revoked.headers), 401, "token_revoked")
    finally:
        app.extensions["redis"] = saved
        with app.app_context():
            reset_backoff()


def test_openapi_lists_every_route(app, client):
    spec = client.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    documented = {
        (path, method.upper())
        for path, ops in spec["paths"].items()
        for method in ops
        if method in {"get", "post", "put", "patch", "delete"}
    }
    undocumented = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.endpoint.startswith(
            ("api-docs.", "docs_assets.", "boom.")
        ):
            continue
        if rule.rule.startswith("/api/udf"):
            continue  # the raw TradingView feed is documented in docs/api-contract.md
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if (path, method) not in documented:
                undocumented.append(f"{method} {path}")
    assert undocumented == []


def test_openapi_documents_the_envelope(client):
    spec = client.get("/api/openapi.json").get_json()
    me = spec["paths"]["/api/users/me"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    name = me["$ref"].rsplit("/", 1)[-1]
    props = spec["components"]["schemas"][name]["properties"]
    assert {"code", "message", "data", "request_id"} <= set(props)
    error = spec["components"]["schemas"]["ErrorEnvelope"]["properties"]
    assert {"code", "message", "details", "request_id"} <= set(error)
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_docs_page_uses_only_the_apps_own_assets(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls, "the docs page references no assets"
    for url in urls:
        assert url.startswith("/api/"), f"external asset {url}"
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.data) > 1000
    assert '"/api/openapi.json"' in html or "/api/openapi.json" in html
    assert client.get("/api/docs/assets/../../etc/passwd").status_code == 404
