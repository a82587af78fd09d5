import numpy as np
import pytest

from backend.domain.marketdata.base import UnknownSymbolError, resample
from backend.domain.marketdata.mock import MOCK_SPECS, MOCK_START_MS, MockProvider

M, H, D = 60_000, 3_600_000, 86_400_000
NOW = 1_763_164_800_000  # 2025-11-15T00:00:00Z
T0 = 1_736_035_200_000  # 2025-01-05T00:00:00Z


def provider(seed=0, now=NOW):
    return MockProvider(seed=seed, now_ms=lambda: now)


def same(a, b):
    return all(
        np.array_equal(getattr(a, f), getattr(b, f))
        for f in ("time", "open", "high", "low", "close", "volume")
    )


@pytest.mark.parametrize("interval", ["1m", "15m", "1h", "1d"])
def test_a_bar_is_identical_whatever_range_it_was_requested_in(interval):
    p = provider()
    wide = p.get_bars("XAUUSD", interval, T0 - 40 * D, T0 + 40 * D)
    narrow = p.get_bars("XAUUSD", interval, T0, T0 + 2 * D)
    other_instance = provider().get_bars("XAUUSD", interval, T0, T0 + 2 * D)
    assert len(narrow) > 0
    assert same(wide.between(T0, T0 + 2 * D), narrow)
    assert same(narrow, other_instance)


def test_1m_bars_generated_in_blocks_are_those_of_one_pass():
    # 77 days: several generation blocks, a partial first day; compared with every day in one pass
    # and with the digest the one-pass generator gave before blocks existed (bit for bit).
    import hashlib

    p = provider()
    start, end = T0 - 37 * D + 12345, T0 + 40 * D
    bars = p.get_bars("BTCUSDT", "1m", start, end)
    days = np.arange(start // D, (end - 1) // D + 1, dtype=np.int64)
    one_pass = p._minute_bars(MOCK_SPECS["BTCUSDT"], days).between(start, end)
    assert len(bars) == 110_879 and same(bars, one_pass)
    digest = hashlib.sha256()
    for f in ("time", "open", "high", "low", "close", "volume"):
        digest.update(getattr(bars, f).tobytes())
    assert digest.hexdigest() == "e60b6e44719e742a6a77bfd6db38a2d2d43f0beea831415ca2265eb190cbe5fb"


def test_minute_by_minute_ticks_see_the_backtest_history():
    p = provider()
    history = p.get_bars("BTCUSDT", "1m", T0, T0 + 30 * M)
    ticks = [provider(now=T0 + (k + 1) * M).get_bars("BTCUSDT", "1m", T0, T0 + 10**13) for k in range(30)]
    assert [len(t) for t in ticks] == list(range(1, 31))
    assert same(ticks[-1], history)
    assert ticks[4].close[-1] == history.close[4]


def test_seed_and_symbol_change_the_path():
    a = provider(seed=0).get_bars("AAPL", "1h", T0, T0 + D)
    b = provider(seed=1).get_bars("AAPL", "1h", T0, T0 + D)
    c = provider(seed=0).get_bars("MSFT", "1h", T0, T0 + D)
    assert not np.array_equal(a.close, b.close)
    assert not np.array_equal(a.close / a.close[0], c.close / c.close[0])


def test_ohlc_is_consistent_and_times_are_on_the_grid():
    bars = provider().get_bars("ETHUSDT", "1m", T0, T0 + 3 * D)
    assert len(bars) == 3 * 1440
    assert np.all(np.diff(bars.time) == M)
    assert bars.time[0] == T0
    assert np.all(bars.low <= np.minimum(bars.open, bars.close))
    assert np.all(bars.high >= np.maximum(bars.open, bars.close))
    assert np.all(bars.low > 0) and np.all(bars.volume > 0)
    # Continuous market: each minute opens where the previous one closed, across midnight too.
    assert np.array_equal(bars.open[1:], bars.close[:-1])


def test_prices_are_rounded_to_the_symbol_tick():
    eur = provider().get_bars("EURUSD", "1m", T0, T0 + H)
    assert np.allclose(eur.close * 100_000, np.round(eur.close * 100_000), atol=1e-6)
    assert not np.allclose(eur.close * 100, np.round(eur.close * 100))


def test_coarse_bars_aggregate_the_minute_bars():
    p = provider()
    minutes = p.get_bars("XAUUSD", "1m", T0, T0 + D)
    hours = p.get_bars("XAUUSD", "1h", T0, T0 + D)
    expected = resample(minutes, "1h")
    assert len(hours) == 24
    for field in ("time", "open", "high", "low", "close"):
        assert np.array_equal(getattr(hours, field), getattr(expected, field)), field
    assert np.allclose(hours.volume, expected.volume)
    day = p.get_bars("XAUUSD", "1d", T0, T0 + D)
    assert (day.open[0], day.close[0]) == (minutes.open[0], minutes.close[-1])
    assert (day.high[0], day.low[0]) == (minutes.high.max(), minutes.low.min())


def test_end_is_exclusive_and_start_rounds_up_to_the_grid():
    p = provider()
    bars = p.get_bars("AAPL", "5m", T0 + 1, T0 + 30 * M)
    assert bars.time.tolist() == [T0 + k * 5 * M for k in range(1, 6)]


def test_only_complete_bars_up_to_now():
    now = T0 + 10 * H + 30 * M + 15_000  # 10:30:15
    p = provider(now=now)
    assert p.get_bars("AAPL", "1h", T0, T0 + D).time[-1] == T0 + 9 * H
    assert p.get_bars("AAPL", "1m", T0, T0 + D).time[-1] == T0 + 10 * H + 29 * M
    assert len(p.get_bars("AAPL", "1d", T0, T0 + D)) == 0  # today's daily bar is still open
    assert len(p.get_bars("AAPL", "1m", now, now + H)) == 0  # the future is empty


def test_nothing_before_the_mock_history_starts():
    p = provider()
    assert len(p.get_bars("XAUUSD", "1d", 0, MOCK_START_MS)) == 0
    bars = p.get_bars("XAUUSD", "1d", MOCK_START_MS - 10 * D, MOCK_START_MS + 3 * D)
    assert bars.time.tolist() == [MOCK_START_MS, MOCK_START_MS + D, MOCK_START_MS + 2 * D]
    assert p.first_time_ms("XAUUSD", "4h") == MOCK_START_MS


def test_a_request_near_now_generates_only_the_days_it_covers(monkeypatch):
    p = provider()
    seen = []
    original = p._minute_bars
    monkeypatch.setattr(p, "_minute_bars", lambda spec, days: seen.append(len(days)) or original(spec, days))
    p.get_bars("BTCUSDT", "1m", NOW - 200 * M, NOW)
    assert seen == [1]


@pytest.mark.parametrize(
    ("symbol", "low", "high"),
    [
        ("XAUUSD", 1700, 2800),
        ("BTCUSDT", 20_000, 90_000),
        ("EURUSD", 0.95, 1.25),
        ("AAPL", 110, 290),
    ],
)
def test_prices_stay_in_a_realistic_band_for_years(symbol, low, high):
    closes = provider().get_bars(symbol, "1d", MOCK_START_MS, NOW).close
    assert len(closes) == (NOW - MOCK_START_MS) // D
    assert low < closes.min() and closes.max() < high


def test_intraday_activity_is_u_shaped_over_the_session():
    # AAPL's session is 13:30-20:00 UTC: busiest at the open and close, calm at midday and overnight.
    bars = provider().get_bars("AAPL", "1m", T0, T0 + 60 * D)
    minute = (bars.time % D) // M
    move = np.abs(np.diff(np.log(bars.close), prepend=np.log(bars.open[0])))

    def mean(values, lo, hi):
        return values[(minute >= lo) & (minute < hi)].mean()

    edges = (mean(move, 810, 840) + mean(move, 1170, 1200)) / 2
    assert edges > 1.8 * mean(move, 990, 1020) > 1.8 * mean(move, 120, 600)
    assert mean(bars.volume, 810, 840) > 1.8 * mean(bars.volume, 990, 1020)


def test_unknown_symbol_and_interval():
    with pytest.raises(UnknownSymbolError, match="NOPE"):
        provider().get_bars("NOPE", "1h", T0, T0 + D)
    with pytest.raises(ValueError, match="unknown interval"):
        provider().get_bars("AAPL", "2h", T0, T0 + D)


def test_symbols_lists_every_spec():
    infos = provider().symbols()
    assert [i.symbol for i in infos] == list(MOCK_SPECS)
    assert {"XAUUSD", "BTCUSDT", "AAPL", "EURUSD"} <= {i.symbol for i in infos}
