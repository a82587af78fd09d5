"""Fail if anything under backend/domain imports outside stdlib, numpy, croniter, numba and backend.domain.

numpy carries the numeric arrays; croniter walks the workflow triggers' cron expressions; numba
compiles the backtest engine's per-bar kernels (backend/domain/backtest/kernels.py, optional: it is
imported through importlib and the numpy path runs without it; scripts/bench_engine.py shows the
gain). Why these and nothing else, and how to add one: docs/adr/0005-domain-dependencies.md.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ALLOWED_THIRD_PARTY = {"numpy", "croniter", "numba"}


def offending_imports(path: Path) -> list[str]:
    """Return the disallowed imports of one file as 'line: module'."""
    tree = ast.parse(path.read_text(), filename=str(path))
    bad = []
    stdlib = set(sys.stdlib_module_names)
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            if top in stdlib or top in ALLOWED_THIRD_PARTY or name.startswith("backend.domain"):
                continue
            bad.append(f"{node.lineno}: {name}")
    return bad


def main() -> int:
    failures = {
        str(p.relative_to(ROOT)): bad
        for p in sorted((ROOT / "backend" / "domain").rglob("*.py"))
        if (bad := offending_imports(p))
    }
    for path, bad in failures.items():
        for item in bad:
            print(f"{path}:{item} (domain code must stay pure)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
