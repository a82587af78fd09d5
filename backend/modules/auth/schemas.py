"""HTTP contract of the auth module."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from backend.core.schemas import BaseSchema
from backend.modules.users import service as users_service
from backend.modules.users.schemas import PASSWORD, USERNAME, UserSchema


class LoginSchema(BaseSchema):
    """POST /api/auth/login: `username` (or `email`) and `password`."""

    class Meta:
        openapi = {"anyOf": [{"required": ["username"]}, {"required": ["email"]}]}  # as `_one_identifier`

    username = ma.fields.String(validate=validate.Length(min=1, max=254))
    email = ma.fields.String(validate=validate.Length(min=1, max=254))
    password = ma.fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=128))

    @ma.validates_schema
    def _one_identifier(self, data, **kwargs):
        if not data.get("username") and not data.get("email"):
            raise ma.ValidationError("Give a username or an email.", "username")


class RegisterSchema(BaseSchema):
    """POST /api/auth/register."""

    username = ma.fields.String(required=True, validate=USERNAME)
    password = ma.fields.String(required=True, load_only=True, validate=PASSWORD)
    email = ma.fields.Email(load_default=None)


class TokenSchema(BaseSchema):
    """Tokens issued by login, register and refresh."""

    access_token = ma.fields.String()
    refresh_token = ma.fields.String()
    token_type = ma.fields.String(metadata={"example": "Bearer"})
    expires_in = ma.fields.Integer(metadata={"description": "Access token lifetime in seconds."})
    user = ma.fields.Nested(UserSchema)


class RegisterResultSchema(UserSchema):
    """The new User, plus its first tokens (the contract's "User (+ tokens)").

    The User fields are camelCase; the token fields keep TokenSchema's snake_case names.
    """

    avatar = ma.fields.String()  # type: ignore[assignment]  # _flatten applies users' URL rule
    access_token = ma.fields.String(data_key="access_token")
    refresh_token = ma.fields.String(data_key="refresh_token")
    token_type = ma.fields.String(data_key="token_type", metadata={"example": "Bearer"})
    expires_in = ma.fields.Integer(data_key="expires_in")
    user = ma.fields.Nested(UserSchema)

    @ma.pre_dump
    def _flatten(self, pair, **kwargs):
        user = pair.user
        return {
            "id": user.id,
            "name": user.name,
            "avatar": users_service.avatar_url(user),
            "level": user.level,
            "username": user.username,
            "email": user.email,
            "created_at": user.created_at,
            "access_token": pair.access_token,
            "refresh_token": pair.refresh_token,
            "token_type": pair.token_type,
            "expires_in": pair.expires_in,
            "user": user,
        }
