"""The deterministic narrative: plain sentences built only from the findings, each citing them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

RECOMMENDATIONS = {
    "bt.trade_count": "Extend the test period or widen the universe until the strategy closes enough trades.",
    "bt.drawdown_vs_return": (
        "Reduce position size or add a stop so the worst drawdown is smaller than the return."
    ),
    "bt.outlier_trades": "Re-test without the best trades and check that the edge does not rest on them.",
    "bt.cost_sensitivity": "Trade less often or on cheaper venues; model realistic fees and slippage.",
    "bt.out_of_sample": (
        "Treat the parameters as over-fitted; validate on data the strategy was not tuned on."
    ),
    "bt.flat_period": "Check whether the strategy's signals only fit one market regime.",
    "bt.over_exposure": "Cap position size at the account equity or document the leverage explicitly.",
    "bt.probabilistic_sharpe": "Test on more data: the Sharpe ratio is not yet distinguishable from luck.",
    "bt.deflated_sharpe": (
        "Count every variant tried and demand a Sharpe ratio above what the best trial gets by luck."
    ),
    "bt.bootstrap": "Size for the bootstrap's 5th percentile, not for the one path the backtest took.",
    "bt.walk_forward": "Re-tune less often or on fewer parameters: the in-sample choice does not carry over.",
    "fs.liquidity": "Check short-term funding: current liabilities exceed current assets.",
    "fs.interest_coverage": "Review debt service: operating profit barely covers interest.",
    "fs.leverage": "Review the balance sheet: liabilities are high against equity.",
    "fs.profitability": "Investigate the loss drivers before relying on the balance sheet.",
    "fs.altman_z": "Treat bankruptcy risk as material and read the debt notes.",
    "fs.piotroski_f": "Fundamentals are weakening; compare with peers before investing.",
    "fs.beneish_m": "Examine receivables, accruals and revenue recognition for manipulation.",
}


def _fmt(v: Any) -> str:
    return "n/a" if v is None else f"{v:g}" if isinstance(v, float) else str(v)


def _sentence(f: Mapping[str, Any]) -> dict[str, Any]:
    ev = f["evidence"]
    limit = "" if ev.get("threshold") is None else f" against a threshold of {_fmt(ev['threshold'])}"
    text = f"{f['title']}: {ev['metric']} is {_fmt(ev.get('value'))}{limit}."
    return {"text": text, "cites": [f["id"]]}


def deterministic_narrative(findings: list[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Return ``{summary, recommendations}`` sentences, each citing the finding it restates."""
    flagged = [f for f in findings if f["severity"] != "info"]
    if flagged:
        head = {
            "text": "The audit raised the issues below, worst first.",
            "cites": [f["id"] for f in flagged],
        }
        body = [_sentence(f) for f in flagged]
    else:
        head = {"text": "No check raised an issue.", "cites": [f["id"] for f in findings]}
        body = [_sentence(f) for f in findings[:3]]
    recs = [
        {"text": RECOMMENDATIONS[f["id"]], "cites": [f["id"]]} for f in flagged if f["id"] in RECOMMENDATIONS
    ]
    return {"summary": [head, *body], "recommendations": recs}
