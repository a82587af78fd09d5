"""Upload content sniffing: the allow-list is decided by the bytes, not only the name."""

from __future__ import annotations

import pytest

from backend.modules.files.sniff import SniffError, extension_of, sniff, sniff_image

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 20
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 20
PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n"


@pytest.mark.parametrize(
    ("data", "name", "expected"),
    [
        (PNG, "chart.png", "image/png"),
        (JPEG, "photo.JPG", "image/jpeg"),
        (JPEG, "photo.jpeg", "image/jpeg"),
        (PDF, "report.pdf", "application/pdf"),
        (b"time,open,close\n1,2.5,3\n2,3,4\n", "bars.csv", "text/csv"),
        (b"\xef\xbb\xbfa;b\r\n1;2\r\n", "bom.csv", "text/csv"),  # BOM and CRLF are fine
        (b'{"a": [1, 2.5, null]}', "params.json", "application/json"),
        (b"def on_bar(bars):\n    return 'buy'\n", "strategy.py", "text/x-python"),
        ("notes: \u00e9\u4e2d\n\tindented".encode(), "notes.txt", "text/plain"),
        (b"# Title\n", "readme.md", "text/plain"),
    ],
)
def test_allowed_kinds(data: bytes, name: str, expected: str) -> None:
    assert sniff(data, name) == expected


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (PDF, "fake.png"),  # extension says PNG, bytes say PDF
        (b"<html><script>", "evil.png"),
        (PNG, "image.jpg"),
        (b"MZ\x90\x00\x03", "tool.exe"),  # not on the allow-list at all
        (b"hello", "noextension"),
        (b"#!/bin/sh\nrm -rf /\n", "run.sh"),
        (PNG, "image.txt"),  # binary content under a text name
        (b"a,b\x00c\n", "nul.csv"),
        (b"\xff\xfe\x00bad", "bad.txt"),  # not UTF-8
        (b"{not json", "x.json"),
        (b'{"a": NaN}', "nan.json"),
        (b"def broken(:\n", "s.py"),
        (b"a,b,c\n1,2\n", "ragged.csv"),
        (b"\n\n", "empty.csv"),
    ],
)
def test_rejected(data: bytes, name: str) -> None:
    with pytest.raises(SniffError):
        sniff(data, name)


def test_extension_uses_only_the_last_path_component() -> None:
    assert extension_of("../../etc/passwd") == ""
    assert extension_of("..\\..\\boot.INI") == ".ini"
    assert extension_of("dir.png/evil") == ""
    assert extension_of("a.tar.CSV") == ".csv"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (PNG, "image/png"),
        (JPEG, "image/jpeg"),
        (b"GIF87a" + b"\x00" * 20, "image/gif"),
        (b"GIF89a" + b"\x00" * 20, "image/gif"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 20, "image/webp"),
    ],
)
def test_images_are_recognised_by_content_alone(data: bytes, expected: str) -> None:
    assert sniff_image(data) == expected


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        b"<html><img src=x onerror=alert(1)></html>",
        PDF,
        b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 20,  # RIFF, but audio
        b"GIF8",  # truncated magic
        b"\x89PNG",
    ],
)
def test_non_images_are_refused(data: bytes) -> None:
    with pytest.raises(SniffError):
        sniff_image(data)
