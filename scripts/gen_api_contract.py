"""Regenerate the endpoint table of docs/api-contract.md from the live OpenAPI document.

The table sits between `<!-- BEGIN endpoints -->` and `<!-- END endpoints -->`; everything else
in the file is prose kept by hand. `tests/core/test_contract_doc.py` fails when the table is
stale, so the document and the OpenAPI page never drift: run `make contract` after API changes.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "api-contract.md"
BEGIN, END = "<!-- BEGIN endpoints -->", "<!-- END endpoints -->"
METHODS = ("get", "post", "put", "patch", "delete")


def _status(op: dict) -> str:
    codes = sorted(c for c in op.get("responses", {}) if c.startswith("2"))
    return codes[0] if codes else "200"


def list_order(op: dict) -> str:
    """Return the documented order of a list operation (its description's ``Order:`` paragraph)."""
    found = re.search(r"^Order: (.*?)(?:\n\s*\n|\Z)", op.get("description", ""), flags=re.S | re.M)
    return re.sub(r"\s+", " ", found.group(1)).strip() if found else ""


def render_table(spec: dict) -> str:
    """Return the markdown table of every documented operation, grouped by path (lists name their order)."""
    rows = ["| Method | Path | Auth | Success | Summary |", "|---|---|---|---|---|"]
    for path in sorted(spec["paths"]):
        for method in METHODS:
            op = spec["paths"][path].get(method)
            if op is None:
                continue
            public = op.get("security", spec.get("security")) == []
            summary = re.sub(r"\s+", " ", op.get("summary", "")).strip()
            if order := list_order(op):
                summary += f" *Order:* {order}"
            rows.append(
                f"| {method.upper()} | `{path}` | {'public' if public else 'bearer'} | "
                f"{_status(op)} | {summary} |"
            )
    return "\n".join(rows)


def spec_from_app() -> dict:
    from backend.app import create_app

    app = create_app()
    with app.test_request_context():
        return app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()


def replace_section(text: str, table: str) -> str:
    """Return `text` with the generated section replaced by `table`."""
    block = f"{BEGIN}\n{table}\n{END}"
    if BEGIN in text and END in text:
        return re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    return text.rstrip() + "\n\n" + block + "\n"


def main() -> int:
    DOC.write_text(replace_section(DOC.read_text(), render_table(spec_from_app())))
    print(f"updated {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
