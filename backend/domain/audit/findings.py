"""Finding records and the 0..100 audit score shared by every audit kind.

A finding carries the exact numbers it came from: ``evidence.metric`` names the quantity (its
unit is part of the name, e.g. ``maxDrawdownPct``), ``evidence.value`` is the measured number
and ``evidence.threshold`` the limit it was compared with (``None`` for plain information).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("high", "medium", "low", "info")
PENALTY = {"high": 25, "medium": 10, "low": 4, "info": 0}
_DIGITS = 4


def _clean(x: float | int | None) -> float | int | None:
    """Round a number to 4 decimals so the evidence is exactly what a reader sees."""
    if x is None:
        return None
    if isinstance(x, bool):
        return int(x)
    if isinstance(x, int):
        return x
    x = float(x)
    if not math.isfinite(x):
        return None
    return round(x, _DIGITS)


@dataclass(frozen=True)
class Evidence:
    """The metric name, its measured value and the threshold it was judged against."""

    metric: str
    value: float | int | None
    threshold: float | int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the wire form ``{metric, value, threshold}``."""
        return {"metric": self.metric, "value": _clean(self.value), "threshold": _clean(self.threshold)}


@dataclass(frozen=True)
class Finding:
    """One deterministic observation; ``id`` is stable so narratives can cite it."""

    id: str
    severity: str
    title: str
    evidence: Evidence
    extra: tuple[Evidence, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}")

    def to_dict(self) -> dict[str, Any]:
        """Return the wire form ``{id, severity, title, evidence}`` (plus ``related`` numbers)."""
        out: dict[str, Any] = {
            "id": self.id,
            "severity": self.severity,
            "title": self.title,
            "evidence": self.evidence.to_dict(),
        }
        if self.extra:
            out["related"] = [e.to_dict() for e in self.extra]
        return out


def score(findings: list[Finding]) -> int:
    """Return 100 minus the severity penalties (high 25, medium 10, low 4), floored at 0."""
    return max(0, 100 - sum(PENALTY[f.severity] for f in findings))


def evidence_numbers(finding: dict[str, Any]) -> list[float]:
    """Return every number a wire-form finding carries (evidence and related values/thresholds)."""
    items = [finding.get("evidence") or {}] + list(finding.get("related") or [])
    nums: list[float] = []
    for ev in items:
        for key in ("value", "threshold"):
            v = ev.get(key)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                nums.append(float(v))
    return nums


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Order findings by severity (high first), keeping the check order inside a severity."""
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(findings, key=lambda f: rank[f.severity])
