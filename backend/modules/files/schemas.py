"""HTTP contract of files: the multipart upload and the File object."""

from __future__ import annotations

import marshmallow as ma
from flask_smorest.fields import Upload

from backend.core.schemas import BaseSchema, CamelSchema, TimestampMs


class FileUploadSchema(BaseSchema):
    """Multipart body of POST /api/files: one part named `file`."""

    file = Upload(required=True)


class FileSchema(CamelSchema):
    """File metadata (the stored name on disk is never exposed)."""

    id = ma.fields.String()
    filename = ma.fields.String(attribute="original_name")
    content_type = ma.fields.String()
    size = ma.fields.Integer()
    sha256 = ma.fields.String()
    created_at = TimestampMs()
