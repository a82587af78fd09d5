"""scripts/perfdoc.py: sections are created, replaced in place and never touch their neighbours."""

import pytest

from scripts import perfdoc


def test_sections_created_replaced_and_kept_apart(tmp_path):
    doc = tmp_path / "docs" / "performance.md"
    perfdoc.update_section("engine", "| a |\n", doc)
    perfdoc.update_section("workflows", "w1", doc)
    perfdoc.update_section("engine", "| b |", doc)
    text = doc.read_text()
    assert text.startswith("# Performance")
    assert "<!-- BEGIN engine -->\n| b |\n<!-- END engine -->" in text
    assert "| a |" not in text
    assert "<!-- BEGIN workflows -->\nw1\n<!-- END workflows -->" in text
    assert text.index("BEGIN engine") < text.index("BEGIN workflows")  # order kept


def test_replacement_text_is_literal(tmp_path):
    doc = tmp_path / "p.md"
    perfdoc.update_section("x", r"backslash \1 and \g<0>", doc)
    perfdoc.update_section("x", r"again \1", doc)
    assert r"again \1" in doc.read_text()


def test_bad_section_name_rejected(tmp_path):
    with pytest.raises(ValueError):
        perfdoc.update_section("has space", "x", tmp_path / "p.md")
