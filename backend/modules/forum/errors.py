"""Forum errors: each class says when to raise it."""

from __future__ import annotations

from backend.core.errors import Forbidden, Invalid, NotFound


class PostNotFound(NotFound):
    """Raise when a post id does not exist."""

    code = "forum.post_not_found"
    default_message = "Post not found."


class CommentNotFound(NotFound):
    """Raise when a comment id does not exist."""

    code = "forum.comment_not_found"
    default_message = "Comment not found."


class NotAuthor(Forbidden):
    """Raise when someone other than the author changes or deletes a post or comment."""

    code = "forum.not_author"
    default_message = "Only the author can do this."


class CannotFollowSelf(Invalid):
    """Raise when a user tries to follow themselves."""

    code = "forum.cannot_follow_self"
    default_message = "You cannot follow yourself."


class InvalidTip(Invalid):
    """Raise when a tip breaks a rule the schema cannot check (maximum, own post)."""

    code = "forum.invalid_tip"
    default_message = "This tip is not allowed."


class AttachmentUnavailable(Invalid):
    """Raise when the backtest/strategy is not the author's, not verified, or cannot be read."""

    code = "forum.attachment_unavailable"
    default_message = "This attachment is not available."
