import pytest

from tests.fixtures.market import ACME_CSV, DAY
from tests.helpers.api import error, ok

H = 3_600_000
DAY_S = DAY // 1000


def test_snapshot(client, auth_headers, acme_candles):
    data = ok(client.get("/api/market/snapshot?symbol=ACME", headers=auth_headers))
    assert data == {
        "symbol": "ACME",
        "price": 106.08,
        "change": 2.08,
        "changePercent": 2.0,
        "open": 104.0,
        "high": 108.0,
        "low": 101.0,
        "volume": 35.5,
        "time": DAY + 2 * H,
    }


def test_snapshot_errors(client, auth_headers):
    error(client.get("/api/market/snapshot?symbol=ACME"), 401, "token_missing")
    body = error(client.get("/api/market/snapshot?symbol=NOPE", headers=auth_headers), 404, "not_found")
    assert body["details"]["error"] == "market.unknown_symbol"
    body = error(client.get("/api/market/snapshot", headers=auth_headers), 422, "validation_error")
    assert "symbol" in body["details"]["fields"]


def test_history_is_the_udf_payload_inside_the_envelope(client, auth_headers, acme_candles):
    url = f"/api/market/history?symbol=ACME&resolution=60&from={DAY_S - 3600}&to={DAY_S + 7200}"
    assert ok(client.get(url, headers=auth_headers)) == {
        "s": "ok",
        "t": [DAY_S - 3600, DAY_S, DAY_S + 3600],
        "o": [100.0, 104.0, 105.0],
        "h": [104.5, 106.0, 108.0],
        "l": [99.5, 103.0, 101.0],
        "c": [104.0, 105.0, 102.0],
        "v": [3.0, 10.0, 20.0],
    }
    url = f"/api/market/history?symbol=ACME&resolution=60&from=0&to={DAY_S + 7200}&countback=2"
    assert ok(client.get(url, headers=auth_headers))["t"] == [DAY_S, DAY_S + 3600]
    url = f"/api/market/history?symbol=ACME&resolution=60&from={DAY_S + 86400}&to={DAY_S + 90000}"
    assert ok(client.get(url, headers=auth_headers)) == {"s": "no_data", "nextTime": DAY_S + 7200}


@pytest.mark.parametrize(
    ("query", "status", "reason"),
    [
        ("symbol=ACME&resolution=60&from=1", 422, "validation_error"),  # no `to`
        ("symbol=ACME&resolution=60&from=x&to=2", 422, "validation_error"),
        ("symbol=ACME&resolution=7&from=1&to=2", 422, "validation_error"),
        ("symbol=ACME&resolution=60&from=5&to=2", 422, "validation_error"),
        ("symbol=ACME&resolution=60&to=2&countback=0", 422, "validation_error"),
        ("symbol=ACME&resolution=60&to=2&extra=1", 422, "validation_error"),
        ("symbol=NOPE&resolution=60&from=1&to=2", 404, "not_found"),
    ],
)
def test_history_errors(client, auth_headers, acme_candles, query, status, reason):
    error(client.get(f"/api/market/history?{query}", headers=auth_headers), status, reason)


def test_history_needs_a_token(client):
    error(client.get("/api/market/history?symbol=ACME&resolution=60&from=1&to=2"), 401, "token_missing")


def test_symbols(client, auth_headers, acme_candles):
    data = ok(client.get("/api/market/symbols", headers=auth_headers))
    by_name = {s["symbol"]: s for s in data}
    assert by_name["ACME"] == {
        "symbol": "ACME",
        "description": "ACME (imported data)",
        "type": "stock",
        "exchange": "QYQ",
        "currency": "USD",
        "pricescale": 100,
        "sources": ["import"],
        "intervals": ["1h"],
    }
    assert by_name["XAUUSD"]["sources"] == ["mock"]
    assert by_name["XAUUSD"]["type"] == "commodity"
    error(client.get("/api/market/symbols"), 401, "token_missing")


def test_import_an_uploaded_csv_as_admin(client, admin_user, upload):
    file_id = ok(upload(admin_user, ACME_CSV.encode(), "acme.csv"), 201)["id"]
    body = {"file_id": file_id, "symbol": "acme", "interval": "1h"}
    data = ok(client.post("/api/market/import", json=body, headers=admin_user.headers), 201)
    assert data == {
        "symbol": "ACME",
        "interval": "1h",
        "rows": 5,
        "firstTime": DAY - 2 * H,
        "lastTime": DAY + 2 * H,
    }
    snap = ok(client.get("/api/market/snapshot?symbol=ACME", headers=admin_user.headers))
    assert snap["price"] == 106.08


def test_import_of_a_bad_csv_reports_lines_and_stores_nothing(client, admin_user, upload):
    bad = ACME_CSV.replace("105,108,101,102,20", "105,100,101,102,20")  # line 5: high below open
    file_id = ok(upload(admin_user, bad.encode(), "bad.csv"), 201)["id"]
    body = {"file_id": file_id, "symbol": "ACME", "interval": "1h"}
    err = error(
        client.post("/api/market/import", json=body, headers=admin_user.headers), 422, "validation_error"
    )
    assert err["details"]["rows"] == [{"line": 5, "message": "high is below open, low or close"}]
    assert err["details"]["error"] == "market.invalid_candles"
    error(client.get("/api/market/snapshot?symbol=ACME", headers=admin_user.headers), 404, "not_found")


def test_import_is_for_admins_and_own_files_only(client, admin_user, user, upload):
    mine = ok(upload(user, ACME_CSV.encode(), "acme.csv"), 201)["id"]
    body = {"file_id": mine, "symbol": "ACME", "interval": "1h"}
    err = error(client.post("/api/market/import", json=body, headers=user.headers), 403, "forbidden")
    assert err["details"]["error"] == "market.import_forbidden"
    # An admin cannot import another user's upload: it does not exist for them.
    error(client.post("/api/market/import", json=body, headers=admin_user.headers), 404, "not_found")
    error(client.post("/api/market/import", json=body), 401, "token_missing")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"file_id": "x" * 36, "symbol": "ACME"},
        {"file_id": "x" * 36, "symbol": "ACME", "interval": "2h"},
        {"file_id": "short", "symbol": "ACME", "interval": "1h"},
        {"file_id": "x" * 36, "symbol": "ACME", "interval": "1h", "extra": 1},
    ],
)
def test_import_validation(client, admin_user, body):
    error(client.post("/api/market/import", json=body, headers=admin_user.headers), 422, "validation_error")


def test_import_of_a_file_that_is_not_utf8_is_rejected(client, admin_user, monkeypatch):
    # The files module itself refuses binary uploads, so stand in for a stored non-UTF-8 file.
    from backend.modules.files import service as files_service

    monkeypatch.setattr(
        files_service, "get_file_content", lambda *, actor_id, file_id: (None, b"\xff\xfe\x00")
    )
    body = {"file_id": "x" * 36, "symbol": "ACME", "interval": "1h"}
    err = error(
        client.post("/api/market/import", json=body, headers=admin_user.headers), 422, "validation_error"
    )
    assert err["details"]["fields"] == {"file_id": ["Not a UTF-8 CSV file."]}
