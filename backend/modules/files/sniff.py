"""Decide an upload's type from its bytes, checked against its name's extension.

The allow-list: CSV, JSON, plain text, Python strategy source, PNG, JPEG, PDF. Binary kinds are
recognised by magic bytes; text kinds must be UTF-8 without control characters and must parse as
what the extension claims (JSON parses, Python compiles to an AST without running, CSV rows have
a consistent column count). Images made public as avatars are recognised by their content alone
(``sniff_image``: PNG, JPEG, WebP, GIF). Pure: no Flask, no I/O.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import os
import re

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
PDF_MAGIC = b"%PDF-"
GIF_MAGICS = (b"GIF87a", b"GIF89a")

BINARY_KINDS = {  # extension -> (magic, content type)
    ".png": (PNG_MAGIC, "image/png"),
    ".jpg": (JPEG_MAGIC, "image/jpeg"),
    ".jpeg": (JPEG_MAGIC, "image/jpeg"),
    ".pdf": (PDF_MAGIC, "application/pdf"),
}
TEXT_KINDS = {
    ".csv": "text/csv",
    ".json": "application/json",
    ".py": "text/x-python",
    ".txt": "text/plain",
    ".md": "text/plain",
}
ALLOWED_EXTENSIONS = tuple(sorted({*BINARY_KINDS, *TEXT_KINDS}))
# Tab, LF, FF and CR are normal in text; any other C0 control (or DEL) means it is not text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


class SniffError(ValueError):
    """Raised when the content is not one of the allowed kinds or does not match its extension."""


def extension_of(filename: str) -> str:
    """Return the lower-cased extension of the name's last path component ('' when none)."""
    base = re.split(r"[\\/]", filename or "")[-1]
    return os.path.splitext(base)[1].lower()


def sniff(data: bytes, filename: str) -> str:
    """Return the content type of ``data`` named ``filename`` or raise SniffError."""
    ext = extension_of(filename)
    if ext in BINARY_KINDS:
        magic, content_type = BINARY_KINDS[ext]
        if not data.startswith(magic):
            raise SniffError(f"The content is not a valid {ext[1:].upper()} file.")
        return content_type
    if ext in TEXT_KINDS:
        text = decode_text(data)
        _TEXT_CHECKS[ext](text)
        return TEXT_KINDS[ext]
    allowed = ", ".join(ALLOWED_EXTENSIONS)
    raise SniffError(f"Files of this type are not accepted (allowed: {allowed}).")


def sniff_image(data: bytes) -> str:
    """Return the image content type of ``data`` (PNG, JPEG, WebP or GIF) or raise SniffError.

    Decided on the bytes only (the client's name and type are not trusted). SVG is never an image
    here: it can carry script.
    """
    if data.startswith(PNG_MAGIC):
        return "image/png"
    if data.startswith(JPEG_MAGIC):
        return "image/jpeg"
    if data.startswith(GIF_MAGICS):
        return "image/gif"
    if len(data) >= 16 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    raise SniffError("The content is not a PNG, JPEG, WebP or GIF image.")


def decode_text(data: bytes) -> str:
    """Return ``data`` decoded as UTF-8 text, or raise SniffError if it is binary."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SniffError("The content is not UTF-8 text.") from exc
    if _CONTROL.search(text):
        raise SniffError("The content contains binary control characters.")
    return text


def check_json(text: str) -> None:
    """Raise SniffError unless ``text`` is one strict JSON document (no NaN/Infinity)."""

    def reject_constant(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    try:
        json.loads(text, parse_constant=reject_constant)
    except ValueError as exc:
        raise SniffError("The content is not valid JSON.") from exc


def check_python(text: str) -> None:
    """Raise SniffError unless ``text`` parses as Python source (parsed only, never run)."""
    try:
        ast.parse(text)
    except (SyntaxError, ValueError) as exc:
        raise SniffError("The content is not valid Python source.") from exc


def check_csv(text: str) -> None:
    """Raise SniffError unless ``text`` has rows with one consistent column count."""
    try:
        rows = [row for row in csv.reader(io.StringIO(text, newline="")) if row]
    except csv.Error as exc:
        raise SniffError("The content is not valid CSV.") from exc
    if not rows:
        raise SniffError("The CSV file has no rows.")
    width = len(rows[0])
    if any(len(row) != width for row in rows):
        raise SniffError("The CSV rows do not all have the same number of columns.")


def check_text(text: str) -> None:
    """Accept any text that survived decoding."""


_TEXT_CHECKS = {
    ".csv": check_csv,
    ".json": check_json,
    ".py": check_python,
    ".txt": check_text,
    ".md": check_text,
}
