from dataclasses import dataclass
from decimal import Decimal

import pytest

from backend.domain.marketdata.mock import MockProvider
from tests.fixtures.market import DAY, MARKET_NOW_MS

DAY_S = DAY // 1000
NOW_S = MARKET_NOW_MS // 1000


def raw(resp):
    """A UDF answer: HTTP 200, never the project envelope."""
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    assert not (isinstance(body, dict) and "request_id" in body)
    return body


def test_config(client):
    cfg = raw(client.get("/api/udf/config"))
    assert cfg["supports_search"] is True and cfg["supports_group_request"] is False
    assert (
        cfg["supports_time"] is True
        and cfg["supports_marks"] is True
        and cfg["supports_timescale_marks"] is True
    )
    assert cfg["supported_resolutions"] == ["1", "5", "15", "30", "60", "240", "1D"]


def test_symbols(client):
    info = raw(client.get("/api/udf/symbols?symbol=BINANCE:BTCUSDT"))
    assert (info["name"], info["ticker"], info["type"], info["exchange"]) == (
        "BTCUSDT",
        "BTCUSDT",
        "crypto",
        "BINANCE",
    )
    assert info["pricescale"] == 100 and info["timezone"] == "Etc/UTC" and info["has_intraday"] is True
    assert raw(client.get("/api/udf/symbols?symbol=NOPE")) == {"s": "error", "errmsg": "unknown_symbol"}
    assert raw(client.get("/api/udf/symbols")) == {"s": "error", "errmsg": "unknown_symbol"}


def test_search(client, acme_candles):
    rows = raw(client.get("/api/udf/search?query=acm&type=&exchange=&limit=30"))
    assert rows == [
        {
            "symbol": "ACME",
            "full_name": "QYQ:ACME",
            "description": "ACME (imported data)",
            "exchange": "QYQ",
            "ticker": "ACME",
            "type": "stock",
        }
    ]
    crypto = raw(client.get("/api/udf/search?query=&type=crypto&exchange=&limit=30"))
    assert [r["symbol"] for r in crypto] == ["BTCUSDT", "ETHUSDT"]
    assert len(raw(client.get("/api/udf/search?query=USD&limit=2"))) == 2
    assert raw(client.get("/api/udf/search?query=USD&limit=ten")) == {
        "s": "error",
        "errmsg": "limit must be an integer",
    }


def test_history_of_imported_candles(client, acme_candles):
    body = raw(client.get(f"/api/udf/history?symbol=ACME&resolution=60&from={DAY_S - 7200}&to={DAY_S}"))
    assert body == {
        "s": "ok",
        "t": [DAY_S - 7200, DAY_S - 3600],
        "o": [99.0, 100.0],
        "h": [101.0, 104.5],
        "l": [98.0, 99.5],
        "c": [100.0, 104.0],
        "v": [7.0, 3.0],
    }
    # countback wins over from: the 3 bars before `to`, although `from` would allow only one.
    body = raw(
        client.get(
            f"/api/udf/history?symbol=ACME&resolution=60&from={DAY_S + 3600}&to={DAY_S + 7200}&countback=3"
        )
    )
    assert body["t"] == [DAY_S - 3600, DAY_S, DAY_S + 3600]


def test_history_no_data_points_back_to_the_nearest_earlier_bar(client, acme_candles):
    body = raw(
        client.get(f"/api/udf/history?symbol=ACME&resolution=60&from={DAY_S + 86400}&to={DAY_S + 90000}")
    )
    assert body == {"s": "no_data", "nextTime": DAY_S + 7200}
    before_all = raw(client.get("/api/udf/history?symbol=ACME&resolution=60&from=1000&to=2000"))
    assert before_all == {"s": "no_data"}


def test_history_of_the_mock_up_to_now(client, market_now):
    body = raw(client.get(f"/api/udf/history?symbol=XAUUSD&resolution=1&from={NOW_S - 600}&to={NOW_S + 600}"))
    expected = MockProvider(now_ms=lambda: MARKET_NOW_MS).get_bars(
        "XAUUSD", "1m", MARKET_NOW_MS - 600_000, MARKET_NOW_MS
    )
    assert body["t"] == [NOW_S - 600 + 60 * k for k in range(10)]  # complete bars only, in seconds
    assert body["c"] == expected.close.tolist() and body["v"] == expected.volume.tolist()
    daily = raw(client.get(f"/api/udf/history?symbol=XAUUSD&resolution=1D&to={NOW_S}&countback=5"))
    assert daily["t"] == [DAY_S - 86400 * k for k in (5, 4, 3, 2, 1)]
    future = raw(
        client.get(f"/api/udf/history?symbol=XAUUSD&resolution=60&from={NOW_S + 7200}&to={NOW_S + 9000}")
    )
    assert future == {"s": "no_data", "nextTime": DAY_S + 2 * 3600}


@pytest.mark.parametrize(
    ("query", "errmsg"),
    [
        ("symbol=NOPE&resolution=60&from=1&to=2", "unknown_symbol"),
        ("symbol=ACME&resolution=7&from=1&to=2", "unsupported resolution '7'"),
        ("symbol=ACME&resolution=60&from=1", "to is required"),
        ("symbol=ACME&resolution=60&to=2", "from is required"),
        ("symbol=ACME&resolution=60&from=9&to=2", "from must be earlier than to"),
        ("symbol=ACME&resolution=60&from=1&to=2&countback=-1", "countback must be a positive"),
        ("symbol=ACME&resolution=60&from=x&to=2", "from must be an integer"),
        ("symbol=ACME&resolution=60&from=inf&to=2", "from must be an integer"),
    ],
)
def test_history_errors_are_http_200(client, acme_candles, query, errmsg):
    body = raw(client.get(f"/api/udf/history?{query}"))
    assert body["s"] == "error" and body["errmsg"].startswith(errmsg)


def test_history_with_absurd_times_still_answers(client, acme_candles):
    body = raw(
        client.get("/api/udf/history?symbol=ACME&resolution=60&from=-99999999999999&to=99999999999999999999")
    )
    assert body["s"] == "ok" and len(body["t"]) == 5


def test_time_is_a_bare_integer_of_seconds(client, market_now):
    resp = client.get("/api/udf/time")
    assert resp.status_code == 200 and resp.get_data(as_text=True) == str(NOW_S)


def test_quotes(client, acme_candles, market_now):
    body = raw(client.get("/api/udf/quotes?symbols=QYQ:ACME,NOPE"))
    assert body["s"] == "ok"
    acme, nope = body["d"]
    assert acme["s"] == "ok" and acme["n"] == "QYQ:ACME"
    assert (acme["v"]["lp"], acme["v"]["ch"], acme["v"]["chp"], acme["v"]["prev_close_price"]) == (
        106.08,
        2.08,
        2.0,
        104.0,
    )
    assert nope == {"s": "error", "n": "NOPE", "v": {}}
    assert raw(client.get("/api/udf/quotes?symbols=")) == {"s": "error", "errmsg": "symbols is required"}


@dataclass
class Fill:
    id: str
    time: int
    side: str
    price: Decimal
    quantity: Decimal


@pytest.fixture
def paper_fills(monkeypatch):
    """Stand in for the bots service's trade_marks and record who asked."""
    from backend.modules.bots import service as bots_service

    calls = []

    def fake(*, actor_id, symbol, start_ms, end_ms):
        calls.append((actor_id, symbol, start_ms, end_ms))
        return [Fill("o1", DAY + 3_725_000, "buy", Decimal("2001.5"), Decimal("0.5"))]

    monkeypatch.setattr(bots_service, "trade_marks", fake)
    return calls


def test_marks_are_the_callers_trades(client, user, paper_fills):
    query = f"symbol=QYQ:XAUUSD&from={DAY_S}&to={DAY_S + 86400}&resolution=60"
    marks = raw(client.get(f"/api/udf/marks?{query}", headers=user.headers))
    assert paper_fills == [(user.id, "XAUUSD", DAY, DAY + 86_400_000)]
    assert marks == [
        {
            "id": "o1",
            "time": DAY_S + 3600,
            "color": "green",
            "text": "paper buy 0.5 @ 2001.5",
            "label": "B",
            "labelFontColor": "white",
            "minSize": 14,
        }
    ]
    ts = raw(client.get(f"/api/udf/timescale_marks?{query}", headers=user.headers))
    assert ts == [
        {
            "id": "o1",
            "time": DAY_S + 3600,
            "color": "green",
            "label": "B",
            "tooltip": ["paper buy", "0.5 @ 2001.5"],
        }
    ]


def test_marks_are_empty_without_a_valid_token(client, paper_fills):
    query = f"symbol=XAUUSD&from={DAY_S}&to={DAY_S + 86400}&resolution=60"
    assert raw(client.get(f"/api/udf/marks?{query}")) == []
    assert (
        raw(client.get(f"/api/udf/timescale_marks?{query}", headers={"Authorization": "Bearer nonsense"}))
        == []
    )
    assert paper_fills == []


def test_marks_with_bad_arguments_are_empty(client, user, paper_fills):
    assert (
        raw(client.get("/api/udf/marks?symbol=XAUUSD&from=x&to=1&resolution=60", headers=user.headers)) == []
    )
    assert (
        raw(client.get("/api/udf/marks?symbol=XAUUSD&from=0&to=1&resolution=7", headers=user.headers)) == []
    )
    assert paper_fills == []
    raw(client.get("/api/udf/marks?symbol=XAUUSD&from=-1&to=1e30&resolution=60", headers=user.headers))
    assert paper_fills == [(user.id, "XAUUSD", 0, 16_725_225_600_000)]


def test_unknown_udf_path_is_a_404(client):
    assert client.get("/api/udf/nope").status_code == 404


def test_marks_show_my_completed_backtest_trades_end_to_end(
    client, user, make_user, make_strategy, run_backtest
):
    from tests.fixtures.backtests import RANGE_END_MS, RANGE_START_MS

    strategy = make_strategy(user, symbol="BTCUSDT", params={"fast": 5, "slow": 20})
    resp = run_backtest(user, strategy_id=strategy["id"])
    assert resp.status_code == 202, resp.get_json()
    query = f"symbol=BTCUSDT&from={RANGE_START_MS // 1000}&to={RANGE_END_MS // 1000}&resolution=60"
    marks = raw(client.get(f"/api/udf/marks?{query}", headers=user.headers))
    assert marks, "a 3-week SMA 5/20 run on hourly bars trades"
    assert all(
        m["time"] % 3600 == 0 and RANGE_START_MS // 1000 <= m["time"] < RANGE_END_MS // 1000 for m in marks
    )
    assert {m["label"] for m in marks} <= {"B", "S"} and all(m["text"].startswith("backtest ") for m in marks)
    assert {(m["label"], m["color"]) for m in marks} <= {("B", "green"), ("S", "red")}
    assert raw(client.get(f"/api/udf/marks?{query}", headers=make_user().headers)) == []
    assert raw(client.get(f"/api/udf/marks?{query}")) == []
