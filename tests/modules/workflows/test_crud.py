"""Workflow CRUD, versions, validation endpoint, node types; auth and ownership envelopes."""

from __future__ import annotations

import json

import pytest

from backend.domain import workflow as engine
from backend.modules.workflows.graphs import limits
from tests.domain.workflow.builders import edge, graph, node, sma_cross_graph, threshold_graph
from tests.helpers.api import error, fields


def test_create_returns_version_one(client, user):
    g = threshold_graph("<", 30)
    resp = client.post(
        "/api/workflows", headers=user.headers, json={"name": "dip", "graph": g, "symbol": "BTCUSDT"}
    )
    assert resp.status_code == 201
    data = resp.get_json()["data"]
    assert data["name"] == "dip" and data["symbol"] == "BTCUSDT" and data["version"] == 1
    assert data["graph"] == g and data["enabled"] is False and data["nextRunAt"] is None
    assert isinstance(data["createdAt"], int) and data["createdAt"] == data["updatedAt"]
    assert len(data["id"]) == 36 and len(data["versionId"]) == 36


def test_create_invalid_graph_lists_every_problem(client, user):
    bad = graph([node("a", "action", action="fly")], [edge("a", "ghost", edge_id="e1")])
    resp = client.post("/api/workflows", headers=user.headers, json={"name": "x", "graph": bad})
    details = error(resp, 422, "validation_error", "workflows.invalid_graph")["details"]
    reasons = {(e["reason"], e.get("nodeId"), e.get("edgeId")) for e in details["errors"]}
    assert reasons == {
        ("invalid_parameter", "a", None),
        ("unknown_edge_endpoint", None, "e1"),
        ("no_trigger", None, None),
        ("missing_input", "a", None),
    }


@pytest.mark.parametrize(
    "body, field",
    [
        ({"graph": threshold_graph()}, "name"),
        ({"name": "x"}, "graph"),
        ({"name": "x", "graph": {"nodes": "no"}}, "graph"),
        ({"name": "x", "graph": threshold_graph(), "owner": "me"}, "owner"),
    ],
)
def test_create_schema_errors(client, user, body, field):
    assert field in json.dumps(fields(client.post("/api/workflows", headers=user.headers, json=body)))


def test_put_same_graph_keeps_version_and_changed_graph_adds_one(client, user, make_workflow):
    wf = make_workflow(user)
    moved = threshold_graph("<", 30)
    moved["viewport"] = {"x": 50, "y": 9, "zoom": 2}  # layout only: not a new version
    same = client.put(
        f"/api/workflows/{wf['id']}", headers=user.headers, json={"graph": moved, "name": "renamed"}
    )
    assert same.status_code == 200
    assert same.get_json()["data"]["version"] == 1 and same.get_json()["data"]["name"] == "renamed"
    changed = client.put(
        f"/api/workflows/{wf['id']}", headers=user.headers, json={"graph": threshold_graph("<", 25)}
    )
    data = changed.get_json()["data"]
    assert data["version"] == 2 and data["versionId"] != wf["versionId"]
    assert data["graph"]["nodes"][2]["data"]["value"] == 25


def test_versions_are_immutable_rows_with_content_hashes(app, client, user, make_workflow):
    from backend.extensions import db
    from backend.modules.workflows.models import WorkflowVersion

    wf = make_workflow(user)
    client.put(f"/api/workflows/{wf['id']}", headers=user.headers, json={"graph": sma_cross_graph()})
    with app.app_context():
        rows = (
            db.session.query(WorkflowVersion)
            .filter_by(workflow_id=wf["id"])
            .order_by(WorkflowVersion.version)
            .all()
        )
        assert [r.version for r in rows] == [1, 2]
        assert rows[0].graph == threshold_graph("<", 30) and rows[1].graph == sma_cross_graph()
        assert len({r.content_hash for r in rows}) == 2 and all(len(r.content_hash) == 64 for r in rows)


def test_put_invalid_graph_keeps_the_current_version(client, user, make_workflow):
    wf = make_workflow(user)
    bad = threshold_graph()
    bad["nodes"][2]["data"]["op"] = "~"
    resp = client.put(f"/api/workflows/{wf['id']}", headers=user.headers, json={"graph": bad})
    details = error(resp, 422, "validation_error")["details"]
    assert details["errors"][0]["reason"] == "invalid_parameter"
    assert details["errors"][0]["nodeId"] == "l"
    assert client.get(f"/api/workflows/{wf['id']}", headers=user.headers).get_json()["data"]["version"] == 1


def test_list_is_paginated_and_only_mine(client, user, other_user, make_workflow):
    for name in ("a", "b", "c"):
        make_workflow(user, name=name)
    make_workflow(other_user, name="theirs")
    resp = client.get("/api/workflows?page=1&page_size=2", headers=user.headers)
    assert resp.status_code == 200
    assert [w["name"] for w in resp.get_json()["data"]] == ["c", "b"]
    assert json.loads(resp.headers["X-Pagination"])["total"] == 3


def test_delete_then_404(client, user, make_workflow):
    wf = make_workflow(user)
    assert client.delete(f"/api/workflows/{wf['id']}", headers=user.headers).status_code == 200
    details = error(client.get(f"/api/workflows/{wf['id']}", headers=user.headers), 404)["details"]
    assert details == {"reason": "not_found", "error": "workflows.not_found"}


def test_validate_endpoint(app, client, user):
    ok = client.post("/api/workflows/validate", headers=user.headers, json={"graph": threshold_graph()})
    assert ok.status_code == 200
    assert ok.get_json()["data"] == {"valid": True, "errors": [], "order": ["t", "d", "l", "buy", "sell"]}
    cyclic = graph(
        [node("t", "trigger"), node("a", "logic", op="not"), node("b", "logic", op="not")],
        [edge("t", "a"), edge("a", "b", "true"), edge("b", "a", "true")],
    )
    bare = client.post(
        "/api/workflows/validate", headers=user.headers, json=cyclic
    )  # React Flow object as is
    data = bare.get_json()["data"]
    assert data["valid"] is False and data["order"] == []
    cycle = next(e for e in data["errors"] if e["reason"] == "cycle")
    assert set(cycle["cycle"]) == {"a", "b"} and cycle["nodeId"] in ("a", "b")
    # Each problem carries nodeId, edgeId and cycle only where they apply (as the 422 details do).
    with app.app_context():
        assert data == engine.validate(cyclic, limits()).to_dict()


def test_validate_rejects_huge_graph_naming_the_limit(client, user):
    huge = graph([node(f"n{i}", "data") for i in range(10_000)], [])
    data = client.post("/api/workflows/validate", headers=user.headers, json=huge).get_json()["data"]
    assert data["errors"] == [
        {"reason": "too_many_nodes", "message": "graph has 10000 nodes; the limit is 500"}
    ]


def test_validate_body_errors(client, user):
    url = "/api/workflows/validate"
    error(client.post(url, headers=user.headers, json={"foo": 1}), 422, "validation_error")
    assert "graph" in fields(client.post(url, headers=user.headers, json={"viewport": {}}))


def test_node_types_list_parameter_schemas(client, user):
    data = client.get("/api/workflows/node-types", headers=user.headers).get_json()["data"]
    types = {t["type"]: t for t in data}
    assert set(types) == {"trigger", "data", "logic", "action"}
    action = {p["name"]: p for p in types["action"]["params"]}
    assert action["action"]["required"] is True and action["action"]["choices"] == [
        "buy",
        "sell",
        "close",
        "notify",
    ]


ID = "00000000-0000-0000-0000-000000000000"
ENDPOINTS = [
    ("get", "/api/workflows"),
    ("post", "/api/workflows"),
    ("post", "/api/workflows/validate"),
    ("get", "/api/workflows/node-types"),
    ("get", "/api/workflows/notifications"),
    ("get", f"/api/workflows/{ID}"),
    ("put", f"/api/workflows/{ID}"),
    ("delete", f"/api/workflows/{ID}"),
    ("post", f"/api/workflows/{ID}/execute"),
    ("get", f"/api/workflows/{ID}/runs"),
    ("get", f"/api/workflows/runs/{ID}"),
    ("post", f"/api/workflows/{ID}/enable"),
    ("post", f"/api/workflows/{ID}/disable"),
]


@pytest.mark.parametrize("method, path", ENDPOINTS)
def test_every_endpoint_needs_a_token(client, method, path):
    error(getattr(client, method)(path, json={}), 401, "token_missing")


@pytest.mark.parametrize(
    "method, suffix, body",
    [
        ("get", "", None),
        ("put", "", {"name": "mine now"}),
        ("delete", "", None),
        ("post", "/execute", None),
        ("get", "/runs", None),
        ("post", "/enable", None),
        ("post", "/disable", None),
    ],
)
def test_other_users_workflow_is_404_everywhere(
    client, user, other_user, make_workflow, method, suffix, body
):
    wf = make_workflow(user)
    resp = getattr(client, method)(
        f"/api/workflows/{wf['id']}{suffix}", headers=other_user.headers, json=body
    )
    error(resp, 404, "not_found", "workflows.not_found")
    assert (
        client.get(f"/api/workflows/{wf['id']}", headers=user.headers).get_json()["data"]["name"] == "RSI dip"
    )


def test_unknown_run_is_404(client, user):
    error(client.get(f"/api/workflows/runs/{ID}", headers=user.headers), 404, code="workflows.run_not_found")
