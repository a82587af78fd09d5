"""HTTP contract of the users module."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import validate

from backend.core.schemas import BaseSchema, CamelSchema
from backend.modules.users import service

USERNAME = validate.Regexp(
    r"^[A-Za-z0-9_.-]{3,32}$", error="3-32 characters: letters, digits, '_', '.', '-'."
)
PASSWORD = validate.Length(min=8, max=128)
# An avatar a user sets: an https URL, or an absolute path of this API (checked by the service:
# the user's own default or own uploaded image). No javascript:, data:, http: or relative URLs.
_URL_CHARS = r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+"
# A list, not validate.And, so that the OpenAPI document states the length and the pattern too.
AVATAR_URL = [
    validate.Length(max=500),
    validate.Regexp(
        rf"^(https://[A-Za-z0-9.-]+(:[0-9]{{1,5}})?(/{_URL_CHARS})?|/api/{_URL_CHARS})$",
        error="An https URL, or the URL of your own uploaded avatar.",
    ),
]
BIO = validate.Length(max=500)
# A BCP 47 language tag of the common shapes: language, optional script, optional region
# (en, en-US, zh-Hans-CN, es-419). Longer tags (variants, extensions) are refused.
LOCALE = [
    validate.Length(min=2, max=35),
    validate.Regexp(
        r"^[A-Za-z]{2,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?$",
        error="A language tag like en, en-US, zh-Hans-CN or es-419.",
    ),
]


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _known_zone(value: str) -> bool:
    if value not in _zones():
        raise ma.ValidationError("Not an IANA time zone name (e.g. Europe/Paris, Asia/Shanghai, UTC).")
    return True


TIMEZONE: list[Callable[[Any], Any]] = [
    validate.Length(min=1, max=64),
    validate.Regexp(r"^[A-Za-z0-9_+\-/]+$", error="An IANA time zone name like Europe/Paris."),
    _known_zone,
]
AVATAR_DESCRIPTION = (
    "Avatar URL, never null: the uploaded image (`/api/files/public/{id}`), the https URL the user "
    "set, or the generated default (`/api/users/{id}/avatar.svg`)."
)


class UserSchema(CamelSchema):
    """The contract's User (plus username and email for the owner)."""

    id = ma.fields.String()
    name = ma.fields.String()
    avatar = ma.fields.Function(
        service.avatar_url, metadata={"type": "string", "description": AVATAR_DESCRIPTION}
    )
    level = ma.fields.Integer()
    username = ma.fields.String()
    email = ma.fields.String(allow_none=True)
    created_at = ma.fields.Integer()
    bio = ma.fields.String(allow_none=True)
    timezone = ma.fields.String(allow_none=True, metadata={"description": "IANA zone, e.g. Europe/Paris."})
    locale = ma.fields.String(allow_none=True, metadata={"description": "BCP 47 tag, e.g. zh-CN."})
    onboarding_completed_at = ma.fields.Integer(
        allow_none=True, metadata={"description": "When onboarding was completed (Unix ms), or null."}
    )


class UserUpdateSchema(BaseSchema):
    """PATCH /api/users/me: any subset (at least one) of the fields; `password` needs `current_password`."""

    class Meta:
        openapi = {
            "minProperties": 1,
            "anyOf": [{"not": {"required": ["password"]}}, {"required": ["current_password"]}],
        }

    name = ma.fields.String(validate=validate.Length(min=1, max=100))
    avatar = ma.fields.String(
        allow_none=True,
        validate=AVATAR_URL,
        metadata={
            "description": "An https URL, the URL of your own uploaded avatar, or null (or your default "
            "avatar's URL) for the generated default. Upload an image with PUT /api/users/me/avatar."
        },
    )
    email = ma.fields.Email(allow_none=True)
    username = ma.fields.String(validate=USERNAME)
    password = ma.fields.String(load_only=True, validate=PASSWORD)
    current_password = ma.fields.String(load_only=True, validate=validate.Length(min=1, max=128))
    bio = ma.fields.String(allow_none=True, validate=BIO, metadata={"description": "At most 500 characters."})
    timezone = ma.fields.String(allow_none=True, validate=TIMEZONE)
    locale = ma.fields.String(allow_none=True, validate=LOCALE)

    @ma.validates_schema
    def _not_empty(self, data, **kwargs):
        if not data:
            raise ma.ValidationError("Give at least one field to change.", "_schema")

    @ma.validates_schema
    def _password_needs_current(self, data, **kwargs):
        if "password" in data and not data.get("current_password"):
            raise ma.ValidationError("Required to change the password.", "current_password")


class PasswordChangeSchema(CamelSchema):
    """POST /api/users/me/password: the current password and the new one (same rule as registration)."""

    current_password = ma.fields.String(
        required=True, load_only=True, validate=validate.Length(min=1, max=128)
    )
    new_password = ma.fields.String(required=True, load_only=True, validate=PASSWORD)


class PasswordChangedSchema(CamelSchema):
    """Result of a password change: how many other sessions were ended."""

    sessions_ended = ma.fields.Integer()


class AccountDeleteSchema(BaseSchema):
    """DELETE /api/users/me: the password confirms the deletion."""

    password = ma.fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=128))


# The image types an avatar may be (decided on the bytes by the files module), as the part's encoding.
AVATAR_TYPES = "image/png, image/jpeg, image/webp, image/gif"


class AvatarUploadSchema(BaseSchema):
    """Multipart body of PUT /api/users/me/avatar: one image part named `file` (any other part is refused)."""

    file = Upload(
        required=True, metadata={"description": "PNG, JPEG, WebP or GIF; at most AVATAR_MAX_BYTES."}
    )


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
