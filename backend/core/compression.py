"""Gzip for the caches' large entries: compressed once per entry, finished per response.

A success envelope is ``head + data + tail``: the head (``{"code":0,"message":"ok","data":``) is
the same for every response, ``data`` is a cache entry a process keeps (`core/showcase.py`'s
copies), and only the tail carries the request's id. `Gzipped` deflates ``head + data`` once and
ends its stream with a sync flush, which leaves it byte-aligned and not final. A response then
appends the tail as stored (uncompressed) deflate blocks, the last one final, and the gzip
trailer: the CRC-32 continued over the tail from the one kept for ``head + data``, and the length.
The result is one ordinary gzip member, the same bytes a client decompresses as it would any other
(tested with the stdlib's decoders, which check the CRC and the length).

What a response costs: the tail's CRC and a join, a few microseconds, where compressing a
160 KB body would take ~3 ms; what it saves: sending ~75 % fewer bytes (the dashboard's
``backtests/latest``: ~160 KB of numbers). Only a request whose ``Accept-Encoding`` accepts gzip
gets it (`accepts_gzip`); every answer that could have been either carries
``Vary: Accept-Encoding``.
"""

from __future__ import annotations

import struct
import zlib

# ID1 ID2, CM=deflate, no flags, MTIME 0 (none), XFL 0, OS 255 (unknown): RFC 1952, 2.3.
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
_STORED_MAX = 0xFFFF  # a stored block's longest payload (RFC 1951, 3.2.4)
LEVEL = 6  # zlib's default: ~3 ms for 160 KB of JSON, once per entry
MIN_BYTES = 1024  # smaller data is sent as it is (a gzip member's overhead is ~20 bytes)


def stored_blocks(data: bytes, *, final: bool) -> bytes:
    """Return ``data`` as stored deflate blocks, starting at a byte boundary; the last is final if
    ``final``. (Each block's first byte holds BFINAL and BTYPE=00, then padding to the boundary.)"""
    chunks = [data[i : i + _STORED_MAX] for i in range(0, len(data), _STORED_MAX)] or [b""]
    out: list[bytes] = []
    for i, chunk in enumerate(chunks):
        last = final and i == len(chunks) - 1
        out += (struct.pack("<BHH", 1 if last else 0, len(chunk), len(chunk) ^ 0xFFFF), chunk)
    return b"".join(out)


class Gzipped:
    """``head + data`` deflated once; `body` finishes it into a gzip member with any tail."""

    __slots__ = ("crc", "head", "prefix", "size")

    def __init__(self, head: bytes, data: bytes, level: int = LEVEL) -> None:
        deflate = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)  # raw deflate, no zlib wrapper
        self.prefix = b"".join(
            (_GZIP_HEADER, deflate.compress(head), deflate.compress(data), deflate.flush(zlib.Z_SYNC_FLUSH))
        )
        self.head = head
        self.crc = zlib.crc32(data, zlib.crc32(head))
        self.size = len(head) + len(data)

    def body(self, tail: bytes) -> bytes:
        """Return the gzip member of ``head + data + tail``."""
        trailer = struct.pack("<II", zlib.crc32(tail, self.crc), (self.size + len(tail)) & 0xFFFFFFFF)
        return b"".join((self.prefix, stored_blocks(tail, final=True), trailer))


class GzipMemo:
    """A place for one entry's `Gzipped`, built by the first response that wants it.

    Two threads may both build it (the same bytes; the last one kept, an attribute assignment
    being atomic): nothing waits on another's compression. A different head (it never changes
    within a process) builds it again.
    """

    __slots__ = ("_gzipped",)

    def __init__(self) -> None:
        self._gzipped: Gzipped | None = None

    def get(self, head: bytes, data: bytes) -> Gzipped:
        """Return ``head + data`` deflated, built once."""
        gzipped = self._gzipped
        if gzipped is None or gzipped.head != head:
            gzipped = self._gzipped = Gzipped(head, data)
        return gzipped


_ANSWERS: dict[str, bool] = {}  # accept_encoding -> accepted (clients send a handful of values)
_ANSWERS_MAX = 256


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` header's value accepts gzip (RFC 9110, 12.5.3: ``gzip`` or
    ``*`` with a non-zero quality, ``x-gzip`` as ``gzip``). Answers are remembered (bounded)."""
    answer = _ANSWERS.get(accept_encoding)
    if answer is None:
        answer = _accepts_gzip(accept_encoding)
        if len(_ANSWERS) >= _ANSWERS_MAX:
            _ANSWERS.clear()
        _ANSWERS[accept_encoding] = answer
    return answer


def _accepts_gzip(accept_encoding: str) -> bool:
    if not accept_encoding:
        return False
    best: float | None = None  # an explicit gzip's quality wins over a wildcard's
    wildcard: float | None = None
    for item in accept_encoding.split(","):
        name, _, params = item.strip().partition(";")
        name = name.strip().lower()
        if name not in ("gzip", "x-gzip", "*"):
            continue
        quality = _quality(params)
        if name == "*":
            wildcard = quality if wildcard is None else max(wildcard, quality)
        else:
            best = quality if best is None else max(best, quality)
    chosen = best if best is not None else wildcard
    return chosen is not None and chosen > 0


def _quality(params: str) -> float:
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.strip().lower() == "q":
            try:
                q = float(value.strip())
            except ValueError:
                return 0.0  # a malformed weight: not acceptable rather than guessed
            return q if 0.0 <= q <= 1.0 else 0.0
    return 1.0
