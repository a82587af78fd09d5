"""core.threads.beside: the work runs on another thread; the wait gives its result or its error."""

from __future__ import annotations

import threading

import pytest

from backend.core.threads import beside


def test_beside_runs_on_another_thread_and_the_wait_returns_its_result():
    started = threading.Event()
    go = threading.Event()

    def work(a: int, b: int) -> tuple[int, str]:
        started.set()
        go.wait(5)
        return a + b, threading.current_thread().name

    wait = beside(work, 2, 3)
    assert started.wait(5)  # running while the caller goes on
    go.set()
    total, name = wait()
    assert total == 5 and name != threading.current_thread().name and name.startswith("beside-work")


def test_the_wait_reraises_the_work_error():
    def fail() -> None:
        raise ValueError("boom")

    wait = beside(fail)
    with pytest.raises(ValueError, match="boom"):
        wait()
