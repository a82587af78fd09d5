"""Every environment variable the code reads is documented in .env.example with a comment."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _read_variables() -> set[str]:
    names: set[str] = set()
    for path in [ROOT / "backend" / "config.py", ROOT / "scripts" / "dev.py", ROOT / "scripts" / "services.py"]:
        text = path.read_text()
        names |= set(re.findall(r'_(?:str|int|bool|list|float|decimal)\(env, "([A-Z0-9_]+)"', text))
        names |= set(re.findall(r'environ(?:\.get)?\(\s*"([A-Z0-9_]+)"', text))
        names |= set(re.findall(r'environ\["([A-Z0-9_]+)"\]', text))
    return names - {"XDG_RUNTIME_DIR"}


def test_every_setting_is_in_env_example():
    example = (ROOT / ".env.example").read_text().splitlines()
    documented = {}
    for i, line in enumerate(example):
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]+)=", line)
        if match:
            documented[match.group(1)] = i
    missing = sorted(_read_variables() - set(documented))
    assert not missing, f"add these to .env.example with a comment: {missing}"
    for name, i in documented.items():
        j = i - 1
        while j >= 0 and re.match(r"^#?\s*[A-Z][A-Z0-9_]+=", example[j]):
            j -= 1  # a group of related variables may share one comment
        assert j >= 0 and example[j].startswith("#"), f"{name} in .env.example has no comment above it"
