"""Test configuration: core fixture plugins, plus every module's tests/fixtures/<name>.py."""

from __future__ import annotations

from pathlib import Path

import pytest

# Fixture modules import each other (agent uses fake_openai); rewrite their asserts either way.
pytest.register_assert_rewrite("tests.fixtures", "tests.helpers")

_FIXTURES = Path(__file__).parent / "fixtures"

pytest_plugins = [
    "tests.fixtures.core_db",
    "tests.fixtures.core_auth",
    "tests.fixtures.core_celery",
] + sorted(
    f"tests.fixtures.{p.stem}"
    for p in _FIXTURES.glob("*.py")
    if p.stem != "__init__" and not p.stem.startswith("core_")
)


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "integration: uses committed data and/or a real Celery worker")
    config.addinivalue_line("markers", "comparison: compares the engine with a reference engine")
