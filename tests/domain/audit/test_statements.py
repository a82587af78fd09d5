"""Statements scoring on a worked example computed by hand (figures in the comments)."""

import copy

import pytest

from backend.domain.audit.statements import StatementsError, audit_statements

CURRENT = {
    "revenue": 1000,
    "costOfRevenue": 600,
    "sga": 150,
    "depreciation": 50,
    "ebit": 200,
    "interestExpense": 40,
    "netIncome": 120,
    "operatingCashFlow": 150,
    "totalAssets": 2000,
    "currentAssets": 800,
    "receivables": 200,
    "inventory": 100,
    "ppe": 900,
    "currentLiabilities": 400,
    "longTermDebt": 500,
    "totalLiabilities": 1000,
    "retainedEarnings": 600,
    "sharesOutstanding": 100,
}
PRIOR = {
    "revenue": 900,
    "costOfRevenue": 560,
    "sga": 140,
    "depreciation": 45,
    "ebit": 170,
    "interestExpense": 40,
    "netIncome": 90,
    "operatingCashFlow": 110,
    "totalAssets": 1900,
    "currentAssets": 700,
    "receivables": 160,
    "inventory": 100,
    "ppe": 880,
    "currentLiabilities": 400,
    "longTermDebt": 520,
    "totalLiabilities": 980,
    "retainedEarnings": 500,
    "sharesOutstanding": 100,
}
EXAMPLE = {"symbol": "ACME", "marketCap": 1500, "current": CURRENT, "prior": PRIOR}


def by_id(report):
    return {f["id"]: f for f in report.findings_dicts()}


def test_standard_ratios():
    m = audit_statements(EXAMPLE).metrics
    # 800/400, (800-100)/400, 1000/(2000-1000), 400/1000, 120/1000, 120/2000, 120/1000, 200/40, 1000/2000
    assert m["currentRatio"] == pytest.approx(2.0)
    assert m["quickRatio"] == pytest.approx(1.75)
    assert m["debtToEquity"] == pytest.approx(1.0)
    assert m["grossMarginPct"] == pytest.approx(40.0)
    assert m["netMarginPct"] == pytest.approx(12.0)
    assert m["roaPct"] == pytest.approx(6.0)
    assert m["roePct"] == pytest.approx(12.0)
    assert m["interestCoverage"] == pytest.approx(5.0)
    assert m["assetTurnover"] == pytest.approx(0.5)


def test_altman_z_grey_zone():
    # 1.2*0.2 + 1.4*0.3 + 3.3*0.1 + 0.6*1.5 + 1.0*0.5 = 0.24+0.42+0.33+0.90+0.50 = 2.39
    f = by_id(audit_statements(EXAMPLE))["fs.altman_z"]
    assert f["evidence"]["value"] == pytest.approx(2.39)
    assert f["severity"] == "medium"
    assert f["evidence"]["threshold"] == 2.99


def test_piotroski_all_nine_signals():
    # ROA 6% > 0, CFO 150 > 0, ROA 6% > 4.74%, CFO/TA 7.5% > 6%, LTD/TA 25% < 27.37%,
    # CR 2.0 > 1.75, shares 100 <= 100, GM 40% > 37.78%, turnover 0.5 > 0.4737  -> F = 9
    f = by_id(audit_statements(EXAMPLE))["fs.piotroski_f"]
    assert f["evidence"] == {"metric": "piotroskiF", "value": 9, "threshold": 3}
    assert f["severity"] == "info"


def test_beneish_m_by_hand():
    # DSRI 1.125, GMI 0.944444, AQI 0.890625, SGI 1.111111, DEPI 0.924324, SGAI 0.964286,
    # TATA -0.015, LVGI 0.929348 -> M = -4.84 + 2.450949 = -2.389051
    f = by_id(audit_statements(EXAMPLE))["fs.beneish_m"]
    idx = {e["metric"]: e["value"] for e in f["related"]}
    assert idx["DSRI"] == pytest.approx(1.125)
    assert idx["AQI"] == pytest.approx(0.890625, abs=1e-4)
    assert idx["DEPI"] == pytest.approx(0.9243, abs=1e-4)
    assert idx["LVGI"] == pytest.approx(0.9293, abs=1e-4)
    assert f["evidence"]["value"] == pytest.approx(-2.3891, abs=1e-4)
    assert f["severity"] == "info"


def test_worked_example_score():
    report = audit_statements(EXAMPLE)
    flagged = [f.id for f in report.findings if f.severity != "info"]
    assert flagged == ["fs.altman_z"]
    assert report.score == 90


def test_receivables_jump_and_negative_cash_flow_raise_red_flags():
    bad = copy.deepcopy(EXAMPLE)
    bad["current"]["receivables"] = 400  # DSRI 0.4 / 0.17778 = 2.25
    bad["current"]["operatingCashFlow"] = -20  # TATA (120 + 20) / 2000 = 0.07
    f = by_id(audit_statements(bad))
    # M = -2.389051 + 0.92*(2.25-1.125) + 4.679*(0.07+0.015) = -0.956336
    assert f["fs.beneish_m"]["evidence"]["value"] == pytest.approx(-0.9563, abs=1e-4)
    assert f["fs.beneish_m"]["severity"] == "high"
    # CFO > 0 and CFO/TA > ROA both fail: F = 7
    assert f["fs.piotroski_f"]["evidence"]["value"] == 7


def test_book_equity_used_without_market_cap():
    no_cap = {k: v for k, v in EXAMPLE.items() if k != "marketCap"}
    f = by_id(audit_statements(no_cap))["fs.altman_z"]
    # MVE/TL = 1000/1000 -> Z = 2.39 - 0.6*0.5 = 2.09
    assert f["evidence"]["value"] == pytest.approx(2.09)
    assert "book equity" in f["title"]


def test_distress_and_coverage_flags():
    weak = copy.deepcopy(EXAMPLE)
    weak["current"].update(ebit=20, netIncome=-30, retainedEarnings=-200, currentAssets=300)
    weak["marketCap"] = 200
    f = by_id(audit_statements(weak))
    # Z = 1.2*(-0.05) + 1.4*(-0.1) + 3.3*0.01 + 0.6*0.2 + 0.5 = 0.453
    assert f["fs.altman_z"]["evidence"]["value"] == pytest.approx(0.453)
    assert f["fs.altman_z"]["severity"] == "high"
    assert f["fs.interest_coverage"]["evidence"]["value"] == 0.5  # 20 / 40
    assert f["fs.interest_coverage"]["severity"] == "high"
    assert f["fs.liquidity"]["severity"] == "medium"  # 300 / 400 = 0.75
    assert f["fs.profitability"]["severity"] == "medium"


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"current": {"revenue": 1}, "prior": PRIOR}, "current is missing"),
        ({"current": CURRENT}, "prior must be an object"),
        ({"current": {**CURRENT, "revenue": "abc"}, "prior": PRIOR}, "non-numeric"),
        ({"current": {**CURRENT, "totalAssets": 0}, "prior": PRIOR}, "totalAssets must be positive"),
    ],
)
def test_bad_statements_are_rejected(raw, message):
    with pytest.raises(StatementsError, match=message):
        audit_statements(raw)
