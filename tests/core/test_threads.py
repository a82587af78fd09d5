"""core.threads.beside: the work runs on another thread; the wait gives its result or its error."""

from __future__ import annotations

import threading

import pytest

from backend.core.threads import Handoff, beside


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


def test_a_handoff_passes_one_value_to_a_waiting_thread():
    handoff = Handoff()
    got = beside(handoff.get)  # waits on its thread until the value is put
    handoff.put([1, 2])
    handoff.put("ignored")  # the first value counts
    assert got() == [1, 2] and handoff.get() == [1, 2]


def test_a_handoff_never_put_gives_none_after_its_bound():
    assert Handoff(timeout_s=0.01).get() is None
