"""Build backtest audit evidence from the engine's own run, including the doubled-cost re-run.

Uses the pure engine (``backend.domain.backtest``): signals decided at bar t's close fill at
bar t+1's open; equity is marked at each bar's close. Exposure is position * close / equity.
When a run had no costs at all, the stress run uses ZERO_COST_STRESS_BPS (fee and slippage
each) instead of doubling zero, and the finding carries the bps used.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from backend.domain.audit.backtest import BacktestEvidence
from backend.domain.backtest import engine
from backend.domain.backtest.guardrails import SampleGap, result_guardrails
from backend.domain.backtest.metrics import compute_metrics
from backend.domain.backtest.types import BacktestConfig, BacktestResult, Signals
from backend.domain.bars import Bars

ZERO_COST_STRESS_BPS = 5.0
MAX_BPS = 999.0  # the engine accepts [0, 1000)


def stressed_config(config: BacktestConfig) -> BacktestConfig:
    """Return ``config`` with fee and slippage doubled (or a 5 bps floor each when both are 0)."""
    if config.fee_bps == 0 and config.slippage_bps == 0:
        return replace(config, fee_bps=ZERO_COST_STRESS_BPS, slippage_bps=ZERO_COST_STRESS_BPS)
    return replace(
        config, fee_bps=min(MAX_BPS, 2 * config.fee_bps), slippage_bps=min(MAX_BPS, 2 * config.slippage_bps)
    )


def exposure_of(result: BacktestResult, bars: Bars) -> np.ndarray:
    """Return signed position value / equity after each bar's close (0 where equity <= 0).

    A position the engine force-closes on the last bar (``closed_at_end``) is flat after that
    bar, and that bar's equity has already paid the exit costs, so its exposure is 0 (reading
    value / post-close equity would show an all-in account as slightly leveraged).
    """
    value = np.asarray(result.position, dtype=np.float64) * bars.close
    eq = np.asarray(result.equity, dtype=np.float64)
    exposure: np.ndarray = np.divide(value, eq, out=np.zeros_like(value), where=eq > 0)
    trades = result.trades
    if len(exposure) and len(trades) and bool(trades["closed_at_end"][-1]):
        exposure[-1] = 0.0
    return exposure


def evidence_from_run(
    bars: Bars,
    signals: Signals,
    config: BacktestConfig,
    periods_per_year: float,
    result: BacktestResult | None = None,
    summary: dict[str, Any] | None = None,
    in_out_gap: SampleGap | None = None,
) -> BacktestEvidence:
    """Return BacktestEvidence for one run, re-running it once with stressed costs.

    Its guardrails are the run's own (the numbers stored with a backtest result), with
    ``in_out_gap`` when the run had a walk-forward analysis.
    """
    result = result if result is not None else engine.run(bars, signals, config)
    metrics = summary if summary is not None else compute_metrics(result, bars, periods_per_year)
    stress = stressed_config(config)
    stressed = compute_metrics(engine.run(bars, signals, stress), bars, periods_per_year)
    equity = np.concatenate([[float(config.initial_capital)], np.asarray(result.equity, dtype=np.float64)])
    return BacktestEvidence(
        equity=equity,
        exposure=exposure_of(result, bars),
        trade_pnls=np.asarray(result.trades["pnl"], dtype=np.float64),
        periods_per_year=periods_per_year,
        summary=dict(metrics),
        stressed_total_return=stressed.get("totalReturn"),
        stressed_cost_bps=stress.fee_bps + stress.slippage_bps,
        guardrails=result_guardrails(result, periods_per_year, in_out=in_out_gap),
    )
