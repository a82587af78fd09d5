"""HTTP contract of files: the multipart upload and the File object."""

from __future__ import annotations

import marshmallow as ma
from flask_smorest.fields import Upload

from backend.core.schemas import BaseSchema, CamelSchema, TimestampMs
from backend.modules.files.sniff import BINARY_KINDS, TEXT_KINDS


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


# The raw bytes of GET /api/files/{id}, in the content type the upload was sniffed as.
DOWNLOAD_RESPONSE = {
    "description": "The raw bytes (not enveloped), `Content-Disposition: attachment`.",
    "content": {
        content_type: {"schema": {"type": "string", "format": "binary"}}
        for content_type in sorted({t for _magic, t in BINARY_KINDS.values()} | set(TEXT_KINDS.values()))
    },
}
