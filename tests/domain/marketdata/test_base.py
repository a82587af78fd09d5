import numpy as np

from backend.domain.bars import Bars
from backend.domain.marketdata.base import Provider, resample
from backend.domain.marketdata.csv import CSVProvider
from backend.domain.marketdata.mock import MockProvider

M = 60_000


def test_resample_five_minute_bars_into_15m_with_a_gap():
    # 00:00 00:05 00:10 | 00:15 (00:20 missing) 00:25
    bars = Bars.from_arrays(
        [0, 5 * M, 10 * M, 15 * M, 25 * M],
        [10, 11, 12, 13, 14],
        [11, 15, 13, 14, 16],
        [9, 10, 8, 12, 13],
        [11, 12, 12.5, 13.5, 15],
        [1, 2, 3, 4, 5],
    )
    out = resample(bars, "15m")
    assert out.time.tolist() == [0, 15 * M]
    assert out.open.tolist() == [10, 13]
    assert out.high.tolist() == [15, 16]
    assert out.low.tolist() == [8, 12]
    assert out.close.tolist() == [12.5, 15]
    assert out.volume.tolist() == [6, 9]


def test_resample_empty():
    assert len(resample(Bars.empty(), "1h")) == 0


def test_providers_satisfy_the_protocol():
    assert isinstance(MockProvider(), Provider)
    assert isinstance(CSVProvider(), Provider)
    bars = MockProvider(now_ms=lambda: 1_600_000_000_000).get_bars("AAPL", "1h", 0, 1_600_000_000_000)
    assert bars.time.dtype == np.int64 and bars.close.dtype == np.float64
