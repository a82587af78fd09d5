"""Marketplace errors: each class says when to raise it."""

from __future__ import annotations

from backend.core.errors import Conflict, Invalid, NotFound


class ListingNotFound(NotFound):
    """Raise for an unknown, unpublished, hidden (for others) or someone else's unlisted strategy."""

    code = "marketplace.not_found"
    default_message = "Strategy not found in the marketplace."


class ReportNotFound(NotFound):
    """Raise when an abuse report id does not exist."""

    code = "marketplace.report_not_found"
    default_message = "Report not found."


class NotPublishable(Invalid):
    """Raise when a strategy cannot be published: no verified backtest of its current version,
    a kind the marketplace cannot copy, sealed for a kind without code, or a sealed copy."""

    code = "marketplace.not_publishable"
    default_message = "This strategy cannot be published."


class OwnStrategy(Invalid):
    """Raise when a user copies, follows or reports their own strategy."""

    code = "marketplace.own_strategy"
    default_message = "This is your own strategy."


class AlreadyReported(Conflict):
    """Raise when a user reports the same strategy a second time."""

    code = "marketplace.already_reported"
    default_message = "You have already reported this strategy."


class ReportClosed(Conflict):
    """Raise when an admin resolves or dismisses a report that is no longer open."""

    code = "marketplace.report_closed"
    default_message = "This report is already closed."
