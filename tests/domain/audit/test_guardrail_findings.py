"""Findings from the guardrails: one per guardrail, carrying the exact numbers it used."""

from __future__ import annotations

import numpy as np
import pytest

from backend.domain.audit.backtest import BacktestEvidence, audit_backtest
from backend.domain.audit.guardrails import guardrail_findings
from backend.domain.audit.summary import RECOMMENDATIONS, deterministic_narrative
from backend.domain.backtest.guardrails import (
    Band,
    DeflatedSharpe,
    Guardrails,
    ReturnMoments,
    SampleGap,
    TradeBootstrap,
)

MOMENTS = ReturnMoments(observations=500, sharpe=0.05, skewness=-0.5, kurtosis=4.0)


def _guardrails(psr=0.97, dsr=None, p5=2.0, p50=8.0, gap=None) -> Guardrails:
    boot = TradeBootstrap(1000, 1, 40, Band(p5, p50, 15.0), Band(-20.0, -10.0, -4.0))
    return Guardrails(MOMENTS, psr, 252.0, deflated=dsr, bootstrap=boot, in_out=gap)


def _by_id(g: Guardrails) -> dict[str, dict]:
    return {f.id: f.to_dict() for f in guardrail_findings(g)}


def test_healthy_guardrails_are_information_with_their_numbers():
    f = _by_id(_guardrails())
    assert set(f) == {"bt.probabilistic_sharpe", "bt.bootstrap"}  # no trials, no walk-forward
    assert all(x["severity"] == "info" for x in f.values())
    psr = f["bt.probabilistic_sharpe"]
    assert psr["evidence"] == {"metric": "probabilisticSharpe", "value": 0.97, "threshold": 0.95}
    assert psr["related"] == [
        {"metric": "sharpePerBar", "value": 0.05, "threshold": None},
        {"metric": "observations", "value": 500, "threshold": None},
        {"metric": "skewness", "value": -0.5, "threshold": None},
        {"metric": "kurtosis", "value": 4.0, "threshold": None},
    ]
    boot = f["bt.bootstrap"]
    assert boot["evidence"] == {"metric": "bootstrapTotalReturnP5Pct", "value": 2.0, "threshold": 0.0}
    assert {e["metric"]: e["value"] for e in boot["related"]} == {
        "bootstrapTotalReturnP50Pct": 8.0,
        "bootstrapTotalReturnP95Pct": 15.0,
        "bootstrapMaxDrawdownP5Pct": -20.0,
        "bootstrapMaxDrawdownP95Pct": -4.0,
        "bootstrapSamples": 1000,
    }


@pytest.mark.parametrize(
    ("psr", "severity"), [(0.95, "info"), (0.8, "medium"), (0.5, "medium"), (0.3, "high")]
)
def test_psr_severity_bands(psr, severity):
    assert _by_id(_guardrails(psr=psr))["bt.probabilistic_sharpe"]["severity"] == severity


@pytest.mark.parametrize(
    ("p5", "p50", "severity"), [(0.0, 5.0, "info"), (-3.0, 5.0, "medium"), (-9.0, -1.0, "high")]
)
def test_bootstrap_severity_follows_the_band(p5, p50, severity):
    f = _by_id(_guardrails(p5=p5, p50=p50))["bt.bootstrap"]
    assert (f["severity"], f["evidence"]["value"]) == (severity, p5)


def test_deflated_sharpe_is_cited_only_for_a_selection_among_trials():
    one = DeflatedSharpe(0.9, 1, 0.0, 0.0)
    assert "bt.deflated_sharpe" not in _by_id(_guardrails(dsr=one))
    many = DeflatedSharpe(0.62, 50, 0.0004, 0.0451)
    f = _by_id(_guardrails(dsr=many))["bt.deflated_sharpe"]
    assert (f["severity"], f["evidence"]) == (
        "medium",
        {"metric": "deflatedSharpe", "value": 0.62, "threshold": 0.95},
    )
    assert [e["value"] for e in f["related"]] == [50, 0.0451, 0.0004]


@pytest.mark.parametrize(
    ("gap", "severity"),
    [
        (SampleGap(2.0, 1.5, 0.5, 0.75), "info"),
        (SampleGap(2.0, 0.6, 1.4, 0.3), "medium"),  # keeps 30 % < 50 %
        (SampleGap(2.0, -0.4, 2.4, -0.2), "high"),  # loses out of sample
        (SampleGap(-1.0, 0.3, -1.3, None), "info"),  # nothing in-sample to degrade
    ],
)
def test_walk_forward_gap(gap, severity):
    f = _by_id(_guardrails(gap=gap))["bt.walk_forward"]
    assert f["severity"] == severity
    assert f["evidence"] == {"metric": "walkForwardEfficiency", "value": gap.efficiency, "threshold": 0.5}
    assert [e["value"] for e in f["related"]] == [gap.in_sample_sharpe, gap.out_of_sample_sharpe, gap.gap]


def test_audit_cites_guardrails_and_the_narrative_quotes_them():
    eq = 100_000.0 * np.concatenate([[1.0], np.cumprod(1.0 + np.array([0.002, -0.001, 0.0015, 0.0005] * 50))])
    g = _guardrails(psr=0.8, p5=-3.0, gap=SampleGap(2.0, -0.4, 2.4, -0.2))
    ev = BacktestEvidence(eq, None, np.array([30.0, -10.0] * 20), 252.0, guardrails=g)
    report = audit_backtest(ev)
    flagged = {f.id: f.severity for f in report.findings if f.severity != "info"}
    assert flagged == {
        "bt.walk_forward": "high",
        "bt.probabilistic_sharpe": "medium",
        "bt.bootstrap": "medium",
    }
    assert report.score == 100 - 25 - 10 - 10
    narrative = deterministic_narrative(report.findings_dicts())
    texts = {s["cites"][0]: s["text"] for s in narrative["summary"][1:]}
    assert texts["bt.probabilistic_sharpe"] == (
        "The Sharpe ratio may be luck: probabilisticSharpe is 0.8 against a threshold of 0.95."
    )
    assert all(fid in RECOMMENDATIONS for fid in flagged)
    # without guardrails the audit is unchanged
    plain = audit_backtest(BacktestEvidence(eq, None, np.array([30.0, -10.0] * 20), 252.0))
    assert not {f.id for f in plain.findings} & {"bt.probabilistic_sharpe", "bt.bootstrap", "bt.walk_forward"}
