"""`on_commit` and `on_rollback`: what a `@transactional` function runs after it commits or rolls back."""

from __future__ import annotations

import pytest

from backend.core.db import on_commit, on_rollback, transactional


def test_rollback_callbacks_run_when_the_body_fails_and_never_after_a_commit(app):
    ran: list[str] = []

    @transactional
    def fails() -> None:
        on_commit(lambda: ran.append("commit"))
        on_rollback(lambda: ran.append("rollback"))
        raise ValueError("boom")

    @transactional
    def succeeds() -> None:
        on_commit(lambda: ran.append("commit"))
        on_rollback(lambda: ran.append("rollback"))

    with app.app_context():
        with pytest.raises(ValueError):
            fails()
        assert ran == ["rollback"]
        succeeds()
        assert ran == ["rollback", "commit"]
        with pytest.raises(ValueError):
            fails()  # the callback left by the committed call is gone
        assert ran == ["rollback", "commit", "rollback"]


def test_a_failing_rollback_callback_does_not_hide_the_original_error(app, caplog):
    def broken() -> None:
        raise OSError("disk gone")

    @transactional
    def fails() -> None:
        on_rollback(broken)
        raise ValueError("the real cause")

    with app.app_context(), pytest.raises(ValueError, match="the real cause"):
        fails()
    assert "on_rollback callback failed" in caplog.text
