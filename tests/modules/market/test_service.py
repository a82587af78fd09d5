from decimal import Decimal

import numpy as np
import pytest

from backend.domain.bars import Bars
from backend.domain.marketdata.mock import MockProvider
from backend.modules.market import service, store
from backend.modules.market.errors import InvalidCandles, InvalidMarketQuery, UnknownSymbol
from tests.fixtures.market import ACME_CSV, DAY, MARKET_NOW_MS

H, D, M = 3_600_000, 86_400_000, 60_000


def test_load_bars_auto_uses_the_mock_for_a_mock_symbol(app, market_now):
    bars = service.load_bars(symbol="XAUUSD", interval="1h", start_ms=DAY, end_ms=DAY + D)
    expected = MockProvider(seed=0, now_ms=lambda: MARKET_NOW_MS).get_bars("XAUUSD", "1h", DAY, DAY + D)
    assert bars.time.tolist() == [DAY, DAY + H, DAY + 2 * H]  # 03:00 is still open at 03:30
    assert np.array_equal(bars.close, expected.close)


def test_imported_candles_win_in_auto_and_db_mode(app, acme_candles):
    assert (acme_candles.symbol, acme_candles.rows) == ("ACME", 5)
    assert (acme_candles.first_time, acme_candles.last_time) == (DAY - 2 * H, DAY + 2 * H)
    for provider in ("auto", "db"):
        bars = service.load_bars(
            symbol="acme", interval="1h", start_ms=DAY - H, end_ms=DAY + 2 * H, provider=provider
        )
        assert bars.time.tolist() == [DAY - H, DAY, DAY + H]  # end exclusive
        assert bars.close.tolist() == [104.0, 105.0, 102.0]
        assert bars.volume.tolist() == [3.0, 10.0, 20.0]


def test_an_import_overrides_the_mock_for_that_symbol_and_interval_only(app, market_now):
    service.import_candles(symbol="XAUUSD", interval="1h", csv_text=ACME_CSV)
    imported = service.load_bars(symbol="XAUUSD", interval="1h", start_ms=DAY, end_ms=DAY + D)
    assert imported.close.tolist() == [105.0, 102.0, 106.08]
    mock = service.load_bars(symbol="XAUUSD", interval="1h", start_ms=DAY, end_ms=DAY + D, provider="mock")
    assert mock.close[0] > 1000
    assert service.load_bars(symbol="XAUUSD", interval="15m", start_ms=DAY, end_ms=DAY + H).close[0] > 1000


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"symbol": "NOPE"}, UnknownSymbol, "Unknown symbol 'NOPE'"),
        ({"symbol": "NOPE", "provider": "mock"}, UnknownSymbol, "no symbol 'NOPE'"),
        ({"symbol": "XAUUSD", "provider": "db"}, UnknownSymbol, "No 1h candles are stored for 'XAUUSD'"),
        ({"symbol": "XAUUSD", "interval": "2h"}, InvalidMarketQuery, "unknown interval '2h'"),
        ({"symbol": "XAUUSD", "provider": "yahoo"}, InvalidMarketQuery, "unknown provider 'yahoo'"),
    ],
)
def test_load_bars_errors(app, kwargs, error, message):
    args = {"interval": "1h", "start_ms": DAY, "end_ms": DAY + D, **kwargs}
    with pytest.raises(error, match=message):
        service.load_bars(**args)


def test_load_last_bars_counts_bars_not_time(app):
    gappy = "time,o,h,l,c\n" + "".join(f"{(DAY + k * 5 * H) // 1000},1,{k + 2},1,{k + 1}\n" for k in range(4))
    service.import_candles(symbol="GAPS", interval="1h", csv_text=gappy)  # bars at 00:00, 05:00, 10:00, 15:00
    bars = service.load_last_bars(symbol="GAPS", interval="1h", count=3, end_ms=DAY + 15 * H + 30 * M)
    assert bars.time.tolist() == [DAY, DAY + 5 * H, DAY + 10 * H]  # 15:00 is not complete yet
    assert len(service.load_last_bars(symbol="GAPS", interval="1h", count=0)) == 0
    mock = service.load_last_bars(symbol="AAPL", interval="5m", count=4, end_ms=DAY + H)
    assert mock.time.tolist() == [DAY + 40 * M, DAY + 45 * M, DAY + 50 * M, DAY + 55 * M]


def test_latest_bar_is_the_last_complete_one(app, acme_candles):
    bar = service.latest_bar(symbol="ACME", interval="1h", now_ms=DAY + 2 * H + 30 * M)
    assert bar.time == DAY + H  # the 02:00 bar closes at 03:00, after now
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (
        Decimal("105.0"),
        Decimal("108.0"),
        Decimal("101.0"),
        Decimal("102.0"),
        Decimal("20.0"),
    )
    assert service.latest_bar(symbol="ACME", interval="1h", now_ms=DAY - 2 * H) is None


def test_latest_bar_from_the_mock_matches_the_provider(app):
    now = DAY + 10 * M + 5_000
    bar = service.latest_bar(symbol="BTCUSDT", interval="1m", now_ms=now)
    expected = MockProvider(now_ms=lambda: now).get_bars("BTCUSDT", "1m", DAY, now)
    assert bar.time == DAY + 9 * M
    assert bar.close == Decimal(repr(float(expected.close[-1])))


def test_snapshot_from_imported_hourly_candles(app, acme_candles):
    snap = service.get_snapshot(symbol="acme", now_ms=DAY + 3 * H + 30 * M)
    # Today (UTC) = the 00:00, 01:00 and 02:00 bars; yesterday's last close was 104.
    assert snap == service.Snapshot(
        symbol="ACME",
        price=Decimal("106.08"),
        change=Decimal("2.08"),
        change_percent=Decimal("2.0"),  # 2.08 / 104 = 2 %
        open=Decimal("104.0"),
        high=Decimal("108.0"),
        low=Decimal("101.0"),
        volume=Decimal("35.5"),
        time=DAY + 2 * H,
    )


def test_snapshot_of_a_mock_symbol_uses_its_minute_bars(app, market_now):
    snap = service.get_snapshot(symbol="EURUSD")
    minutes = MockProvider(now_ms=lambda: MARKET_NOW_MS).get_bars("EURUSD", "1m", DAY - M, MARKET_NOW_MS)
    today = minutes.between(DAY, MARKET_NOW_MS)
    assert snap.time == MARKET_NOW_MS - M
    assert float(snap.price) == today.close[-1]
    assert float(snap.open) == today.open[0] == minutes.close[0]  # opens at yesterday's close
    assert float(snap.change) == pytest.approx(today.close[-1] - minutes.close[0], abs=1e-9)
    assert (float(snap.high), float(snap.low)) == (today.high.max(), today.low.min())


def test_snapshot_unknown_symbol(app):
    with pytest.raises(UnknownSymbol):
        service.get_snapshot(symbol="NOPE")


def test_list_symbols_marks_sources_and_intervals(app, acme_candles):
    symbols = {s.info.symbol: s for s in service.list_symbols()}
    assert symbols["XAUUSD"].sources == ("mock",)
    assert symbols["ACME"].sources == ("import",) and symbols["ACME"].intervals == ("1h",)
    service.import_candles(symbol="XAUUSD", interval="1d", csv_text="date,o,h,l,c\n2024-01-02,1,2,1,2\n")
    assert service.find_symbol("QYQ:xauusd").sources == ("mock", "import")
    with pytest.raises(UnknownSymbol):
        service.find_symbol("NOPE")


def test_bad_csv_imports_nothing_and_lists_every_bad_line(app):
    text = ACME_CSV + "2025-11-15T03:00:00Z,1,0.5,1,1,1\nsoon,1,1,1,1,1\n"
    with pytest.raises(InvalidCandles) as err:
        service.import_candles(symbol="ACME", interval="1h", csv_text=text)
    assert err.value.details["rows"] == [
        {"line": 7, "message": "high is below open, low or close"},
        {"line": 8, "message": "time 'soon' is not a recognised date/time"},
    ]
    assert err.value.details["total"] == 2
    assert not store.has_series("ACME", "1h")


def test_bars_round_trip_exactly_through_the_table(app, market_now):
    bars = MockProvider(now_ms=lambda: MARKET_NOW_MS).get_bars("EURUSD", "1m", DAY - 2 * D, DAY)
    result = service.import_candles(symbol="EURX", interval="1m", bars=bars)
    assert result.rows == 2 * 1440
    back = service.load_bars(symbol="EURX", interval="1m", start_ms=0, end_ms=DAY, provider="db")
    for field in ("time", "open", "high", "low", "close", "volume"):
        assert np.array_equal(getattr(back, field), getattr(bars, field)), field


def test_reimport_replaces_rows_at_the_same_times(app, acme_candles):
    service.import_candles(
        symbol="ACME", interval="1h", csv_text="time,o,h,l,c,v\n2025-11-15T01:00:00Z,1,3,1,2,9\n"
    )
    bars = service.load_bars(symbol="ACME", interval="1h", start_ms=DAY, end_ms=DAY + 3 * H)
    assert bars.close.tolist() == [105.0, 2.0, 106.08]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"symbol": "BAD SYMBOL!", "csv_text": ACME_CSV}, "A symbol is 1-32 characters"),
        ({"symbol": "ACME", "csv_text": ACME_CSV, "interval": "4h"}, "not on the 4h bar grid"),
        ({"symbol": "ACME"}, "Give either bars or CSV text"),
        ({"symbol": "ACME", "bars": Bars.empty()}, "no candles to import"),
        (
            {"symbol": "ACME", "bars": Bars.from_arrays([DAY + 1], [1], [1], [1], [1], [1])},
            "must be 1h bar open times",
        ),
        (
            {
                "symbol": "ACME",
                "bars": Bars.from_arrays([DAY + H, DAY], [1, 1], [1, 1], [1, 1], [1, 1], [1, 1]),
            },
            "strictly ascending",
        ),
        (
            {"symbol": "ACME", "bars": Bars.from_arrays([DAY], [2], [1.5], [1], [1.2], [1])},
            "low <= open, close <= high",
        ),
        (
            {"symbol": "ACME", "bars": Bars.from_arrays([DAY], [1], [1], [1], [float("nan")], [1])},
            "finite positive",
        ),
        (
            {"symbol": "ACME", "bars": Bars.from_arrays([DAY], [1], [1], [1], [1], [-1])},
            "non-negative volume",
        ),
    ],
)
def test_import_rejections(app, kwargs, message):
    with pytest.raises(InvalidCandles, match=message):
        service.import_candles(**{"interval": "1h", **kwargs})


def test_seed_mock_materialises_the_mock_but_never_replaces_imports(app, market_now, acme_candles):
    service.import_candles(symbol="XAUUSD", interval="1h", csv_text=ACME_CSV)
    results = service.seed_mock(symbols=["XAUUSD", "BTCUSDT"], interval="1h", days=1)
    assert [(r.symbol, r.rows) for r in results] == [("XAUUSD", 24), ("BTCUSDT", 24)]
    btc = service.load_bars(symbol="BTCUSDT", interval="1h", start_ms=0, end_ms=MARKET_NOW_MS, provider="db")
    mock = service.load_bars(
        symbol="BTCUSDT", interval="1h", start_ms=btc.time[0], end_ms=MARKET_NOW_MS, provider="mock"
    )
    assert np.array_equal(btc.time, mock.time) and np.array_equal(btc.close, mock.close)
    kept = service.load_bars(symbol="XAUUSD", interval="1h", start_ms=DAY, end_ms=DAY + 3 * H, provider="db")
    assert kept.close.tolist() == [105.0, 102.0, 106.08]


def test_the_mock_seed_comes_from_config(app, market_now, monkeypatch):
    default = service.load_bars(symbol="AAPL", interval="1h", start_ms=DAY, end_ms=DAY + 3 * H)
    monkeypatch.setitem(app.config, "MARKET_MOCK_SEED", 7)
    seeded = service.load_bars(symbol="AAPL", interval="1h", start_ms=DAY, end_ms=DAY + 3 * H)
    expected = MockProvider(seed=7, now_ms=lambda: MARKET_NOW_MS).get_bars("AAPL", "1h", DAY, DAY + 3 * H)
    assert np.array_equal(seeded.close, expected.close)
    assert not np.array_equal(seeded.close, default.close)


def test_candles_are_keyed_and_indexed_by_symbol_interval_time(app):
    from sqlalchemy import text

    from backend.extensions import db

    columns = (
        db.session.execute(
            text(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                "AND a.attnum = ANY(i.indkey) "
                "WHERE i.indrelid = 'market_candles'::regclass AND i.indisprimary "
                "ORDER BY array_position(i.indkey, a.attnum)"
            )
        )
        .scalars()
        .all()
    )
    assert columns == ["symbol", "interval", "time"]
    types = dict(
        db.session.execute(
            text(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = 'market_candles'"
            )
        ).all()
    )
    assert types["time"] == "bigint" and types["close"] == "numeric"
