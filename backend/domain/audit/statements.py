"""Deterministic findings on a company's annual financial statements (two fiscal years).

Input: ``{"symbol"?, "marketCap"?, "current": {...}, "prior": {...}}`` where each period holds
amounts in one currency unit (any scale, the same for every field): see ``REQUIRED`` and
``OPTIONAL``. Ratios use end-of-period balances (the prior year is used only for the year-on-year
signals). Percent results are in percent. Models:
- Altman Z (1968, public manufacturers): 1.2 WC/TA + 1.4 RE/TA + 3.3 EBIT/TA + 0.6 MVE/TL
  + 1.0 Sales/TA; distress below 1.81, grey zone up to 2.99. MVE is ``marketCap`` when given,
  otherwise book equity (stated in the finding's title).
- Piotroski F (2000): nine 0/1 signals; 0..3 is weak.
- Beneish M (1999, eight variables): -4.84 + 0.920 DSRI + 0.528 GMI + 0.404 AQI + 0.892 SGI
  + 0.115 DEPI - 0.172 SGAI + 4.679 TATA - 0.327 LVGI; above -1.78 flags likely manipulation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from backend.domain.audit.backtest import AuditReport
from backend.domain.audit.findings import Evidence, Finding, score, sort_findings

REQUIRED = (
    "revenue",
    "costOfRevenue",
    "sga",
    "depreciation",
    "ebit",
    "interestExpense",
    "netIncome",
    "operatingCashFlow",
    "totalAssets",
    "currentAssets",
    "receivables",
    "ppe",
    "currentLiabilities",
    "longTermDebt",
    "totalLiabilities",
    "retainedEarnings",
    "sharesOutstanding",
)
OPTIONAL = ("inventory", "securities", "equity")
ALTMAN_DISTRESS, ALTMAN_SAFE = 1.81, 2.99
PIOTROSKI_WEAK = 3
BENEISH_FLAG = -1.78
MIN_CURRENT_RATIO = 1.0
MIN_INTEREST_COVERAGE = 1.5
MAX_DEBT_TO_EQUITY = 2.0

Period = dict[str, float]


class StatementsError(ValueError):
    """Raised when the statements miss a field or hold a value the models cannot use."""


def parse_period(raw: Any, name: str) -> Period:
    """Return one period as floats, defaulting inventory/securities to 0 and equity to TA - TL."""
    if not isinstance(raw, Mapping):
        raise StatementsError(f"{name} must be an object of amounts")
    missing = [k for k in REQUIRED if raw.get(k) is None]
    if missing:
        raise StatementsError(f"{name} is missing: {', '.join(missing)}")
    try:
        p = {k: float(raw[k]) for k in REQUIRED}
        for k in OPTIONAL:
            if raw.get(k) is not None:
                p[k] = float(raw[k])
    except (TypeError, ValueError) as exc:
        raise StatementsError(f"{name} has a non-numeric amount") from exc
    p.setdefault("inventory", 0.0)
    p.setdefault("securities", 0.0)
    p.setdefault("equity", p["totalAssets"] - p["totalLiabilities"])
    for k in ("revenue", "totalAssets", "currentLiabilities"):
        if p[k] <= 0:
            raise StatementsError(f"{name}.{k} must be positive")
    return p


def _div(a: float, b: float) -> float | None:
    return None if b == 0 else a / b


def ratios(p: Period) -> dict[str, float | None]:
    """Return the standard ratios of one period (margins and returns in percent)."""
    gross = p["revenue"] - p["costOfRevenue"]
    return {
        "currentRatio": _div(p["currentAssets"], p["currentLiabilities"]),
        "quickRatio": _div(p["currentAssets"] - p["inventory"], p["currentLiabilities"]),
        "debtToEquity": _div(p["totalLiabilities"], p["equity"]),
        "grossMarginPct": gross / p["revenue"] * 100.0,
        "netMarginPct": p["netIncome"] / p["revenue"] * 100.0,
        "roaPct": p["netIncome"] / p["totalAssets"] * 100.0,
        "roePct": _div(p["netIncome"] * 100.0, p["equity"]),
        "interestCoverage": _div(p["ebit"], p["interestExpense"]),
        "assetTurnover": p["revenue"] / p["totalAssets"],
    }


def altman_z(p: Period, market_cap: float | None) -> float:
    """Return the original Altman Z-score (market value of equity = market_cap or book equity)."""
    ta = p["totalAssets"]
    mve = market_cap if market_cap is not None else p["equity"]
    tl = p["totalLiabilities"] or 1e-12
    return (
        1.2 * (p["currentAssets"] - p["currentLiabilities"]) / ta
        + 1.4 * p["retainedEarnings"] / ta
        + 3.3 * p["ebit"] / ta
        + 0.6 * mve / tl
        + 1.0 * p["revenue"] / ta
    )


def piotroski_signals(cur: Period, pri: Period) -> dict[str, int]:
    """Return Piotroski's nine 0/1 signals (end-of-year assets as the ROA base)."""
    roa_c, roa_p = cur["netIncome"] / cur["totalAssets"], pri["netIncome"] / pri["totalAssets"]

    def gm(p: Period) -> float:
        return (p["revenue"] - p["costOfRevenue"]) / p["revenue"]

    return {
        "roaPositive": int(roa_c > 0),
        "cfoPositive": int(cur["operatingCashFlow"] > 0),
        "roaImproved": int(roa_c > roa_p),
        "cfoAboveNetIncome": int(cur["operatingCashFlow"] / cur["totalAssets"] > roa_c),
        "leverageFell": int(
            cur["longTermDebt"] / cur["totalAssets"] < pri["longTermDebt"] / pri["totalAssets"]
        ),
        "currentRatioRose": int(
            cur["currentAssets"] / cur["currentLiabilities"]
            > pri["currentAssets"] / pri["currentLiabilities"]
        ),
        "noNewShares": int(cur["sharesOutstanding"] <= pri["sharesOutstanding"]),
        "grossMarginRose": int(gm(cur) > gm(pri)),
        "assetTurnoverRose": int(cur["revenue"] / cur["totalAssets"] > pri["revenue"] / pri["totalAssets"]),
    }


def beneish_indices(cur: Period, pri: Period) -> dict[str, float]:
    """Return the eight Beneish indices (t = current year, t-1 = prior year)."""

    def gm(p: Period) -> float:
        return (p["revenue"] - p["costOfRevenue"]) / p["revenue"]

    def soft(p: Period) -> float:
        return 1 - (p["currentAssets"] + p["ppe"] + p["securities"]) / p["totalAssets"]

    def dep(p: Period) -> float:
        return p["depreciation"] / (p["depreciation"] + p["ppe"])

    def lev(p: Period) -> float:
        return (p["currentLiabilities"] + p["longTermDebt"]) / p["totalAssets"]

    def ratio(a: float, b: float) -> float:
        if b == 0:
            raise StatementsError("Beneish M needs non-zero prior-year receivables, margins and SG&A")
        return a / b

    return {
        "DSRI": ratio(cur["receivables"] / cur["revenue"], pri["receivables"] / pri["revenue"]),
        "GMI": ratio(gm(pri), gm(cur)),
        "AQI": ratio(soft(cur), soft(pri)),
        "SGI": cur["revenue"] / pri["revenue"],
        "DEPI": ratio(dep(pri), dep(cur)),
        "SGAI": ratio(cur["sga"] / cur["revenue"], pri["sga"] / pri["revenue"]),
        "TATA": (cur["netIncome"] - cur["operatingCashFlow"]) / cur["totalAssets"],
        "LVGI": ratio(lev(cur), lev(pri)),
    }


BENEISH_WEIGHTS = {
    "DSRI": 0.920,
    "GMI": 0.528,
    "AQI": 0.404,
    "SGI": 0.892,
    "DEPI": 0.115,
    "SGAI": -0.172,
    "TATA": 4.679,
    "LVGI": -0.327,
}


def beneish_m(indices: Mapping[str, float]) -> float:
    """Return the eight-variable Beneish M-score."""
    return -4.84 + sum(w * indices[k] for k, w in BENEISH_WEIGHTS.items())


def ratio_findings(r: Mapping[str, float | None]) -> list[Finding]:
    """Flag weak liquidity, coverage, leverage and losses; report the rest as information."""
    # (id, metric, threshold, is_bad(value), severity, bad title, ok title)
    rules: list[tuple[str, str, float, Callable[[float], bool], str, str, str]] = [
        (
            "fs.liquidity",
            "currentRatio",
            MIN_CURRENT_RATIO,
            lambda v: v < MIN_CURRENT_RATIO,
            "medium",
            "Current assets do not cover current liabilities",
            "Liquidity is adequate",
        ),
        (
            "fs.interest_coverage",
            "interestCoverage",
            MIN_INTEREST_COVERAGE,
            lambda v: v < MIN_INTEREST_COVERAGE,
            "high",
            "EBIT barely covers interest",
            "Interest is covered by EBIT",
        ),
        (
            "fs.leverage",
            "debtToEquity",
            MAX_DEBT_TO_EQUITY,
            lambda v: v < 0 or v > MAX_DEBT_TO_EQUITY,
            "medium",
            "Liabilities are high against equity",
            "Leverage is moderate",
        ),
        (
            "fs.profitability",
            "netMarginPct",
            0.0,
            lambda v: v < 0,
            "medium",
            "The company is losing money",
            "The company is profitable",
        ),
    ]
    out = []
    for fid, metric, thr, bad, sev, bad_title, ok_title in rules:
        v = r.get(metric)
        if v is None:
            continue
        out.append(
            Finding(
                fid, sev if bad(v) else "info", bad_title if bad(v) else ok_title, Evidence(metric, v, thr)
            )
        )
    others = tuple(Evidence(k, v) for k, v in r.items())
    out.append(Finding("fs.ratios", "info", "Standard ratios", others[0], others[1:]))
    return out


def model_findings(cur: Period, pri: Period, market_cap: float | None) -> list[Finding]:
    """Return the Altman Z, Piotroski F and Beneish M findings."""
    z = altman_z(cur, market_cap)
    z_note = "" if market_cap is not None else " (book equity used for market value)"
    z_ev = Evidence("altmanZ", z, ALTMAN_DISTRESS if z < ALTMAN_DISTRESS else ALTMAN_SAFE)
    if z < ALTMAN_DISTRESS:
        zf = Finding("fs.altman_z", "high", "Altman Z is in the distress zone" + z_note, z_ev)
    elif z <= ALTMAN_SAFE:
        zf = Finding("fs.altman_z", "medium", "Altman Z is in the grey zone" + z_note, z_ev)
    else:
        zf = Finding("fs.altman_z", "info", "Altman Z is in the safe zone" + z_note, z_ev)
    sig = piotroski_signals(cur, pri)
    f = sum(sig.values())
    f_ev = Evidence("piotroskiF", f, PIOTROSKI_WEAK)
    f_rel = tuple(Evidence(k, v) for k, v in sig.items())
    ff = (
        Finding("fs.piotroski_f", "medium", "Piotroski F shows weak fundamentals", f_ev, f_rel)
        if f <= PIOTROSKI_WEAK
        else Finding("fs.piotroski_f", "info", "Piotroski F is not weak", f_ev, f_rel)
    )
    idx = beneish_indices(cur, pri)
    m = beneish_m(idx)
    m_ev, m_rel = Evidence("beneishM", m, BENEISH_FLAG), tuple(Evidence(k, v) for k, v in idx.items())
    mf = (
        Finding("fs.beneish_m", "high", "Beneish M flags possible earnings manipulation", m_ev, m_rel)
        if m > BENEISH_FLAG
        else Finding("fs.beneish_m", "info", "Beneish M shows no manipulation signal", m_ev, m_rel)
    )
    return [zf, ff, mf]


def audit_statements(raw: Mapping[str, Any]) -> AuditReport:
    """Parse two years of statements, score them and return findings worst first."""
    if not isinstance(raw, Mapping):
        raise StatementsError("statements must be an object with current and prior periods")
    cur = parse_period(raw.get("current"), "current")
    pri = parse_period(raw.get("prior"), "prior")
    mcap = raw.get("marketCap")
    market_cap = float(mcap) if mcap is not None else None
    r = ratios(cur)
    findings = sort_findings(ratio_findings(r) + model_findings(cur, pri, market_cap))
    metrics = {k: v for k, v in r.items()}
    for f in findings:
        if f.id in ("fs.altman_z", "fs.piotroski_f", "fs.beneish_m"):
            metrics[f.evidence.metric] = f.evidence.value
    return AuditReport(findings=findings, score=score(findings), metrics=metrics)
