"""Files errors: each class says when to raise it."""

from __future__ import annotations

from backend.core.errors import Invalid, NotFound, TooLarge, Unsupported


class FileNotFound(NotFound):
    """Raise when a file id does not exist or belongs to someone else."""

    code = "files.not_found"
    default_message = "File not found."


class FileTooLarge(TooLarge):
    """Raise when an upload exceeds FILES_MAX_BYTES."""

    code = "files.too_large"
    default_message = "The file is too large."


class FileTypeNotAllowed(Unsupported):
    """Raise when the upload's content is not on the allow-list or does not match its name."""

    code = "files.type_not_allowed"
    default_message = "This file type is not accepted."


class EmptyUpload(Invalid):
    """Raise when the multipart `file` part is missing or empty."""

    code = "files.empty"
    default_message = "The upload is empty."
