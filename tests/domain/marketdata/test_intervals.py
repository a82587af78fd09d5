import pytest

from backend.domain.marketdata import intervals as iv


@pytest.mark.parametrize(
    ("interval", "ms"),
    [
        ("1m", 60_000),
        ("5m", 300_000),
        ("15m", 900_000),
        ("30m", 1_800_000),
        ("1h", 3_600_000),
        ("4h", 14_400_000),
        ("1d", 86_400_000),
    ],
)
def test_interval_ms(interval, ms):
    assert iv.interval_ms(interval) == ms


@pytest.mark.parametrize("bad", ["2m", "1H", "", "1w", None])
def test_unknown_interval_names_the_supported_ones(bad):
    with pytest.raises(
        ValueError, match=r"unknown interval .*supported intervals: 1m, 5m, 15m, 30m, 1h, 4h, 1d"
    ):
        iv.interval_ms(bad)


def test_floor_time():
    t = 1_700_000_123_456  # 2023-11-14T22:15:23.456Z
    assert iv.floor_time(t, "1m") == 1_700_000_100_000  # 22:15:00
    assert iv.floor_time(t, "1h") == 1_699_999_200_000  # 22:00:00
    assert iv.floor_time(t, "4h") == 1_699_992_000_000  # 20:00:00
    assert iv.floor_time(t, "1d") == 1_699_920_000_000  # 2023-11-14T00:00:00Z
    assert iv.floor_time(1_699_999_200_000, "1h") == 1_699_999_200_000  # already on the grid


def test_ceil_time_and_alignment():
    assert iv.ceil_time(1_699_999_200_001, "1h") == 1_700_002_800_000
    assert iv.ceil_time(1_699_999_200_000, "1h") == 1_699_999_200_000
    assert iv.is_aligned(1_699_920_000_000, "1d")
    assert not iv.is_aligned(1_699_920_060_000, "1d")


@pytest.mark.parametrize(
    ("resolution", "interval"),
    [
        ("1", "1m"),
        ("5", "5m"),
        ("15", "15m"),
        ("30", "30m"),
        ("60", "1h"),
        ("240", "4h"),
        ("1D", "1d"),
        ("D", "1d"),
        ("1d", "1d"),
    ],
)
def test_resolution_to_interval(resolution, interval):
    assert iv.resolution_to_interval(resolution) == interval


def test_interval_to_resolution_round_trips():
    assert [iv.interval_to_resolution(i) for i in iv.INTERVALS] == ["1", "5", "15", "30", "60", "240", "1D"]


@pytest.mark.parametrize("bad", ["2", "1W", "1M", "abc", "120"])
def test_unsupported_resolution(bad):
    with pytest.raises(ValueError, match="unsupported resolution"):
        iv.resolution_to_interval(bad)
