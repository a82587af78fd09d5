"""Check that a narrative only states numbers its cited findings (or memories) carry.

A narrative is ``{"summary": [Sentence], "recommendations": [Sentence]}`` with
``Sentence = {"text": str, "cites": [finding id or "mem:<memory id>"]}``. Every sentence must cite
at least one known id, and every number in its text must equal (after the rounding the text
shows) a number carried by what it cites: an evidence value or threshold, its absolute value,
or the same expressed as a percent (x 100). Memories contribute the numbers in their text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from backend.domain.audit.findings import evidence_numbers

_NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:,\d{3})*(?:\.\d+)?")
MEMORY_PREFIX = "mem:"


def numbers_in(text: str) -> list[tuple[float, int]]:
    """Return (value, decimals shown) for every number written in ``text``."""
    out = []
    for tok in _NUMBER.findall(text or ""):
        clean = tok.replace(",", "")
        decimals = len(clean.split(".")[1]) if "." in clean else 0
        out.append((float(clean), decimals))
    return out


def _matches(x: float, decimals: int, allowed: Iterable[float]) -> bool:
    # A positive number may quote a magnitude ("a 25 % drawdown"); a negative one must keep its sign.
    tol = 0.5 * 10 ** (-decimals) + 1e-9
    for v in allowed:
        for c in (v, v * 100.0):
            target = abs(c) if x >= 0 else c
            if abs(x - target) <= tol:
                return True
    return False


def _sources(findings: list[Mapping[str, Any]], memories: list[Mapping[str, Any]]) -> dict[str, list[float]]:
    src = {f["id"]: evidence_numbers(dict(f)) for f in findings}
    for m in memories:
        src[MEMORY_PREFIX + str(m["id"])] = [v for v, _ in numbers_in(str(m.get("memory", "")))]
    return src


def sentence_problems(sentence: Any, sources: Mapping[str, list[float]], where: str) -> list[str]:
    """Return why one sentence is not grounded (empty when it is)."""
    if not isinstance(sentence, Mapping) or not isinstance(sentence.get("text"), str):
        return [f"{where}: not an object with a text"]
    cites = sentence.get("cites")
    if not isinstance(cites, list) or not cites:
        return [f"{where}: cites no finding"]
    unknown = [c for c in cites if c not in sources]
    if unknown:
        return [f"{where}: cites unknown ids {unknown}"]
    allowed = [v for c in cites for v in sources[c]]
    return [
        f"{where}: number {x:g} is not in the cited evidence"
        for x, d in numbers_in(sentence["text"])
        if not _matches(x, d, allowed)
    ]


def narrative_problems(
    answer: Any, findings: list[Mapping[str, Any]], memories: list[Mapping[str, Any]] | None = None
) -> list[str]:
    """Return every grounding problem of ``answer`` (an empty list means it is accepted)."""
    if not isinstance(answer, Mapping):
        return ["answer is not a JSON object"]
    sources = _sources(findings, memories or [])
    problems: list[str] = []
    for part in ("summary", "recommendations"):
        items = answer.get(part)
        if not isinstance(items, list) or (part == "summary" and not items):
            need = "a non-empty list" if part == "summary" else "a list"
            problems.append(f"{part} must be {need}")
            continue
        for i, s in enumerate(items):
            problems += sentence_problems(s, sources, f"{part}[{i}]")
    return problems


def render(sentences: list[Mapping[str, Any]]) -> list[str]:
    """Return each sentence's text followed by its citations in brackets."""
    return [f"{s['text'].rstrip()} [{', '.join(s['cites'])}]" for s in sentences]
