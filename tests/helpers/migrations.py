"""Load one migration's module by its file name, for tests that call its functions directly."""

from __future__ import annotations

import importlib.util
from types import ModuleType

from backend.app import MIGRATIONS_DIR


def load_migration(name: str) -> ModuleType:
    """Return the module of ``versions/<name>.py`` (e.g. ``0033_backtest_trade_blocks``), freshly executed."""
    path = f"{MIGRATIONS_DIR}/versions/{name}.py"
    spec = importlib.util.spec_from_file_location(f"m{name[:4]}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
