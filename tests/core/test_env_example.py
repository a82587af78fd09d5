"""Every environment variable the code reads is documented in .env.example with a comment, and
every setting's default is declared once: in `Settings`, matching what .env.example shows."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from backend.config import Settings, env_variables, load_config

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENT = re.compile(r"^#?\s*([A-Z][A-Z0-9_]+)=(.*)$")


def _script_variables() -> set[str]:
    """Variables the dev scripts read straight from the environment (they start before the app)."""
    names: set[str] = set()
    for path in [ROOT / "scripts" / "dev.py", ROOT / "scripts" / "services.py"]:
        text = path.read_text()
        names |= set(re.findall(r'environ(?:\.get)?\(\s*"([A-Z0-9_]+)"', text))
        names |= set(re.findall(r'environ\["([A-Z0-9_]+)"\]', text))
    return names - {"XDG_RUNTIME_DIR"}


def _example() -> list[str]:
    return (ROOT / ".env.example").read_text().splitlines()


def _shown_values() -> dict[str, str]:
    """The value .env.example shows for each variable (a commented-out line shows the default too)."""
    return {m.group(1): m.group(2) for line in _example() if (m := ASSIGNMENT.match(line))}


def test_every_setting_is_in_env_example():
    example = _example()
    documented = {}
    for i, line in enumerate(example):
        match = ASSIGNMENT.match(line)
        if match:
            documented[match.group(1)] = i
    missing = sorted((set(env_variables()) | _script_variables()) - set(documented))
    assert not missing, f"add these to .env.example with a comment: {missing}"
    for name, i in documented.items():
        j = i - 1
        while j >= 0 and ASSIGNMENT.match(example[j]):
            j -= 1  # a group of related variables may share one comment
        assert j >= 0 and example[j].startswith("#"), f"{name} in .env.example has no comment above it"


def test_the_variable_list_comes_from_the_fields():
    variables = env_variables()
    assert variables["APP_ENV"].name == "ENV" and variables["DATABASE_URL"].name == "SQLALCHEMY_DATABASE_URI"
    assert variables["JWT_ACCESS_TOKEN_EXPIRES_S"].name == "JWT_ACCESS_TOKEN_EXPIRES"
    assert variables["BACKTEST_MAX_ACTIVE"].name == "BACKTEST_MAX_ACTIVE"
    # Constants of the app: config keys (overridable by create_app) but never read from the environment.
    assert {"ENV", "VERSION", "RATELIMIT_DEFAULT"}.isdisjoint(variables)
    read = {f.name for f in variables.values()}
    assert {f.name for f in fields(Settings)} - read == {"VERSION", "RATELIMIT_DEFAULT"}


def test_loading_nothing_gives_the_declared_defaults():
    assert load_config({}) == Settings()


@pytest.mark.parametrize("variable", sorted(env_variables()))
def test_env_example_shows_the_default(variable: str):
    """The value .env.example shows, read by the real loader, is the field's default: no drift."""
    field = env_variables()[variable]
    shown = _shown_values()[variable]
    assert getattr(load_config({variable: shown}), field.name) == getattr(Settings(), field.name), (
        f"{variable}={shown} in .env.example differs from the default of Settings.{field.name}"
    )


def test_module_code_declares_no_second_default():
    """Settings are read as config["KEY"] (a misspelt key fails): a `.get("KEY", default)` would drift."""
    names = {f.name for f in fields(Settings)}
    offenders = []
    for path in sorted((ROOT / "backend").rglob("*.py")):
        if path.name == "config.py" and path.parent.name == "backend":
            continue
        text = path.read_text()
        for name in re.findall(r'\.get\(\s*"([A-Z][A-Z0-9_]*)"', text):
            if name in names:
                offenders.append(f"{path.relative_to(ROOT)}: .get({name!r})")
    assert not offenders, f"read these as current_app.config[KEY]; the default lives in Settings: {offenders}"
