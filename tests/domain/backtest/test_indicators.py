"""Indicators against values computed by hand (the arithmetic is in the comments)."""

import numpy as np
import pytest

from backend.domain.backtest import indicators as ind

nan = np.nan


def close_to(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-9, equal_nan=True)


def test_sma_hand_values():
    # (1+2+3)/3 = 2, (2+3+4)/3 = 3, (3+4+8)/3 = 5
    close_to(ind.sma([1, 2, 3, 4, 8], 3), [nan, nan, 2, 3, 5])


def test_sma_long_window_uses_cumsum_path_and_matches_mean():
    x = np.arange(1.0, 101.0)
    out = ind.sma(x, 70)
    assert np.isnan(out[68]) and out[69] == pytest.approx(35.5)  # mean of 1..70
    assert out[99] == pytest.approx(65.5)  # mean of 31..100


def test_sma_shorter_than_window_is_all_nan_and_leading_nans_shift_warmup():
    assert np.isnan(ind.sma([1, 2], 3)).all()
    close_to(ind.sma([nan, 1, 3, 5], 2), [nan, nan, 2, 4])


def test_ema_seeded_with_sma():
    # n=3, alpha=0.5; seed at index 2 = mean(2,4,6) = 4; then 4+0.5*(8-4)=6; 6+0.5*(4-6)=5
    close_to(ind.ema([2, 4, 6, 8, 4], 3), [nan, nan, 4, 6, 5])


def test_ema_long_series_matches_plain_recursion():
    x = np.random.default_rng(7).normal(0, 1, 20_000).cumsum() + 100
    alpha, y = 2 / 11, np.full(len(x), np.nan)
    y[9] = x[:10].mean()
    for t in range(10, len(x)):
        y[t] = y[t - 1] + alpha * (x[t] - y[t - 1])
    close_to(ind.ema(x, 10), y)


def test_rsi_wilder_hand_values():
    # changes: +1, -1, +2, +1 ; n=2 -> first RSI at index 2
    # seed avg gain = (1+0)/2 = 0.5, avg loss = (0+1)/2 = 0.5 -> RSI 50
    # t=3: gain 2 -> ag = (0.5*1+2)/2 = 1.25, al = 0.25 -> RS 5 -> 100-100/6 = 83.3333
    # t=4: gain 1 -> ag = (1.25+1)/2 = 1.125, al = 0.125 -> RS 9 -> 90
    close_to(ind.rsi([10, 11, 10, 12, 13], 2), [nan, nan, 50, 100 - 100 / 6, 90])


def test_rsi_flat_and_only_rising():
    close_to(ind.rsi([5, 5, 5, 5], 2), [nan, nan, 50, 50])
    close_to(ind.rsi([1, 2, 3, 4], 2), [nan, nan, 100, 100])


def test_macd_components():
    # fast=2 (alpha 2/3), slow=3 (alpha 1/2), signal=2 on closes 1,2,3,4,5
    # ema2: idx1 1.5, idx2 1.5+2/3*1.5=2.5, idx3 3.5, idx4 4.5
    # ema3: idx2 2, idx3 2+0.5*2=3, idx4 3+0.5*2=4 -> line: nan,nan,0.5,0.5,0.5
    line, sig, hist = ind.macd([1, 2, 3, 4, 5], fast=2, slow=3, signal=2)
    close_to(line, [nan, nan, 0.5, 0.5, 0.5])
    close_to(sig, [nan, nan, nan, 0.5, 0.5])  # seed = mean(0.5, 0.5)
    close_to(hist, [nan, nan, nan, 0, 0])
    with pytest.raises(ValueError):
        ind.macd([1, 2, 3], fast=3, slow=3)


def test_bbands_population_std():
    # window (1,2,3): mean 2, population std sqrt(2/3); window (2,3,7): mean 4, std sqrt(14/3)
    upper, middle, lower = ind.bbands([1, 2, 3, 7], n=3, k=2)
    close_to(middle, [nan, nan, 2, 4])
    close_to(upper, [nan, nan, 2 + 2 * np.sqrt(2 / 3), 4 + 2 * np.sqrt(14 / 3)])
    close_to(lower, [nan, nan, 2 - 2 * np.sqrt(2 / 3), 4 - 2 * np.sqrt(14 / 3)])


def test_atr_wilder_hand_values():
    high, low = [10, 12, 13, 12], [8, 9, 11, 9]
    close = [9, 11, 12, 10]
    # TR1 = max(3, |12-9|, |9-9|) = 3 ; TR2 = max(2, 2, 0) = 2 ; TR3 = max(3, 0, 3) = 3
    # n=2: ATR[2] = (3+2)/2 = 2.5 ; ATR[3] = (2.5*1 + 3)/2 = 2.75
    close_to(ind.atr(high, low, close, 2), [nan, nan, 2.5, 2.75])


def test_invalid_period_rejected():
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError):
            ind.sma([1, 2, 3], bad)


def test_indicators_have_input_length():
    x = np.linspace(1, 2, 50)
    for out in (ind.sma(x, 5), ind.ema(x, 5), ind.rsi(x), *ind.macd(x), *ind.bbands(x), ind.atr(x, x, x)):
        assert out.shape == (50,) and out.dtype == np.float64


def test_rsi_long_series_matches_plain_wilder_loop():
    close = np.random.default_rng(3).normal(0, 1, 5_000).cumsum() + 500
    n, change = 14, np.diff(close)
    gain, loss = np.maximum(change, 0), np.maximum(-change, 0)
    ag, al = gain[:n].mean(), loss[:n].mean()
    expected = [100 * ag / (ag + al)]
    for g, lo in zip(gain[n:], loss[n:], strict=True):
        ag, al = (ag * (n - 1) + g) / n, (al * (n - 1) + lo) / n
        expected.append(100 * ag / (ag + al))
    out = ind.rsi(close, n)
    assert np.isnan(out[:n]).all()
    close_to(out[n:], expected)
