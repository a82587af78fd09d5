"""Every engine test here runs twice: on the numpy path and on the kernel path.

The kernel path is numba's compiled code when numba is installed; without numba the same kernel
functions run as plain Python (slow, but the logic is checked everywhere).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from backend.domain.backtest import kernels


@pytest.fixture(params=["numpy", "kernels"], autouse=True)
def engine_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Select the numpy path or the kernel path for the test."""
    monkeypatch.setitem(kernels._state, "enabled", request.param == "kernels")
    yield request.param
