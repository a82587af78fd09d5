"""Fault tests: kill, freeze and restart the servers under a live app (`make faults`).

Every test here starts its own throwaway Postgres, Redis, API and worker on free loopback ports
(``tests/faults/servers.py``), never the shared servers. They take a minute or two, so the plain
``make test`` deselects them; ``make faults`` (``pytest -m faults tests/faults``) runs them, and
``.ci/run`` calls it after ``make test``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.faults.servers import ApiServer, Stack, start_stack


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "faults: kills/restarts throwaway servers (make faults; slow)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect fault tests unless the run selects them by marker (``-m faults``)."""
    if "faults" in (config.getoption("markexpr") or ""):
        return
    keep = [item for item in items if item.get_closest_marker("faults") is None]
    if len(keep) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i.get_closest_marker("faults")])
        items[:] = keep


FIGURES: list[str] = []


@pytest.fixture
def figure() -> Callable[[str], None]:
    """Record a measured figure; `make faults` prints them all in its summary."""
    return FIGURES.append


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FIGURES:
        terminalreporter.section("fault figures")
        for line in FIGURES:
            terminalreporter.write_line(line)


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """A throwaway Postgres + Redis with the schema migrated (one per test module)."""
    s = start_stack()
    yield s
    s.close()


@pytest.fixture(scope="module")
def api(stack: Stack) -> Iterator[ApiServer]:
    """The API under gunicorn against the module's stack."""
    server = ApiServer(stack.env)
    server.start()
    yield server
    server.stop()
