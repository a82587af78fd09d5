"""Write one named section of docs/performance.md, leaving the other sections untouched.

Each benchmark script owns a section delimited by ``<!-- BEGIN name -->`` and
``<!-- END name -->``. ``update_section`` replaces what is between the markers, or appends a new
section (and creates the file) when it is absent. Writes are atomic (temp file + rename) so two
scripts finishing at once never leave a half-written file.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

DOC_PATH = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
_HEADER = (
    "# Performance\n\n"
    "Figures written by the `scripts/bench_*.py` scripts; each owns one section below. "
    "Re-run a script to refresh its section.\n"
)
_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


def _markers(name: str) -> tuple[str, str]:
    """Return the begin/end marker lines of section ``name``."""
    return f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"


def render(text: str, name: str, markdown: str) -> str:
    """Return ``text`` with section ``name`` set to ``markdown`` (appended when absent)."""
    if not _NAME_RE.match(name):
        raise ValueError(f"section name {name!r} must match {_NAME_RE.pattern}")
    begin, end = _markers(name)
    block = f"{begin}\n{markdown.strip()}\n{end}"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        return pattern.sub(lambda _m: block, text, count=1)
    base = text if text.strip() else _HEADER
    return base.rstrip("\n") + "\n\n" + block + "\n"


def update_section(name: str, markdown: str, path: Path | str | None = None) -> Path:
    """Replace (or append) section ``name`` of docs/performance.md with ``markdown``."""
    target = Path(path) if path is not None else DOC_PATH
    target.parent.mkdir(parents=True, exist_ok=True)
    current = target.read_text(encoding="utf-8") if target.exists() else ""
    new_text = render(current, name, markdown)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".perfdoc-", suffix=".md")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(new_text)
    os.replace(tmp, target)
    return target


if __name__ == "__main__":  # pragma: no cover - manual use: perfdoc.py NAME < markdown
    import sys

    update_section(sys.argv[1], sys.stdin.read())
