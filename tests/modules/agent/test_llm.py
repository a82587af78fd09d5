"""Narrative writer against the fake server: citations, one retry, outages and backoff."""

import pytest

from backend.modules.agent.llm import LLMUnavailable, write_narrative

FINDINGS = [
    {
        "id": "bt.trade_count",
        "severity": "high",
        "title": "Too few trades for the claimed Sharpe ratio",
        "evidence": {"metric": "totalTrades", "value": 8, "threshold": 30},
        "related": [{"metric": "sharpeRatio", "value": 2.5, "threshold": 1.0}],
    },
]
GOOD = {
    "summary": [{"text": "Only 8 trades support a Sharpe of 2.5.", "cites": ["bt.trade_count"]}],
    "recommendations": [{"text": "Test until at least 30 trades close.", "cites": ["bt.trade_count"]}],
}
UNCITED = {"summary": [{"text": "This strategy is great.", "cites": []}], "recommendations": []}
WRONG_NUMBER = {
    "summary": [{"text": "It made 80 trades.", "cites": ["bt.trade_count"]}],
    "recommendations": [],
}


def _run(llm_settings, **kw):
    waits = []
    out = write_narrative(
        llm_settings,
        findings=FINDINGS,
        memories=kw.get("memories", []),
        context={"target": "backtest"},
        sleep=waits.append,
    )
    return out, waits


def test_good_answer_is_used(llm_settings, fake_openai):
    fake_openai.script(GOOD)
    out, _ = _run(llm_settings)
    assert out.source == "llm" and out.summary == GOOD["summary"]
    body = fake_openai.chat_requests()[0]
    assert body["model"] == "gpt-4o" and body["response_format"] == {"type": "json_object"}
    assert "bt.trade_count" in body["messages"][1]["content"]


def test_uncited_claim_is_rejected_once_then_retried(llm_settings, fake_openai):
    fake_openai.script(UNCITED, GOOD)
    out, _ = _run(llm_settings)
    assert out.source == "llm" and out.summary == GOOD["summary"]
    second = fake_openai.chat_requests()[1]["messages"]
    assert second[-1]["content"].startswith("Rejected: summary[0]: cites no finding")


def test_two_rejections_fall_back_to_the_plain_summary(llm_settings, fake_openai):
    fake_openai.script(WRONG_NUMBER, "not json at all")
    out, _ = _run(llm_settings)
    assert out.source == "deterministic"
    assert out.summary[1]["cites"] == ["bt.trade_count"]
    assert "rejected twice" in out.notes[0]
    assert len(fake_openai.chat_requests()) == 2


def test_transient_errors_are_retried_with_backoff(llm_settings, fake_openai):
    fake_openai.script(fake_openai.error(429), fake_openai.error(503), GOOD)
    out, waits = _run(llm_settings)
    assert out.source == "llm"
    assert waits == [0.0, 0.0]  # backoff_s 0 in tests; two waits before the third attempt


def test_backoff_doubles(fake_openai, llm_settings):
    from dataclasses import replace

    fake_openai.script(fake_openai.error(500), fake_openai.error(500), fake_openai.error(500))
    waits = []
    with pytest.raises(LLMUnavailable) as err:
        write_narrative(
            replace(llm_settings, backoff_s=0.5),
            findings=FINDINGS,
            memories=[],
            context={},
            sleep=waits.append,
        )
    assert waits == [0.5, 1.0]
    assert "after 3 attempts" in err.value.reason and "HTTP 500" in err.value.reason
    assert "sk-test-fake" not in err.value.reason


def test_auth_error_is_not_retried(llm_settings, fake_openai):
    fake_openai.script(fake_openai.error(401, "bad key sk-test-fake"))
    with pytest.raises(LLMUnavailable) as err:
        _run(llm_settings)
    assert len(fake_openai.chat_requests()) == 1
    assert "rejected" in err.value.reason and "sk-test-fake" not in err.value.reason


def test_memory_numbers_may_be_cited(llm_settings, fake_openai):
    mem = [{"id": "m1", "memory": "I cannot tolerate drawdowns over 15%"}]
    answer = {"summary": [{"text": "You cap drawdowns at 15%.", "cites": ["mem:m1"]}], "recommendations": []}
    fake_openai.script(answer)
    out, _ = _run(llm_settings, memories=mem)
    assert out.source == "llm"


def test_timeout_is_retried(llm_settings, fake_openai):
    from dataclasses import replace

    fake_openai.script(fake_openai.slow(1.5, GOOD), GOOD)
    waits = []
    out = write_narrative(
        replace(llm_settings, timeout_s=0.5), findings=FINDINGS, memories=[], context={}, sleep=waits.append
    )
    assert out.source == "llm" and waits == [0.0]
