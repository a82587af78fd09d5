"""Errors of the users module."""

from backend.core.errors import Conflict, Invalid, NotFound


class UserNotFound(NotFound):
    """Raise when a user id is unknown."""

    code = "users.not_found"
    default_message = "User not found."


class UsernameTaken(Conflict):
    """Raise when registering or renaming to a username that exists (case-insensitive)."""

    reason = "username_taken"
    code = "users.username_taken"
    default_message = "This username is already taken."


class EmailTaken(Conflict):
    """Raise when an email address is already registered (case-insensitive)."""

    reason = "email_taken"
    code = "users.email_taken"
    default_message = "This email address is already registered."


class WrongPassword(Invalid):
    """Raise when a password change does not present the correct current password."""

    code = "users.wrong_password"
    default_message = "The current password is not correct."


class ApiKeyNotFound(NotFound):
    """Raise when the caller has no stored key for that exchange."""

    code = "users.api_key_not_found"
    default_message = "No API key is stored for this exchange."


class AvatarNotAllowed(Invalid):
    """Raise when PATCH /api/users/me names an avatar URL the user may not use."""

    code = "users.avatar_not_allowed"
    default_message = "The avatar must be an https URL or the URL of your own uploaded avatar."
