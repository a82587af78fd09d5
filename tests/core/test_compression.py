"""core/compression: a gzip member built from a once-deflated prefix and a per-response tail."""

from __future__ import annotations

import gzip
import os
import zlib

import pytest

from backend.core.compression import GzipMemo, Gzipped, accepts_gzip, stored_blocks

HEAD = b'{"code":0,"message":"ok","data":'


def _inflate_stream(body: bytes) -> bytes:
    """Decompress one gzip member the way an HTTP client streams it; it must end exactly there."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = d.decompress(body) + d.flush()
    assert d.eof and d.unused_data == b""
    return out


@pytest.mark.parametrize(
    "data",
    [
        b"[]",
        b'{"kline":[' + b",".join(b"[%d,1.5,2.25,0.75,1.0]" % i for i in range(20_000)) + b"]}",
        os.urandom(200_000).hex().encode(),  # hard to compress
        b'"' + b"\xc3\xa9" * 70_000 + b'"',  # UTF-8, longer than a stored block
    ],
    ids=["tiny", "numbers", "random", "utf8"],
)
@pytest.mark.parametrize("tail", [b',"request_id":"abc"}\n', b"", b"x" * 70_000], ids=["id", "empty", "long"])
def test_a_member_decompresses_to_head_data_tail_and_its_crc_and_length_check(data, tail):
    body = Gzipped(HEAD, data).body(tail)
    whole = HEAD + data + tail
    assert gzip.decompress(body) == whole  # checks the CRC-32 and ISIZE trailer
    assert _inflate_stream(body) == whole
    assert int.from_bytes(body[-8:-4], "little") == zlib.crc32(whole)


def test_one_prefix_serves_every_tail_and_compresses():
    rows = (b'{"time":%d,"equity":10000.5}' % (1_700_000_000_000 + i * 60_000) for i in range(5000))
    data = b"[" + b",".join(rows) + b"]"
    gz = Gzipped(HEAD, data)
    for rid in (b"one", b"two", b"a-much-longer-request-id-0123456789"):
        tail = b',"request_id":"' + rid + b'"}\n'
        assert gzip.decompress(gz.body(tail)) == HEAD + data + tail
    assert len(gz.body(b"}")) < len(data) // 4


def test_a_corrupted_member_is_refused_by_the_decoder():
    body = bytearray(Gzipped(HEAD, b'["x"]').body(b"}"))
    body[-8] ^= 1  # the CRC
    with pytest.raises(gzip.BadGzipFile):
        gzip.decompress(bytes(body))


def test_stored_blocks_are_valid_raw_deflate_and_only_the_last_is_final():
    data = bytes(range(256)) * 600  # 153,600 bytes: three blocks
    blocks = stored_blocks(data, final=True)
    assert zlib.decompress(blocks, -zlib.MAX_WBITS) == data
    assert [blocks[i] for i in (0, 65_540, 131_080)] == [0, 0, 1]
    d = zlib.decompressobj(-zlib.MAX_WBITS)
    assert d.decompress(stored_blocks(b"abc", final=False)) == b"abc" and not d.eof


def test_the_memo_builds_once_and_again_for_another_head():
    memo = GzipMemo()
    first = memo.get(HEAD, b"[1,2,3]")
    assert memo.get(HEAD, b"[1,2,3]") is first
    other = memo.get(b'{"data":', b"[1,2,3]")
    assert other is not first and gzip.decompress(other.body(b"}")) == b'{"data":[1,2,3]}'


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        ("gzip, deflate, br, zstd", True),  # what browsers send
        ("gzip", True),
        ("GZIP", True),
        ("x-gzip", True),
        ("br;q=1.0, gzip;q=0.8, *;q=0.1", True),
        ("*", True),
        ("", False),
        ("identity", False),
        ("br, deflate", False),
        ("gzip;q=0", False),
        ("gzip;q=0.000", False),
        ("*;q=0", False),
        ("gzip;q=0, *", False),  # an explicit refusal wins over the wildcard
        ("gzip;q=0.5, *;q=0", True),
        ("gzip;q=abc", False),  # a malformed weight is not taken as acceptance
        ("gzip;q=2", False),
        ("gzipped", False),
        ("  gzip ; q=0.3 ", True),
    ],
)
def test_accept_encoding(header, accepted):
    assert accepts_gzip(header) is accepted


def test_the_remembered_answers_are_bounded(monkeypatch):
    from backend.core import compression

    monkeypatch.setattr(compression, "_ANSWERS", {})
    for i in range(compression._ANSWERS_MAX + 10):
        assert accepts_gzip(f"gzip;q=0.{i % 10}{i}") is (i % 10 != 0 or i > 9)
    assert len(compression._ANSWERS) <= compression._ANSWERS_MAX
    assert accepts_gzip("gzip;q=0") is False and accepts_gzip("gzip") is True
