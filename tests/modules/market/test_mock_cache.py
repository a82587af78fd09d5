"""The per-process LRU of mock bars: hits return the same bars, keys separate what differs, the
bound holds, and a cached range is exactly what the generator gives."""

from __future__ import annotations

import numpy as np
import pytest

from backend.domain.marketdata.mock import MockProvider
from backend.modules.market import service, sources
from tests.fixtures.market import DAY, MARKET_NOW_MS

H, D = 3_600_000, 86_400_000


@pytest.fixture(autouse=True)
def _empty_cache():
    sources.MOCK_BARS_CACHE.clear()
    yield
    sources.MOCK_BARS_CACHE.clear()


def _load(start: int = DAY - 3 * D, end: int = DAY, interval: str = "1h", symbol: str = "BTCUSDT"):
    return service.load_bars(symbol=symbol, interval=interval, start_ms=start, end_ms=end, provider="mock")


def test_the_same_range_is_generated_once_and_equals_the_generator(app, market_now, monkeypatch):
    calls: list[tuple] = []
    real = MockProvider.get_bars

    def counted(self, *args):
        calls.append(args)
        return real(self, *args)

    monkeypatch.setattr(MockProvider, "get_bars", counted)
    first, second = _load(), _load()
    assert second is first and len(calls) == 1
    expected = real(MockProvider(seed=0, now_ms=lambda: MARKET_NOW_MS), "BTCUSDT", "1h", DAY - 3 * D, DAY)
    assert np.array_equal(first.close, expected.close) and np.array_equal(first.time, expected.time)
    for other in (
        _load(start=DAY - 2 * D),
        _load(interval="4h"),
        _load(symbol="ETHUSDT"),
    ):
        assert other is not first
    assert len(calls) == 4


def test_the_seed_is_part_of_the_key(app, market_now, monkeypatch):
    zero = _load()
    monkeypatch.setitem(app.config, "MARKET_MOCK_SEED", 7)
    seven = _load()
    assert not np.array_equal(zero.close, seven.close)


def test_a_range_reaching_past_now_is_keyed_by_its_complete_bars(app, market_now):
    # Ends past "now" are clipped to the last complete bar before the key is made.
    assert _load(end=DAY + 10 * D) is _load(end=DAY + 3 * H + 1)


def test_the_cache_holds_at_most_the_configured_bars_least_recently_used_first_out(
    app, market_now, monkeypatch
):
    monkeypatch.setitem(app.config, "MARKET_MOCK_CACHE_BARS", 72)  # three days of 1h bars
    a, b, c = _load(DAY - 3 * D, DAY - 2 * D), _load(DAY - 2 * D, DAY - D), _load(DAY - D, DAY)
    assert _load(DAY - 3 * D, DAY - 2 * D) is a  # a is now the most recently used
    d = _load(DAY - 4 * D, DAY - 3 * D)  # evicts b, the least recently used
    assert _load(DAY - 3 * D, DAY - 2 * D) is a and _load(DAY - D, DAY) is c
    assert _load(DAY - 4 * D, DAY - 3 * D) is d
    assert _load(DAY - 2 * D, DAY - D) is not b
    assert len(_load(DAY - 10 * D, DAY)) == 240 and _load(DAY - 10 * D, DAY) is not _load(DAY - 10 * D, DAY)


def test_zero_turns_the_cache_off(app, market_now, monkeypatch):
    monkeypatch.setitem(app.config, "MARKET_MOCK_CACHE_BARS", 0)
    assert _load() is not _load()


@pytest.mark.parametrize("interval", ["1m", "1h"])
def test_windows_starting_the_same_day_share_one_entry_and_equal_the_generator(
    app, market_now, monkeypatch, interval
):
    calls: list[tuple] = []
    real = MockProvider.get_bars

    def counted(self, *args):
        calls.append(args)
        return real(self, *args)

    monkeypatch.setattr(MockProvider, "get_bars", counted)
    end = DAY - 3 * H
    starts = (DAY - D + 5 * H + 17 * 60_000, DAY - D + 11 * H + 30 * 60_000, DAY - D)
    windows = [_load(start=start, end=end, interval=interval) for start in starts]
    assert len(calls) == 1  # one day's entry, the windows are slices of it
    generator = MockProvider(seed=0, now_ms=lambda: MARKET_NOW_MS)
    for start, bars in zip(starts, windows, strict=True):
        expected = real(generator, "BTCUSDT", interval, start, end)
        assert len(bars) == len(expected) > 0 and bars.time[0] >= start
        for field in ("time", "open", "high", "low", "close", "volume"):
            assert np.array_equal(getattr(bars, field), getattr(expected, field))
    _load(start=DAY - 2 * D + 7 * H, end=end, interval=interval)  # another day: another entry
    assert len(calls) == 2
