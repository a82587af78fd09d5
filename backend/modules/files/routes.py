"""Files endpoints: upload, list, download (raw bytes, owner only), delete, and public files (avatars)."""

from __future__ import annotations

from urllib.parse import quote

from flask import Response, request
from flask.views import MethodView
from flask_jwt_extended import jwt_required

from backend.core.auth import current_user_id
from backend.core.envelope import EnvelopeBlueprint
from backend.core.pagination import PageArgs, paginated
from backend.modules.files import service
from backend.modules.files.models import StoredFile
from backend.modules.files.schemas import DOWNLOAD_RESPONSE, FileSchema, FileUploadSchema

blp = EnvelopeBlueprint(
    "files",
    __name__,
    url_prefix="/api/files",
    description="Uploads with content-checked types; owner-only download; public avatar images.",
)

TEXT_TYPES = {"text/csv", "text/plain", "text/x-python", "application/json"}


def download_response(row: StoredFile, data: bytes) -> Response:
    """Build the raw download: stored content type, attachment disposition, no sniffing."""
    ascii_name = "".join(
        c if c.isascii() and (c.isalnum() or c in "._- ") else "_" for c in row.original_name
    )
    mimetype = row.content_type + ("; charset=utf-8" if row.content_type in TEXT_TYPES else "")
    resp = Response(data, status=200, content_type=mimetype)
    resp.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(row.original_name, safe='')}"
    )
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


PUBLIC_CACHE = "public, max-age=31536000, immutable"  # a public file's bytes never change under its id


def public_response(row: StoredFile, data: bytes) -> Response:
    """Build the raw public image: inline, long-lived cache keyed by its sha256, no sniffing."""
    resp = Response(data, status=200, content_type=row.content_type)
    resp.headers["Content-Disposition"] = "inline"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    resp.headers["Cache-Control"] = PUBLIC_CACHE
    resp.set_etag(row.sha256)
    resp.make_conditional(request)  # a matching If-None-Match turns it into a bodiless 304
    return resp


@blp.route("")
class Files(MethodView):
    """The caller's files."""

    @jwt_required()
    @blp.arguments(FileUploadSchema, location="files")
    @blp.response(201, FileSchema)
    def post(self, args):
        """Upload a file (multipart part `file`; any other part is refused)."""
        service.refuse_other_parts(request.form.keys())
        upload = args["file"]
        return service.upload_file(actor_id=current_user_id(), filename=upload.filename, stream=upload.stream)

    @jwt_required()
    @blp.response(200, FileSchema(many=True))
    @paginated(blp)
    def get(self, paging: PageArgs):
        """List my files.

        Order: `createdAt` descending (newest first), then `id`.
        """
        return service.list_files(actor_id=current_user_id(), **paging)


@blp.route("/<id:file_id>")
class FileById(MethodView):
    """One file of the caller's."""

    @jwt_required()
    @blp.doc(responses={"200": DOWNLOAD_RESPONSE})
    def get(self, file_id: str):
        """Download the raw bytes of my file."""
        row, data = service.get_file_content(actor_id=current_user_id(), file_id=file_id)
        return download_response(row, data)

    @jwt_required()
    @blp.response(200)
    def delete(self, file_id: str):
        """Delete my file (row and bytes)."""
        service.delete_file(actor_id=current_user_id(), file_id=file_id)


@blp.route("/public/<uuid:file_id>")
@blp.doc(security=[])
@blp.response(200, {"type": "string", "format": "binary"}, content_type="image/*")
@blp.alt_response(304, description="Not modified (If-None-Match matched the ETag).")
def public_file(file_id):
    """Download a public file (an avatar image); no login needed.
    ---
    Only files made public for an avatar are served here; any other id is a 404, whoever asks.
    The bytes under an id never change, so the response may be cached for a year (ETag: sha256).
    """
    row, data = service.get_public_file_content(file_id=str(file_id))
    return public_response(row, data)
