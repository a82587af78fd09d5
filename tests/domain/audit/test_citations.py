"""Citation enforcement: every sentence cites findings and quotes only their numbers."""

from backend.domain.audit.citations import narrative_problems, numbers_in, render
from backend.domain.audit.summary import deterministic_narrative

FINDINGS = [
    {
        "id": "bt.trade_count",
        "severity": "high",
        "title": "Too few trades",
        "evidence": {"metric": "totalTrades", "value": 8, "threshold": 30},
        "related": [{"metric": "sharpeRatio", "value": 2.5, "threshold": 1.0}],
    },
    {
        "id": "bt.drawdown_vs_return",
        "severity": "high",
        "title": "Drawdown large",
        "evidence": {"metric": "returnToDrawdown", "value": 0.4, "threshold": 1.0},
        "related": [{"metric": "maxDrawdownPct", "value": -30.0, "threshold": None}],
    },
]
MEMORIES = [{"id": "m-1", "memory": "I cannot tolerate drawdowns over 15%"}]


def _answer(*sentences, recs=()):
    return {"summary": list(sentences), "recommendations": list(recs)}


def test_grounded_answer_is_accepted():
    answer = _answer(
        {"text": "Only 8 trades back a Sharpe of 2.5, below the 30 needed.", "cites": ["bt.trade_count"]},
        {"text": "The return is only 0.4 times the 30% drawdown.", "cites": ["bt.drawdown_vs_return"]},
        recs=[{"text": "Keep drawdowns under 15% as you asked.", "cites": ["mem:m-1"]}],
    )
    assert narrative_problems(answer, FINDINGS, MEMORIES) == []


def test_uncited_sentence_is_rejected():
    answer = _answer({"text": "The strategy looks fine.", "cites": []})
    assert narrative_problems(answer, FINDINGS) == ["summary[0]: cites no finding"]


def test_unknown_id_is_rejected():
    answer = _answer({"text": "Bad.", "cites": ["bt.made_up"]})
    assert "unknown ids" in narrative_problems(answer, FINDINGS)[0]


def test_contradicting_number_is_rejected():
    answer = _answer({"text": "It made 45 trades.", "cites": ["bt.trade_count"]})
    assert narrative_problems(answer, FINDINGS) == ["summary[0]: number 45 is not in the cited evidence"]


def test_number_from_an_uncited_finding_is_rejected():
    answer = _answer({"text": "A Sharpe of 2.5 and a 30% drawdown.", "cites": ["bt.drawdown_vs_return"]})
    assert narrative_problems(answer, FINDINGS) == ["summary[0]: number 2.5 is not in the cited evidence"]


def test_negative_number_must_keep_its_sign():
    ok = _answer({"text": "Max drawdown -30%.", "cites": ["bt.drawdown_vs_return"]})
    wrong = _answer({"text": "Ratio -0.4.", "cites": ["bt.drawdown_vs_return"]})
    assert narrative_problems(ok, FINDINGS) == []
    assert narrative_problems(wrong, FINDINGS) != []


def test_shape_errors():
    assert narrative_problems("text", FINDINGS) == ["answer is not a JSON object"]
    assert narrative_problems({"summary": []}, FINDINGS) == [
        "summary must be a non-empty list",
        "recommendations must be a list",
    ]


def test_numbers_in_reads_commas_and_decimals():
    assert numbers_in("1,250.5 and -3 and 7%") == [(1250.5, 1), (-3.0, 0), (7.0, 0)]
    assert numbers_in("bt.trade_count") == []


def test_deterministic_narrative_passes_its_own_check():
    narrative = deterministic_narrative(FINDINGS)
    assert narrative_problems(narrative, FINDINGS) == []
    assert render(narrative["summary"])[1].endswith("[bt.trade_count]")
    assert [r["cites"] for r in narrative["recommendations"]] == [
        ["bt.trade_count"],
        ["bt.drawdown_vs_return"],
    ]
