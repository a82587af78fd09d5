"""Errors of the auth module."""

from backend.core.errors import Forbidden, Unauthorized


class InvalidCredentials(Unauthorized):
    """Raise when a login's username/email and password do not match (never say which)."""

    reason = "invalid_credentials"
    code = "auth.invalid_credentials"
    default_message = "Invalid username or password."


class RefreshTokenReused(Unauthorized):
    """Raise when a refresh token is presented a second time: the whole login family is revoked."""

    reason = "token_revoked"
    code = "auth.refresh_token_reused"
    default_message = "This refresh token was already used; the session has been revoked. Log in again."


class AccountDisabled(Forbidden):
    """Raise when the right credentials (or a refresh token) belong to a user an admin disabled."""

    reason = "account_disabled"
    code = "auth.account_disabled"
    default_message = "This account has been disabled by an administrator."
