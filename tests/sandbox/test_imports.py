"""The sandbox package stays usable by any worker, and the guest code stays self-contained."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "backend" / "sandbox"
GUEST_ALLOWED = {"__future__", "builtins", "json", "linecache", "os", "resource", "struct", "sys"}
GUEST_ALLOWED |= {"traceback", "types", "typing", "numpy", "_indicators", "qyq"}


def _imports(path: Path) -> set[str]:
    """Return the top-level-qualified names ``path`` imports."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_package_imports_no_module_core_or_web_code() -> None:
    for path in PACKAGE.rglob("*.py"):
        for name in _imports(path):
            assert not name.startswith(("backend.modules", "backend.core", "backend.app", "flask")), (
                path,
                name,
            )
            assert not name.startswith(("sqlalchemy", "celery")), (path, name)


def test_guest_code_imports_only_the_stdlib_numpy_and_its_helpers() -> None:
    for path in (PACKAGE / "guest").glob("*.py"):
        roots = {name.split(".")[0] for name in _imports(path)}
        assert roots <= GUEST_ALLOWED, (path, roots - GUEST_ALLOWED)


def test_the_seccomp_script_imports_nothing_of_the_project() -> None:
    assert not any(name.startswith("backend") for name in _imports(PACKAGE / "seccomp_filter.py"))
