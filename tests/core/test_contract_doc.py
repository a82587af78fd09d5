"""docs/api-contract.md's endpoint table is generated from the live OpenAPI document."""

from __future__ import annotations

import re

from scripts.gen_api_contract import BEGIN, DOC, END, render_table


def test_contract_doc_matches_openapi(client):
    spec = client.get("/api/openapi.json").get_json()
    text = DOC.read_text()
    current = re.search(re.escape(BEGIN) + r"\n(.*?)\n" + re.escape(END), text, flags=re.S)
    assert current, "docs/api-contract.md lost its generated endpoint table"
    assert current.group(1) == render_table(spec), (
        "docs/api-contract.md is stale: run `make contract` (scripts/gen_api_contract.py)"
    )
