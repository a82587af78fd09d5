"""This engine against backtesting.py on the same bars and fill rules (scripts/compare_engines.py).

Same trade count, same entry/exit bars, total return equal to 1e-6 percent, for whole and
fractional units, long-only and long/short. Skipped only when backtesting.py is not installed.
"""

import pytest

pytest.importorskip("backtesting")

from scripts import compare_engines  # noqa: E402 - only when backtesting.py is installed


@pytest.mark.comparison
@pytest.mark.parametrize("allow_short", [False, True])
@pytest.mark.parametrize("fractional", [False, True])
@pytest.mark.parametrize("seed,fast,slow,fee_bps", [(0, 10, 30, 10.0), (7, 5, 20, 0.0)])
def test_same_trades_and_return_as_backtesting_py(seed, fast, slow, fee_bps, allow_short, fractional):
    row = compare_engines.compare(
        n=5_000,
        seed=seed,
        fast=fast,
        slow=slow,
        fee_bps=fee_bps,
        allow_short=allow_short,
        fractional=fractional,
    )
    assert row["trades"][0] == row["trades"][1] > 20
    assert row["same_entry_exit_bars"]
    assert row["total_return_diff_pct"] <= 1e-6
