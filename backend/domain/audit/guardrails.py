"""Findings from a result's overfitting guardrails (``backend.domain.backtest.guardrails``).

One finding per guardrail that could be computed, each carrying the exact numbers it used:
the probabilistic Sharpe ratio, the deflated one (only when the result was selected among
several trials), the bootstrap band of trade returns, and the walk-forward in/out-of-sample gap
(only when the run had a walk-forward analysis). Sharpe ratios named ``...PerBar`` are per bar;
the walk-forward ones are annualised like ``sharpeRatio``. Percent figures are in percent.
"""

from __future__ import annotations

from backend.domain.audit.findings import Evidence, Finding
from backend.domain.backtest.guardrails import Guardrails

CONFIDENCE = 0.95  # PSR / DSR below this: the Sharpe ratio may be luck (Bailey & Lopez de Prado)
COIN_FLIP = 0.5  # below this a true Sharpe ratio <= the benchmark is the likelier explanation
MIN_EFFICIENCY = 0.5  # out-of-sample Sharpe should keep half the in-sample one (walk-forward)


def _confidence_severity(value: float) -> str:
    return "info" if value >= CONFIDENCE else "medium" if value >= COIN_FLIP else "high"


def check_probabilistic_sharpe(g: Guardrails) -> Finding | None:
    """Flag a Sharpe ratio whose probability of being above zero is below CONFIDENCE."""
    m, psr = g.moments, g.probabilistic_sharpe
    if m is None or psr is None:
        return None
    ev = Evidence("probabilisticSharpe", psr, CONFIDENCE)
    related = (
        Evidence("sharpePerBar", m.sharpe),
        Evidence("observations", m.observations),
        Evidence("skewness", m.skewness),
        Evidence("kurtosis", m.kurtosis),
    )
    sev = _confidence_severity(psr)
    title = {
        "info": "The Sharpe ratio is statistically above zero",
        "medium": "The Sharpe ratio may be luck",
        "high": "The Sharpe ratio is more likely zero or below than positive",
    }[sev]
    return Finding("bt.probabilistic_sharpe", sev, title, ev, related)


def check_deflated_sharpe(g: Guardrails) -> Finding | None:
    """Flag a selected Sharpe ratio that does not beat what the best of its trials reaches by luck."""
    d = g.deflated
    if d is None or d.value is None or d.trials < 2:
        return None
    ev = Evidence("deflatedSharpe", d.value, CONFIDENCE)
    related = (
        Evidence("trials", d.trials),
        Evidence("expectedMaxSharpePerBar", d.expected_max_sharpe),
        Evidence("sharpeVariancePerBar", d.sharpe_variance),
    )
    sev = _confidence_severity(d.value)
    title = {
        "info": "The Sharpe ratio survives the number of trials",
        "medium": "The Sharpe ratio may be the luck of many trials",
        "high": "The best of the trials is what luck alone would give",
    }[sev]
    return Finding("bt.deflated_sharpe", sev, title, ev, related)


def check_bootstrap(g: Guardrails) -> Finding | None:
    """Flag a profit that does not survive resampling the trades (5th percentile of total return)."""
    b = g.bootstrap
    if b is None:
        return None
    ev = Evidence("bootstrapTotalReturnP5Pct", b.total_return.p5, 0.0)
    related = (
        Evidence("bootstrapTotalReturnP50Pct", b.total_return.p50),
        Evidence("bootstrapTotalReturnP95Pct", b.total_return.p95),
        Evidence("bootstrapMaxDrawdownP5Pct", b.max_drawdown.p5),
        Evidence("bootstrapMaxDrawdownP95Pct", b.max_drawdown.p95),
        Evidence("bootstrapSamples", b.samples),
    )
    if b.total_return.p5 >= 0:
        return Finding("bt.bootstrap", "info", "Resampled trades stay profitable", ev, related)
    if b.total_return.p50 > 0:
        return Finding(
            "bt.bootstrap", "medium", "The profit is not robust to resampling the trades", ev, related
        )
    return Finding("bt.bootstrap", "high", "Most resampled trade sequences lose money", ev, related)


def check_walk_forward(g: Guardrails) -> Finding | None:
    """Flag a walk-forward whose out-of-sample Sharpe keeps less than MIN_EFFICIENCY of the in-sample one."""
    s = g.in_out
    if s is None or s.in_sample_sharpe is None or s.out_of_sample_sharpe is None:
        return None
    ev = Evidence("walkForwardEfficiency", s.efficiency, MIN_EFFICIENCY)
    related = (
        Evidence("inSampleSharpe", s.in_sample_sharpe),
        Evidence("outOfSampleSharpe", s.out_of_sample_sharpe),
        Evidence("sharpeGap", s.gap),
    )
    if s.in_sample_sharpe <= 0:
        return Finding("bt.walk_forward", "info", "The in-sample choices had no positive Sharpe", ev, related)
    if s.out_of_sample_sharpe <= 0:
        return Finding("bt.walk_forward", "high", "Walk-forward loses out of sample", ev, related)
    if s.efficiency is not None and s.efficiency < MIN_EFFICIENCY:
        return Finding("bt.walk_forward", "medium", "Walk-forward degrades out of sample", ev, related)
    return Finding("bt.walk_forward", "info", "Walk-forward keeps the in-sample Sharpe", ev, related)


def guardrail_findings(g: Guardrails | None) -> list[Finding]:
    """Return the findings of every guardrail that was computed (none without guardrails)."""
    if g is None:
        return []
    found = (
        check_probabilistic_sharpe(g),
        check_deflated_sharpe(g),
        check_bootstrap(g),
        check_walk_forward(g),
    )
    return [f for f in found if f is not None]
