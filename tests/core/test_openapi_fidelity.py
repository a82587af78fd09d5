"""The OpenAPI document says exactly what the server does (what schemathesis found looser).

Allow headers list only documented methods, X-Pagination is a string header, enums and exclusive
bounds match the validators, the UDF feed and file downloads document their real bodies.
"""

from __future__ import annotations

import json
import re

import pytest

METHODS = {"get", "post", "put", "patch", "delete"}
SOME_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"


@pytest.fixture(scope="module")
def spec(app):
    return app.test_client().get("/api/openapi.json").get_json()


def _schema(spec, name: str) -> dict:
    return spec["components"]["schemas"][name]


def test_every_allow_header_lists_exactly_the_documented_methods(client, spec):
    for path, ops in spec["paths"].items():
        documented = {m.upper() for m in ops if m in METHODS} | {"HEAD", "OPTIONS"}
        if "GET" not in documented:
            documented.discard("HEAD")
        url = re.sub(r"\{[^}]+\}", SOME_ID, path)
        allow = client.open(url, method="OPTIONS").headers.get("Allow", "")
        assert {m.strip() for m in allow.split(",") if m.strip()} == documented, path


def test_a_literal_segment_is_never_taken_for_an_id(client, user):
    # /recent used to match /api/strategies/<id> as well, so DELETE was "allowed" (and a 404).
    resp = client.delete("/api/strategies/recent", headers=user.headers)
    assert resp.status_code == 405
    assert set(resp.headers["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "OPTIONS"}
    assert client.get("/api/strategies/not-an-id", headers=user.headers).status_code == 404


def test_id_path_parameters_have_the_id_pattern(spec):
    param = spec["paths"]["/api/strategies/{strategy_id}"]["parameters"][0]
    assert param["schema"]["pattern"] == "^[0-9A-Fa-f-]{1,36}$"


def test_x_pagination_is_a_string_header_holding_json(client, user, spec):
    header = spec["components"]["headers"]["PAGINATION"]["schema"]
    assert header["type"] == "string"
    value = client.get("/api/strategies", headers=user.headers).headers["X-Pagination"]
    assert re.fullmatch(header["pattern"].strip("^$"), value)
    assert json.loads(value)["total"] == 0


def test_enums_and_exclusive_bounds_match_the_validators(spec):
    from backend.modules.strategies import service

    assert _schema(spec, "StrategyCreate")["properties"]["kind"]["enum"] == service.kind_names()
    assert "workflow" in service.kind_names()
    assert _schema(spec, "InlineStrategy")["properties"]["kind"]["enum"] == service.kind_names()
    amount = _schema(spec, "TipCreate")["properties"]["amount"]
    assert (amount["minimum"], amount["exclusiveMinimum"]) == (0, True)
    quantity = _schema(spec, "OrderCreate")["properties"]["quantity"]
    assert (quantity["minimum"], quantity["exclusiveMinimum"]) == (0, True)
    assert _schema(spec, "StrategyUpdate")["minProperties"] == 1
    assert _schema(spec, "BacktestRun")["not"] == {"required": ["strategy_id", "strategy"]}
    assert len(_schema(spec, "AuditCreate")["oneOf"]) == 5


def test_a_workflow_graph_is_documented_with_its_arrays(spec):
    for name in ("WorkflowCreate", "Workflow"):
        graph = _schema(spec, name)["properties"]["graph"]
        assert graph["required"] == ["nodes"] and graph["properties"]["edges"]["type"] == "array"


def test_strings_document_that_nul_is_refused(client, user, spec):
    from backend.core.openapi import NO_NUL

    assert _schema(spec, "PostCreate")["properties"]["content"]["pattern"] == NO_NUL
    resp = client.post("/api/forum/posts", json={"title": "a\x00b"}, headers=user.headers)
    assert resp.status_code == 422


def test_a_nullable_attachment_is_that_object_or_null(spec):
    options = _schema(spec, "PostCreate")["properties"]["attachment"]["anyOf"]
    assert {"type": "object", "nullable": True, "enum": [None]} in options


def test_udf_operations_document_their_raw_bodies(client, spec):
    for path in ("/config", "/symbols", "/search", "/history", "/quotes", "/marks", "/timescale_marks"):
        content = spec["paths"][f"/api/udf{path}"]["get"]["responses"]["200"]["content"]
        assert "application/json" in content, path
    config = spec["paths"]["/api/udf/config"]["get"]["responses"]["200"]["content"]["application/json"]
    assert set(config["schema"]["required"]) == set(client.get("/api/udf/config").get_json())
    time = spec["paths"]["/api/udf/time"]["get"]["responses"]["200"]["content"]
    assert list(time) == ["text/plain"]
    assert client.get("/api/udf/time").mimetype == "text/plain"


def test_file_downloads_document_every_stored_content_type(spec):
    from backend.modules.files.sniff import BINARY_KINDS, TEXT_KINDS

    content = spec["paths"]["/api/files/{file_id}"]["get"]["responses"]["200"]["content"]
    assert set(content) == {t for _m, t in BINARY_KINDS.values()} | set(TEXT_KINDS.values())


def test_an_upload_with_other_parts_is_refused(client, user):
    import io

    resp = client.post(
        "/api/files",
        data={"file": (io.BytesIO(b"a,b\n1,2\n"), "x.csv"), "note": "extra"},
        headers=user.headers,
        content_type="multipart/form-data",
    )
    assert resp.status_code == 422
    assert resp.get_json()["details"]["fields"] == {"note": ["Unknown field."]}


@pytest.mark.parametrize(
    ("method", "url"),
    [("patch", "/api/forum/posts/{post}"), ("put", "/api/workflows/{workflow}")],
)
def test_an_update_without_fields_is_refused_as_documented(
    client, user, make_post, make_workflow, method, url
):
    target = url.format(post=make_post(user)["id"], workflow=make_workflow(user)["id"])
    assert getattr(client, method)(target, headers=user.headers).status_code == 422
    assert getattr(client, method)(target, json={}, headers=user.headers).status_code == 422


def test_the_history_resolution_pattern_is_what_the_server_accepts(client, user, spec):
    params = {p["name"]: p for p in spec["paths"]["/api/market/history"]["get"]["parameters"]}
    pattern = re.compile(params["resolution"]["schema"]["pattern"])
    for accepted in ("1", "60", "1D", "d", "1440", " 240 "):
        assert pattern.search(accepted), accepted
    for refused in ("0", "2h", "1W"):
        assert not pattern.search(refused), refused
