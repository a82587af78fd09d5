"""Errors of the backtests module."""

from __future__ import annotations

from backend.core.errors import Conflict, Invalid, NotFound, RateLimited


class BacktestNotFound(NotFound):
    """Raise when a backtest (or its job) does not exist or the caller may not see it."""

    code = "backtests.not_found"
    default_message = "Backtest not found."


class InvalidBacktest(Invalid):
    """Raise when the run request breaks a rule (range, symbol, strategy definition)."""

    code = "backtests.invalid"
    default_message = "The backtest request is invalid."


class TooManyBars(Invalid):
    """Raise when the requested range holds more bars than BACKTEST_MAX_BARS allows."""

    code = "backtests.too_many_bars"
    default_message = "The requested range holds too many bars."


class NotCancellable(Conflict):
    """Raise when cancelling a backtest that already finished."""

    code = "backtests.not_cancellable"
    default_message = "This backtest has already finished."


class TooManyActive(RateLimited):
    """Raise when the caller already has BACKTEST_MAX_ACTIVE queued or running backtests."""

    code = "backtests.too_many_active"
    default_message = "Too many backtests are already queued or running; wait for one to finish."


class SweepNotFound(NotFound):
    """Raise when a sweep (or one of its runs) does not exist or the caller may not see it."""

    code = "backtests.sweep_not_found"
    default_message = "Sweep not found."


class InvalidSweep(Invalid):
    """Raise when a sweep request breaks a rule (space, method, objective, heatmap axes)."""

    code = "backtests.invalid_sweep"
    default_message = "The sweep request is invalid."


class SweepTooLarge(Invalid):
    """Raise when a sweep would make more runs than SWEEP_MAX_RUNS allows."""

    code = "backtests.sweep_too_large"
    default_message = "The sweep makes too many runs."


class SweepNotCancellable(Conflict):
    """Raise when cancelling a sweep that already finished."""

    code = "backtests.sweep_not_cancellable"
    default_message = "This sweep has already finished."


class NotCompleted(Conflict):
    """Raise when a chart or a reproduction asks for the result of a backtest that has not completed."""

    code = "backtests.not_completed"
    reason = "not_completed"
    default_message = "This backtest has no result yet (it has not completed)."
