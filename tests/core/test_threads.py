"""core.threads.beside: the work runs on another thread; the wait gives its result or its error."""

from __future__ import annotations

import threading

import pytest

from backend.core.threads import Handoff, Once, beside


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


def test_once_computes_for_the_first_taker_and_the_others_wait_for_it():
    calls: list[str] = []
    started, go = threading.Event(), threading.Event()

    def work(x: int) -> int:
        calls.append(threading.current_thread().name)
        started.set()
        go.wait(5)
        return x * 2

    once = Once(work, 21)
    first = beside(once.get)
    assert started.wait(5)
    second = beside(once.get)  # waits for the first taker's computation
    go.set()
    assert first() == second() == once.get() == 42
    assert len(calls) == 1


def test_once_gives_its_error_to_the_taker_that_ran_it_and_none_to_the_others():
    calls: list[int] = []

    def fail() -> int:
        calls.append(1)
        raise ValueError("boom")

    once = Once(fail)
    with pytest.raises(ValueError, match="boom"):
        once.get()
    assert once.get() is None and calls == [1]  # not computed again: the others cope without it


def test_once_taken_too_long_gives_none_after_its_bound():
    started, go = threading.Event(), threading.Event()

    def work() -> bool:
        started.set()
        return go.wait(5)

    once = Once(work, timeout_s=0.01)
    first = beside(once.get)  # holds the computation until go is set
    try:
        assert started.wait(5)
        assert once.get() is None  # the bound passed while the first taker computed
    finally:
        go.set()
    assert first() is True and once.get() is True
