"""Deterministic findings on one backtest: the checks a careful risk analyst runs first.

Inputs are plain arrays over the backtest's bars (index ``t`` = bar ``t``, values taken at the
bar's close): ``equity`` in account currency, ``exposure`` as signed position value / equity
(1.0 = fully invested long, -1.0 = fully short), and ``trade_pnls`` as the net PnL of each closed
trade in account currency (after fees and slippage). Percent figures are in percent (12.4 means
12.4 %); drawdowns are negative percents, as in the API's BacktestSummary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from backend.domain.audit.findings import Evidence, Finding, score, sort_findings
from backend.domain.audit.guardrails import guardrail_findings
from backend.domain.backtest.guardrails import Guardrails

MIN_TRADES = 30  # below this a Sharpe ratio is mostly noise (Lo 2002: SE ~ 1/sqrt(n))
CLAIMED_SHARPE = 1.0  # a "good" Sharpe claimed on too few trades is the worst case
MIN_RETURN_TO_DD = 1.0  # total return should at least cover the worst drawdown
OUTLIER_SHARE_PCT = 50.0  # two trades making over half the profit = fragile
MIN_COST_RETENTION_PCT = 50.0  # doubling costs should keep at least half the return
OOS_RETENTION = 0.5  # out-of-sample Sharpe should keep half the in-sample Sharpe
SPLIT_FRACTION = 0.5  # in-sample = first half of the bars, out-of-sample = second half
MIN_SPLIT_BARS = 20
LONGEST_FLAT_PCT = 50.0  # one flat stretch longer than half the test
MAX_GROSS_EXPOSURE = 1.0  # above 1.0 the strategy is leveraged
_EPS = 1e-9


@dataclass(frozen=True)
class BacktestEvidence:
    """Arrays and summary of one backtest run (see the module docstring for units)."""

    equity: np.ndarray
    exposure: np.ndarray | None  # None when positions are unknown (exposure checks skipped)
    trade_pnls: np.ndarray
    periods_per_year: float
    summary: dict[str, Any] = field(default_factory=dict)
    stressed_total_return: float | None = None  # totalReturn (%) re-run with doubled fees+slippage
    stressed_cost_bps: float | None = None  # fee + slippage (bps per fill) of that re-run
    guardrails: Guardrails | None = None  # PSR, bootstrap, walk-forward gap (findings when given)


@dataclass(frozen=True)
class AuditReport:
    """Sorted findings, the 0..100 score and the headline metrics they used."""

    findings: list[Finding]
    score: int
    metrics: dict[str, float | int | None]

    def findings_dicts(self) -> list[dict[str, Any]]:
        """Return the findings in wire form."""
        return [f.to_dict() for f in self.findings]


def sharpe(equity: np.ndarray, periods_per_year: float) -> float:
    """Return the annualised Sharpe of per-bar simple returns of ``equity`` (risk-free 0)."""
    eq = np.asarray(equity, dtype=np.float64)
    if len(eq) < 3:
        return 0.0
    rets = np.diff(eq) / eq[:-1]
    sd = float(np.std(rets, ddof=1))
    if sd < _EPS:
        return 0.0
    return float(np.mean(rets) / sd * math.sqrt(periods_per_year))


def max_drawdown_pct(equity: np.ndarray) -> float:
    """Return the worst peak-to-trough fall of ``equity`` as a negative percent (0.0 if none)."""
    eq = np.asarray(equity, dtype=np.float64)
    if len(eq) == 0:
        return 0.0
    peaks = np.maximum.accumulate(eq)
    return float(np.min(eq / peaks - 1.0) * 100.0)


def headline_metrics(ev: BacktestEvidence) -> dict[str, float]:
    """Return totalReturn, sharpeRatio, maxDrawdown, totalTrades: from the summary, else computed."""
    eq = np.asarray(ev.equity, dtype=np.float64)
    s = ev.summary or {}
    computed_return = float((eq[-1] / eq[0] - 1.0) * 100.0) if len(eq) else 0.0
    return {
        "totalReturn": _num(s.get("totalReturn"), computed_return),
        "sharpeRatio": _num(s.get("sharpeRatio"), sharpe(eq, ev.periods_per_year)),
        "maxDrawdown": _num(s.get("maxDrawdown"), max_drawdown_pct(eq)),
        "totalTrades": int(_num(s.get("totalTrades"), len(ev.trade_pnls))),
    }


def _num(value: Any, default: float) -> float:
    return default if value is None else float(value)


def check_trade_count(trades: int, claimed_sharpe: float) -> Finding:
    """Flag a Sharpe ratio resting on fewer than MIN_TRADES closed trades."""
    related = (Evidence("sharpeRatio", claimed_sharpe, CLAIMED_SHARPE),)
    ev = Evidence("totalTrades", trades, MIN_TRADES)
    if trades >= MIN_TRADES:
        return Finding("bt.trade_count", "info", "Enough trades to judge the Sharpe ratio", ev, related)
    sev = "high" if claimed_sharpe >= CLAIMED_SHARPE else "medium"
    return Finding("bt.trade_count", sev, "Too few trades for the claimed Sharpe ratio", ev, related)


def check_drawdown_vs_return(total_return: float, max_dd: float) -> Finding:
    """Flag a total return (%) that does not cover the worst drawdown (negative %)."""
    dd = abs(max_dd)
    related = (Evidence("totalReturnPct", total_return), Evidence("maxDrawdownPct", max_dd))
    if dd < _EPS:
        ev = Evidence("returnToDrawdown", None, MIN_RETURN_TO_DD)
        return Finding("bt.drawdown_vs_return", "info", "No drawdown recorded", ev, related)
    ratio = total_return / dd
    ev = Evidence("returnToDrawdown", ratio, MIN_RETURN_TO_DD)
    if ratio >= MIN_RETURN_TO_DD:
        return Finding("bt.drawdown_vs_return", "info", "Return covers the worst drawdown", ev, related)
    sev = "high" if ratio < MIN_RETURN_TO_DD / 2 else "medium"
    return Finding("bt.drawdown_vs_return", sev, "Drawdown is large against the return", ev, related)


def check_outlier_trades(trade_pnls: np.ndarray) -> Finding:
    """Flag net profit (currency) that depends on the two best trades."""
    pnls = np.asarray(trade_pnls, dtype=np.float64)
    total = float(pnls.sum()) if len(pnls) else 0.0
    top2 = float(np.sort(pnls)[-2:].clip(min=0).sum()) if len(pnls) else 0.0
    related = (Evidence("netProfit", total), Evidence("netProfitWithoutTop2", total - top2))
    if len(pnls) < 3 or total <= 0:
        ev = Evidence("top2ProfitSharePct", None, OUTLIER_SHARE_PCT)
        return Finding("bt.outlier_trades", "info", "No net profit to attribute to outliers", ev, related)
    share = top2 / total * 100.0
    ev = Evidence("top2ProfitSharePct", share, OUTLIER_SHARE_PCT)
    if share <= OUTLIER_SHARE_PCT:
        return Finding("bt.outlier_trades", "info", "Profit is spread over many trades", ev, related)
    sev = "high" if total - top2 <= 0 else "medium"
    return Finding("bt.outlier_trades", sev, "Profit depends on one or two outlier trades", ev, related)


def check_cost_sensitivity(
    total_return: float, stressed_return: float | None, stressed_bps: float | None = None
) -> Finding | None:
    """Flag a return (%) that collapses when fees and slippage are doubled; None if not re-run."""
    if stressed_return is None:
        return None
    ev = Evidence("totalReturnDoubledCostsPct", stressed_return, 0.0)
    related = [Evidence("totalReturnPct", total_return)]
    if stressed_bps is not None:
        related.append(Evidence("stressedCostBps", stressed_bps))
    if total_return <= 0:
        return Finding("bt.cost_sensitivity", "info", "No profit to erode with costs", ev, tuple(related))
    retained = stressed_return / total_return * 100.0
    related.insert(1, Evidence("returnRetainedPct", retained, MIN_COST_RETENTION_PCT))
    if stressed_return <= 0:
        sev, title = "high", "Doubling fees and slippage wipes out the profit"
    elif retained < MIN_COST_RETENTION_PCT:
        sev, title = "medium", "Return is very sensitive to fees and slippage"
    else:
        sev, title = "info", "Return survives doubled fees and slippage"
    return Finding("bt.cost_sensitivity", sev, title, ev, tuple(related))


def check_out_of_sample(equity: np.ndarray, periods_per_year: float) -> Finding | None:
    """Compare the Sharpe of the first half of the bars with the second half; None if too short."""
    eq = np.asarray(equity, dtype=np.float64)
    k = int(len(eq) * SPLIT_FRACTION)
    if k < MIN_SPLIT_BARS or len(eq) - k < MIN_SPLIT_BARS:
        return None
    s_in, s_out = sharpe(eq[: k + 1], periods_per_year), sharpe(eq[k:], periods_per_year)
    limit = s_in * OOS_RETENTION
    related = (Evidence("inSampleSharpe", s_in),)
    ev = Evidence("outOfSampleSharpe", s_out, limit if s_in > 0 else None)
    if s_in <= 0 or s_out >= limit:
        return Finding("bt.out_of_sample", "info", "Out-of-sample Sharpe holds up", ev, related)
    sev = "high" if s_out <= 0 else "medium"
    return Finding("bt.out_of_sample", sev, "Performance degrades out of sample", ev, related)


def longest_run(mask: np.ndarray) -> int:
    """Return the length of the longest run of True values in ``mask``."""
    best = cur = 0
    for flag in np.asarray(mask, dtype=bool):
        cur = cur + 1 if flag else 0
        best = max(best, cur)
    return best


def check_exposure(exposure: np.ndarray | None) -> list[Finding]:
    """Flag one long flat stretch (percent of bars) and leverage above MAX_GROSS_EXPOSURE."""
    x = np.asarray(exposure if exposure is not None else [], dtype=np.float64)
    if len(x) == 0:
        return []
    flat_pct = longest_run(np.abs(x) < _EPS) / len(x) * 100.0
    gross = float(np.max(np.abs(x)))
    ev_flat = Evidence("longestFlatPct", flat_pct, LONGEST_FLAT_PCT)
    ev_gross = Evidence("maxGrossExposure", gross, MAX_GROSS_EXPOSURE)
    flat = (
        Finding("bt.flat_period", "low", "One flat period covers most of the test", ev_flat)
        if flat_pct > LONGEST_FLAT_PCT
        else Finding("bt.flat_period", "info", "No dominant flat period", ev_flat)
    )
    over = (
        Finding("bt.over_exposure", "high", "Positions exceed the account equity", ev_gross)
        if gross > MAX_GROSS_EXPOSURE + 1e-6
        else Finding("bt.over_exposure", "info", "Exposure stays within equity", ev_gross)
    )
    return [flat, over]


def audit_backtest(ev: BacktestEvidence) -> AuditReport:
    """Run every backtest check and return the findings (worst first) and the score."""
    m = headline_metrics(ev)
    found: list[Finding | None] = [
        check_trade_count(int(m["totalTrades"]), float(m["sharpeRatio"])),
        check_drawdown_vs_return(float(m["totalReturn"]), float(m["maxDrawdown"])),
        check_outlier_trades(ev.trade_pnls),
        check_cost_sensitivity(float(m["totalReturn"]), ev.stressed_total_return, ev.stressed_cost_bps),
        check_out_of_sample(ev.equity, ev.periods_per_year),
        *check_exposure(ev.exposure),
        *guardrail_findings(ev.guardrails),
    ]
    findings = sort_findings([f for f in found if f is not None])
    metrics: dict[str, float | int | None] = dict(m)
    return AuditReport(findings=findings, score=score(findings), metrics=metrics)
