"""Compare this engine with backtesting.py on the same synthetic bars and fill rules.

Both engines trade an SMA crossover (their own SMA code), fill at the next bar's open, charge the
same relative fee on both sides and go flat one bar before the end so no position is left open.
Quantities: either whole units (ours with ``lot_size=1``, backtesting.py's ``Backtest``) or
fractional (ours with ``lot_size=0``, the vectorised fill path, against backtesting.py's
``FractionalBacktest`` with a 1e-8 unit). The check: same
number of trades, same entry/exit bars, per-trade PnL and total return equal to 1e-6 (percent).

Run: ``.venv/bin/python scripts/compare_engines.py [--bars N] [--seeds K]``. backtesting.py is a
dev/bench-only dependency (requirements.txt, "# Dev/bench only").
"""

from __future__ import annotations

import argparse
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.domain.backtest import engine, strategies  # noqa: E402
from backend.domain.backtest.types import BacktestConfig, Signals  # noqa: E402
from backend.domain.bars import Bars  # noqa: E402

MINUTE_MS = 60_000


def synthetic_bars(n: int, seed: int = 0, start_price: float = 100.0) -> Bars:
    """Return n one-minute GBM bars whose open differs from the previous close (gaps)."""
    rng = np.random.default_rng(seed)
    close = start_price * np.exp(np.cumsum(rng.normal(0.0, 0.002, n)))
    prev = np.concatenate(([start_price], close[:-1]))
    open_ = prev * (1.0 + rng.normal(0.0, 0.0005, n))
    wick = np.abs(rng.normal(0.0, 0.001, n))
    high = np.maximum(open_, close) * (1.0 + wick)
    low = np.minimum(open_, close) * (1.0 - wick)
    time = 1_700_000_000_000 + np.arange(n, dtype=np.int64) * MINUTE_MS
    return Bars.from_arrays(time, open_, high, low, close, rng.uniform(1, 100, n))


def flat_before_end(signals: Signals) -> Signals:
    """Return signals with no entry on the last two bars and an exit on the second-to-last."""
    arrays = [
        np.array(a, copy=True)
        for a in (signals.entries, signals.exits, signals.short_entries, signals.short_exits)
    ]
    for a in (arrays[0], arrays[2]):
        a[-2:] = False
    for a in (arrays[1], arrays[3]):
        a[-2] = True
    return Signals(*arrays)


@dataclass
class Outcome:
    """Trades and total return of one engine run."""

    entry_bars: list[int]
    exit_bars: list[int]
    pnl: np.ndarray
    total_return_pct: float


def run_ours(
    bars: Bars,
    fast: int,
    slow: int,
    fee_bps: float,
    allow_short: bool,
    capital: float,
    fractional: bool = False,
) -> Outcome:
    """Run this engine (SMA crossover; whole units unless ``fractional``)."""
    signals = strategies.get_strategy("sma_cross").signals(bars, {"fast": fast, "slow": slow})
    config = BacktestConfig(
        initial_capital=capital, fee_bps=fee_bps, allow_short=allow_short, lot_size=0.0 if fractional else 1.0
    )
    result = engine.run(bars, flat_before_end(signals), config)
    t = result.trades
    return Outcome(
        t["entry_index"].tolist(),
        t["exit_index"].tolist(),
        t["pnl"],
        (result.final_equity / capital - 1) * 100,
    )


def to_frame(bars: Bars):
    """Return the bars as the pandas DataFrame backtesting.py expects."""
    import pandas as pd

    index = pd.to_datetime(bars.time, unit="ms")
    return pd.DataFrame(
        {"Open": bars.open, "High": bars.high, "Low": bars.low, "Close": bars.close, "Volume": bars.volume},
        index=index,
    )


def backtesting_strategy(fast: int, slow: int, allow_short: bool, n: int):
    """Return a backtesting.py Strategy class for the SMA crossover (pandas rolling means)."""
    import pandas as pd
    from backtesting import Strategy
    from backtesting.lib import crossover

    def rolling_mean(values, window):
        return pd.Series(values).rolling(window).mean().to_numpy()

    class SmaCross(Strategy):
        def init(self):
            self.fast = self.I(rolling_mean, self.data.Close, fast)
            self.slow = self.I(rolling_mean, self.data.Close, slow)

        def next(self):
            if len(self.data) - 1 >= n - 2:  # go flat on the second-to-last bar, like ours
                self.position.close()
                return
            if crossover(self.fast, self.slow):
                self.position.close()
                self.buy()
            elif crossover(self.slow, self.fast):
                self.position.close()
                if allow_short:
                    self.sell()

    return SmaCross


def run_backtesting_py(
    bars: Bars,
    fast: int,
    slow: int,
    fee_bps: float,
    allow_short: bool,
    capital: float,
    fractional: bool = False,
) -> Outcome:
    """Run backtesting.py on the same bars (next-open fills, relative commission on both sides)."""
    from backtesting import Backtest
    from backtesting.lib import FractionalBacktest

    strategy = backtesting_strategy(fast, slow, allow_short, len(bars))
    extra = {"fractional_unit": 1e-8} if fractional else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = (FractionalBacktest if fractional else Backtest)(
            to_frame(bars),
            strategy,
            cash=capital,
            commission=fee_bps / 1e4,
            trade_on_close=False,
            exclusive_orders=False,
            finalize_trades=False,
            **extra,
        )
        stats = bt.run()
    trades = stats["_trades"]
    final = float(stats["_equity_curve"]["Equity"].iloc[-1])
    return Outcome(
        trades["EntryBar"].astype(int).tolist(),
        trades["ExitBar"].astype(int).tolist(),
        trades["PnL"].to_numpy(dtype=float),
        (final / capital - 1) * 100,
    )


def compare(
    n: int = 20_000,
    seed: int = 0,
    fast: int = 10,
    slow: int = 30,
    fee_bps: float = 10.0,
    allow_short: bool = False,
    capital: float = 1_000_000.0,
    fractional: bool = False,
) -> dict:
    """Run both engines and return the comparison (``ok`` is True when everything matches)."""
    bars = synthetic_bars(n, seed)
    ours = run_ours(bars, fast, slow, fee_bps, allow_short, capital, fractional)
    theirs = run_backtesting_py(bars, fast, slow, fee_bps, allow_short, capital, fractional)
    same_bars = ours.entry_bars == theirs.entry_bars and ours.exit_bars == theirs.exit_bars
    pnl_diff = float(np.max(np.abs(ours.pnl - theirs.pnl))) if same_bars and len(ours.pnl) else 0.0
    return_diff = abs(ours.total_return_pct - theirs.total_return_pct)
    return {
        "bars": n,
        "seed": seed,
        "allow_short": allow_short,
        "fractional": fractional,
        "fee_bps": fee_bps,
        "trades": (len(ours.entry_bars), len(theirs.entry_bars)),
        "same_entry_exit_bars": same_bars,
        "max_trade_pnl_diff": pnl_diff,
        "total_return_pct": (ours.total_return_pct, theirs.total_return_pct),
        "total_return_diff_pct": return_diff,
        "ok": same_bars and return_diff <= 1e-6,
    }


def main(argv: list[str] | None = None) -> int:
    """Compare on a few seeds, long-only and long/short; exit 1 on any mismatch."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)
    ok = True
    for seed in range(args.seeds):
        for allow_short, fractional in ((False, False), (True, False), (False, True), (True, True)):
            row = compare(args.bars, seed, allow_short=allow_short, fractional=fractional)
            ok &= row["ok"]
            print(row)  # noqa: T201 - command-line report
    print("MATCH" if ok else "MISMATCH")  # noqa: T201
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
