"""HTTP contract of the users module."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from backend.core.schemas import BaseSchema, CamelSchema

USERNAME = validate.Regexp(
    r"^[A-Za-z0-9_.-]{3,32}$", error="3-32 characters: letters, digits, '_', '.', '-'."
)
PASSWORD = validate.Length(min=8, max=128)


class UserSchema(CamelSchema):
    """The contract's User (plus username and email for the owner)."""

    id = ma.fields.String()
    name = ma.fields.String()
    avatar = ma.fields.String(allow_none=True)
    level = ma.fields.Integer()
    username = ma.fields.String()
    email = ma.fields.String(allow_none=True)
    created_at = ma.fields.Integer()


class UserUpdateSchema(BaseSchema):
    """PATCH /api/users/me (all fields optional)."""

    name = ma.fields.String(validate=validate.Length(min=1, max=100))
    avatar = ma.fields.String(allow_none=True, validate=validate.Length(max=500))
    email = ma.fields.Email(allow_none=True)
    username = ma.fields.String(validate=USERNAME)
    password = ma.fields.String(load_only=True, validate=PASSWORD)
    current_password = ma.fields.String(load_only=True)

    @ma.validates_schema
    def _password_needs_current(self, data, **kwargs):
        if "password" in data and not data.get("current_password"):
            raise ma.ValidationError("Required to change the password.", "current_password")


class ApiKeyPutSchema(CamelSchema):
    """PUT /api/users/me/api-keys: store or replace the key for one exchange."""

    exchange = ma.fields.String(
        required=True,
        validate=validate.Regexp(r"^[a-z0-9_-]{2,40}$", error="2-40 lowercase letters, digits, '_' or '-'."),
    )
    api_key = ma.fields.String(required=True, validate=validate.Length(min=4, max=512))
    api_secret = ma.fields.String(validate=validate.Length(min=1, max=1024))
    label = ma.fields.String(validate=validate.Length(max=100))


class ApiKeySchema(CamelSchema):
    """A stored key, masked: the key's last four characters only, never the secret."""

    exchange = ma.fields.String()
    label = ma.fields.String(allow_none=True)
    api_key = ma.fields.Function(lambda row: "********" + row.key_last4)
    has_secret = ma.fields.Function(lambda row: row.secret_ciphertext is not None)
    created_at = ma.fields.Integer()
    updated_at = ma.fields.Integer()


class ApiKeyDeleteQuerySchema(BaseSchema):
    """DELETE /api/users/me/api-keys?exchange=..."""

    exchange = ma.fields.String(required=True)
