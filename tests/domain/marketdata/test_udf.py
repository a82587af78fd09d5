import pytest

from backend.domain.bars import Bars
from backend.domain.marketdata import udf
from backend.domain.marketdata.base import SymbolInfo

GOLD = SymbolInfo("XAUUSD", "Gold spot / US dollar", "commodity", exchange="QYQ", pricescale=100)
BTC = SymbolInfo("BTCUSDT", "Bitcoin / Tether", "crypto", exchange="BINANCE", currency="USDT")
XAG = SymbolInfo("XAGUSD", "Silver spot / US dollar", "commodity", exchange="QYQ", pricescale=1000)
H_S = 3600
T0_S = 1_700_000_000 // 3600 * 3600  # 1_699_999_200 = 2023-11-14T22:00:00Z


def hourly(n, start_s=T0_S):
    """n hourly bars; bar k has open k+1, high k+2, low k, close k+1.5, volume 10k."""
    return Bars.from_arrays(
        [(start_s + k * H_S) * 1000 for k in range(n)],
        [k + 1 for k in range(n)],
        [k + 2 for k in range(n)],
        [k for k in range(n)],
        [k + 1.5 for k in range(n)],
        [10 * k for k in range(n)],
    )


def test_config_answers_search_mode_with_time_and_marks():
    cfg = udf.config_payload([GOLD, BTC])
    assert cfg["supports_search"] is True and cfg["supports_group_request"] is False
    assert cfg["supports_time"] and cfg["supports_marks"] and cfg["supports_timescale_marks"]
    assert cfg["supported_resolutions"] == ["1", "5", "15", "30", "60", "240", "1D"]
    assert [e["value"] for e in cfg["exchanges"]] == ["", "BINANCE", "QYQ"]


def test_symbol_payload():
    info = udf.symbol_payload(GOLD)
    assert info["name"] == info["ticker"] == "XAUUSD"
    assert (info["type"], info["session"], info["timezone"]) == ("commodity", "24x7", "Etc/UTC")
    assert (info["minmov"], info["pricescale"]) == (1, 100)
    assert info["has_intraday"] is True
    assert info["intraday_multipliers"] == ["1", "5", "15", "30", "60", "240"]
    assert "s" not in info


def test_search_matches_name_or_description_case_insensitively_and_filters():
    symbols = [GOLD, BTC, XAG]
    assert [r["symbol"] for r in udf.search_payload(symbols, query="usd")] == ["BTCUSDT", "XAGUSD", "XAUUSD"]
    assert [r["symbol"] for r in udf.search_payload(symbols, query="gold")] == ["XAUUSD"]
    assert [r["symbol"] for r in udf.search_payload(symbols, query="", type="crypto")] == ["BTCUSDT"]
    assert [r["symbol"] for r in udf.search_payload(symbols, query="", exchange="QYQ", limit=1)] == ["XAGUSD"]
    row = udf.search_payload(symbols, query="XAUUSD")[0]
    assert row == {
        "symbol": "XAUUSD",
        "full_name": "QYQ:XAUUSD",
        "description": "Gold spot / US dollar",
        "exchange": "QYQ",
        "ticker": "XAUUSD",
        "type": "commodity",
    }


def test_search_puts_exact_and_prefix_matches_first():
    symbols = [
        SymbolInfo("AXA", "x", "stock"),
        SymbolInfo("XA", "x", "stock"),
        SymbolInfo("XAB", "x", "stock"),
    ]
    assert [r["symbol"] for r in udf.search_payload(symbols, query="xa")] == ["XA", "XAB", "AXA"]
    assert udf.search_payload(symbols, query="zzz") == []


def test_history_from_to_is_in_seconds_and_to_is_exclusive():
    req = udf.parse_history_request("60", T0_S + H_S, T0_S + 4 * H_S, None)
    assert (req.interval, req.start_ms, req.end_ms, req.countback) == (
        "1h",
        (T0_S + H_S) * 1000,
        (T0_S + 4 * H_S) * 1000,
        None,
    )
    payload = udf.history_payload(hourly(10), req)
    assert payload == {
        "s": "ok",
        "t": [T0_S + H_S, T0_S + 2 * H_S, T0_S + 3 * H_S],  # bar at `to` itself is excluded
        "o": [2.0, 3.0, 4.0],
        "h": [3.0, 4.0, 5.0],
        "l": [1.0, 2.0, 3.0],
        "c": [2.5, 3.5, 4.5],
        "v": [10.0, 20.0, 30.0],
    }


def test_countback_wins_over_from():
    # from would give 1 bar; countback asks for the 4 bars ending before `to`.
    req = udf.parse_history_request("60", T0_S + 5 * H_S, T0_S + 6 * H_S, 4)
    payload = udf.history_payload(hourly(10), req)
    assert payload["t"] == [T0_S + k * H_S for k in (2, 3, 4, 5)]
    assert udf.countback_start_ms(req) == (T0_S + 2 * H_S) * 1000


def test_countback_returns_what_exists_when_history_is_shorter():
    req = udf.parse_history_request("60", None, T0_S + 3 * H_S, 100)
    assert udf.history_payload(hourly(10), req)["t"] == [T0_S, T0_S + H_S, T0_S + 2 * H_S]


def test_empty_range_with_earlier_data_gives_no_data_with_next_time_in_seconds():
    req = udf.parse_history_request("60", T0_S + 20 * H_S, T0_S + 30 * H_S, None)
    earlier_ms = (T0_S + 9 * H_S) * 1000
    assert udf.history_payload(hourly(10), req, earlier_ms=earlier_ms) == {
        "s": "no_data",
        "nextTime": T0_S + 9 * H_S,
    }
    assert udf.history_payload(Bars.empty(), req) == {"s": "no_data"}


def test_history_is_capped_to_the_latest_bars(monkeypatch):
    monkeypatch.setattr(udf, "MAX_HISTORY_BARS", 3)
    req = udf.parse_history_request("60", T0_S, T0_S + 10 * H_S, None)
    assert udf.history_payload(hourly(10), req)["t"] == [T0_S + k * H_S for k in (7, 8, 9)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("7", 1, 2, None), "unsupported resolution"),
        (("60", 1, None, None), "to is required"),
        (("60", None, 100, None), "from is required"),
        (("60", 100, 100, None), "from must be earlier than to"),
        (("60", 200, 100, None), "from must be earlier than to"),
        (("60", 1, 100, 0), "countback must be a positive"),
        (("60", 1, 100, -5), "countback must be a positive"),
    ],
)
def test_history_request_errors(args, message):
    with pytest.raises(ValueError, match=message):
        udf.parse_history_request(*args)


def test_history_times_are_clamped_to_a_bigint_safe_range():
    req = udf.parse_history_request("60", -5, 10**20, None)
    assert (req.start_ms, req.end_ms) == (0, 16_725_225_600_000)  # 2500-01-01


def test_error_payload():
    assert udf.error_payload("unknown_symbol") == {"s": "error", "errmsg": "unknown_symbol"}


def test_quote_from_a_snapshot():
    snap = {
        "price": 110.25,
        "change": 5.25,
        "changePercent": 5.0,
        "open": 104,
        "high": 111,
        "low": 103,
        "volume": 9,
    }
    q = udf.quote_payload("QYQ:XAUUSD", GOLD, snap)
    assert q["s"] == "ok" and q["n"] == "QYQ:XAUUSD"  # the name exactly as requested
    v = q["v"]
    assert (v["lp"], v["ch"], v["chp"], v["prev_close_price"]) == (110.25, 5.25, 5.0, 105.0)
    assert (v["open_price"], v["high_price"], v["low_price"], v["volume"]) == (104, 111, 103, 9)
    assert (v["short_name"], v["exchange"]) == ("XAUUSD", "QYQ")
    assert udf.quote_payload("NOPE", None, None) == {"s": "error", "n": "NOPE", "v": {}}


def test_marks_sit_on_the_open_of_their_bar_in_seconds():
    trades = [
        udf.TradeMark("t1", (T0_S + 5 * 60 + 7) * 1000, "buy", 2001.5, 2.0),
        udf.TradeMark("t2", (T0_S + H_S + 59 * 60) * 1000, "sell", 2010.0, 2.0, source="paper"),
    ]
    marks = udf.marks_payload(trades, "60")
    assert [m["time"] for m in marks] == [T0_S, T0_S + H_S]
    assert [(m["color"], m["label"]) for m in marks] == [("green", "B"), ("red", "S")]
    assert marks[0]["text"] == "backtest buy 2 @ 2001.5"
    ts = udf.timescale_marks_payload(trades, "1D")
    assert [m["time"] for m in ts] == [1_699_920_000, 1_699_920_000]  # 2023-11-14 00:00 UTC
    assert ts[1]["tooltip"] == ["paper sell", "2 @ 2010"]
