"""The envelope on success and on every error class, and the request id."""

from __future__ import annotations

import pytest
from flask import abort

from backend.core.envelope import EnvelopeBlueprint
from tests.helpers.api import error, fields


def test_success_envelope(client, auth_headers):
    resp = client.get("/api/users/me", headers=auth_headers)
    body = resp.get_json()
    assert resp.status_code == 200
    assert set(body) == {"code", "message", "data", "request_id"}
    assert body["code"] == 0
    assert body["message"] == "ok"
    assert body["request_id"] == resp.headers["X-Request-ID"]


@pytest.mark.parametrize("request_id", ["req-1", None, 'q"\\\u00e9'])
@pytest.mark.parametrize("data", ['{"a":[1,2.5,null]}', '"caf\u00e9 \u2014 ok"', "[]", "null"])
def test_already_encoded_data_gets_the_same_bytes_as_the_envelope_of_its_value(app, data, request_id):
    import json

    from flask import g

    from backend.core.envelope import success_body, success_response_json

    with app.test_request_context("/"):
        g.request_id = request_id  # any id, even one the request-id hook would never take
        expected = app.json.dumps(success_body(json.loads(data)), separators=(",", ":")) + "\n"
        as_str = success_response_json(data)
        as_bytes = success_response_json(data.encode())
        assert as_str.get_data() == as_bytes.get_data() == expected.encode()
        assert as_bytes.mimetype == "application/json"
        assert as_bytes.content_length == len(expected.encode())


def test_unknown_route_is_404_envelope(client):
    error(client.get("/api/definitely-not-here"), 404, "not_found")


def test_wrong_method_is_405_envelope(client):
    resp = client.delete("/api/health")
    error(resp, 405, "method_not_allowed")
    assert "GET" in resp.headers["Allow"]


def test_validation_error_lists_fields(client):
    found = fields(client.post("/api/auth/register", json={"username": "x"}))
    assert found["password"] == ["Missing data for required field."]
    assert "username" in found


def test_unknown_field_is_rejected(client):
    assert "admin" in fields(
        client.post(
            "/api/auth/register", json={"username": "someone", "password": "long-enough-1", "admin": True}
        )
    )


def test_body_too_large_is_413(app, client):
    limit = app.config["MAX_CONTENT_LENGTH"]
    resp = client.post("/api/auth/login", data=b"x" * (limit + 1), content_type="application/json")
    error(resp, 413, "payload_too_large")


def test_jwt_missing_is_401_envelope(client):
    error(client.get("/api/users/me"), 401, "token_missing")


def test_malformed_json_is_400_envelope(client):
    resp = client.post("/api/auth/login", data=b"{not json", content_type="application/json")
    assert resp.status_code in (400, 422)
    assert resp.get_json()["code"] == resp.status_code * 100


@pytest.fixture(scope="module")
def boom_app(app, test_services):
    """A separate app instance with routes that crash (the shared app is never modified)."""
    from backend.app import create_app
    from backend.config import load_config
    from tests.fixtures.core_db import test_env

    crashing = create_app(load_config(test_env(test_services)))
    blp = EnvelopeBlueprint("boom", __name__, url_prefix="/api/_test")

    @blp.route("/boom")
    @blp.response(200)
    def boom():
        raise RuntimeError("secret internal detail /etc/passwd")

    @blp.route("/teapot")
    @blp.response(200)
    def teapot():
        abort(418)

    crashing.register_blueprint(blp)
    # Creating an app makes its Celery the process-wide current one; give that back.
    app.extensions["celery"].set_current()
    app.extensions["celery"].set_default()
    return crashing


def test_unhandled_error_is_500_without_traceback(boom_app, caplog):
    resp = boom_app.test_client().get("/api/_test/boom", headers={"X-Request-ID": "trace-me-1"})
    body = error(resp, 500, "internal_error")
    assert "secret" not in resp.get_data(as_text=True)
    assert "Traceback" not in resp.get_data(as_text=True)
    assert body["request_id"] == "trace-me-1"
    assert any("unhandled error" in r.getMessage() for r in caplog.records)


def test_other_http_errors_keep_their_status(boom_app):
    resp = boom_app.test_client().get("/api/_test/teapot")
    error(resp, 418, "http_error")


def test_sane_request_id_is_echoed(client):
    resp = client.get("/api/health", headers={"X-Request-ID": "abc.DEF_123-x"})
    assert resp.headers["X-Request-ID"] == "abc.DEF_123-x"
    assert resp.get_json()["request_id"] == "abc.DEF_123-x"


@pytest.mark.parametrize("bad", ["has space", "x" * 65, "semi;colon", "<script>"])
def test_insane_request_id_is_replaced(client, bad):
    resp = client.get("/api/health", headers={"X-Request-ID": bad})
    rid = resp.headers["X-Request-ID"]
    assert rid != bad
    assert len(rid) == 32
    assert resp.get_json()["request_id"] == rid


def test_request_id_is_on_log_lines(boom_app, caplog):
    boom_app.test_client().get("/api/_test/boom", headers={"X-Request-ID": "log-line-id"})
    assert any(
        getattr(r, "request_id", None) == "log-line-id"
        for r in caplog.records
        if "unhandled error" in r.getMessage()
    )


def test_cors_allows_the_dev_frontend(client):
    resp = client.options(
        "/api/health", headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "GET"}
    )
    assert resp.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
    other = client.get("/api/health", headers={"Origin": "http://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_two_response_schemas_with_one_name_are_refused():
    # The document names components by class: marketplace's `SubmittedSchema` (camelCase) was
    # documented with backtests' (snake_case) fields until Schemathesis compared the answers.
    import marshmallow as ma

    from backend.core import envelope

    class SameNameSchema(ma.Schema):
        a = ma.fields.String()

    first = SameNameSchema
    assert EnvelopeBlueprint._make_doc_response_schema(first()) is envelope._wrapper_schema(first())

    class SameNameSchema(ma.Schema):  # type: ignore[no-redef]  # another module's class, same name
        b = ma.fields.String()

    with pytest.raises(TypeError, match="named SameNameSchema"):
        EnvelopeBlueprint._make_doc_response_schema(SameNameSchema())
    envelope._doc_wrappers.pop("SameNameEnvelope")


def test_gzip_is_offered_only_for_a_kept_entry_of_at_least_the_minimum_size(app):
    import gzip as gz

    from flask import g

    from backend.core import compression
    from backend.core.envelope import success_response_json

    small, large = b'"' + b"s" * 10 + b'"', b'"' + b"l" * compression.MIN_BYTES + b'"'
    with app.test_request_context("/", headers={"Accept-Encoding": "gzip"}):
        g.request_id = "req-z"
        assert "Content-Encoding" not in success_response_json(large).headers  # no memo: as it is
        plain_small = success_response_json(small, gzip=compression.GzipMemo())
        assert "Content-Encoding" not in plain_small.headers and "Vary" not in plain_small.headers
        zipped = success_response_json(large, gzip=compression.GzipMemo())
        assert zipped.headers["Content-Encoding"] == "gzip" and zipped.headers["Vary"] == "Accept-Encoding"
        assert gz.decompress(zipped.get_data()) == success_response_json(large).get_data()


@pytest.mark.parametrize(
    "request_id",
    ["0123456789abcdef0123456789abcdef", "req-x", "a.b_c-D", "", None, 'quo"te', "new\nline", "é", "a/b"],
)
def test_the_request_id_in_a_cached_answer_is_what_the_json_encoder_writes(app, request_id):
    from flask import g

    from backend.core.envelope import _request_id_json

    with app.test_request_context():
        g.request_id = request_id
        assert _request_id_json(app) == app.json.dumps(request_id).encode()
