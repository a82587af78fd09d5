"""The narrative writer: asks an OpenAI-compatible model for grounded, cited JSON.

The model sees only the findings and the user's memories. Its answer is checked by
``backend.domain.audit.citations``: an uncited sentence or a number the cited evidence does not
carry rejects it; one corrective retry, then the deterministic narrative is used instead.
Timeouts, connection errors, 429 and 5xx are retried with exponential backoff; when every
attempt fails ``LLMUnavailable`` is raised with a reason that never contains the key.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from backend.domain.audit.citations import MEMORY_PREFIX, narrative_problems
from backend.domain.audit.summary import deterministic_narrative

logger = logging.getLogger(__name__)

SYSTEM_PROMPT = """You are a careful risk analyst auditing a trading strategy or a company's statements.
Use ONLY the findings and memories you are given. Answer with one JSON object:
{"summary": [{"text": "<one sentence>", "cites": ["<finding id>", ...]}, ...],
 "recommendations": [{"text": "<one sentence>", "cites": ["<finding id>", ...]}, ...]}
Rules: every sentence cites at least one finding id (or "mem:<memory id>" for a memory);
every number you write must be a value or threshold from the evidence of what that sentence
cites (you may round it or write a fraction as a percent); never invent a number."""


class LLMUnavailable(Exception):
    """Raised when the model cannot be reached after every retry (or rejects the request)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class LLMSettings:
    """How to reach the model and how hard to retry."""

    api_key: str
    base_url: str | None
    model: str
    timeout_s: float = 30.0
    attempts: int = 3
    backoff_s: float = 1.0


@dataclass
class Narrative:
    """Summary and recommendation sentences with their citations, and where they came from."""

    summary: list[dict[str, Any]]
    recommendations: list[dict[str, Any]]
    source: str  # "llm" | "deterministic"
    notes: list[str] = field(default_factory=list)


def _client(s: LLMSettings) -> Any:
    from openai import OpenAI

    # Our own loop does the retries so the policy is explicit and testable.
    return OpenAI(api_key=s.api_key, base_url=s.base_url, timeout=s.timeout_s, max_retries=0)


def _retryable(exc: Exception) -> bool:
    import openai

    if isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError, openai.RateLimitError)):
        return True
    return isinstance(exc, openai.APIStatusError) and exc.status_code >= 500


def _describe(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    return f"{type(exc).__name__}" + (f" (HTTP {status})" if status else "")


def chat_json(
    s: LLMSettings, messages: list[dict[str, str]], sleep: Callable[[float], None] = time.sleep
) -> str:
    """Return the model's JSON text, retrying transient failures with backoff 1x, 2x, 4x..."""
    client = _client(s)
    last = "no attempt made"
    for attempt in range(max(1, s.attempts)):
        try:
            resp = client.chat.completions.create(
                model=s.model, messages=messages, temperature=0, response_format={"type": "json_object"}
            )
            return resp.choices[0].message.content or ""
        except Exception as exc:  # noqa: BLE001 - classified just below
            last = _describe(exc)
            if not _retryable(exc):
                raise LLMUnavailable(f"model request rejected: {last}") from None
            logger.warning("model call failed (%s), attempt %d/%d", last, attempt + 1, s.attempts)
            if attempt + 1 < s.attempts:
                sleep(s.backoff_s * (2**attempt))
    raise LLMUnavailable(f"model unavailable after {s.attempts} attempts: {last}")


def _user_message(
    findings: list[Mapping[str, Any]], memories: list[Mapping[str, Any]], context: dict[str, Any]
) -> str:
    mems = [{"id": MEMORY_PREFIX + str(m["id"]), "memory": m["memory"]} for m in memories]
    return json.dumps({"context": context, "findings": findings, "memories": mems})


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def write_narrative(
    s: LLMSettings,
    *,
    findings: list[Mapping[str, Any]],
    memories: list[Mapping[str, Any]],
    context: dict[str, Any],
    sleep: Callable[[float], None] = time.sleep,
) -> Narrative:
    """Ask for a cited narrative; retry once on a rejected answer, then fall back to the plain one."""
    messages = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": _user_message(findings, memories, context)},
    ]
    problems: list[str] = []
    for _ in range(2):
        text = chat_json(s, messages, sleep=sleep)
        answer = _parse(text)
        problems = narrative_problems(answer, findings, memories)
        if not problems:
            return Narrative(answer["summary"], answer.get("recommendations") or [], "llm")
        logger.info("narrative rejected: %s", "; ".join(problems[:5]))
        messages += [
            {"role": "assistant", "content": text},
            {
                "role": "user",
                "content": "Rejected: " + "; ".join(problems[:10]) + ". Rewrite following the rules exactly.",
            },
        ]
    plain = deterministic_narrative(findings)
    note = (
        "The model's narrative was rejected twice ("
        + "; ".join(problems[:3])
        + "); the plain summary is shown."
    )
    return Narrative(plain["summary"], plain["recommendations"], "deterministic", [note])
