"""Default avatars: a deterministic identicon SVG derived from a user id. Pure: no Flask, no I/O.

A 5x5 grid mirrored left to right (GitHub-style) in one colour on a light background. Everything
comes from the SHA-256 of the id, so the same id always gives the same bytes and nothing about the
user (name, email) leaks into the image. The SVG is built from numbers only, never from text, so
there is nothing to escape and no script can get in.
"""

from __future__ import annotations

import hashlib

VERSION = "1"  # bump when the drawing changes: it is part of the ETag
GRID = 5
CELL = 12
PAD = 6
SIZE = GRID * CELL + 2 * PAD  # 72 px


def identicon_svg(seed: str) -> str:
    """Return the identicon of ``seed`` (a user id) as a standalone SVG document."""
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    hue = int.from_bytes(digest[:2], "big") % 360
    colour = f"hsl({hue},55%,50%)"
    cells = "".join(
        f'<rect x="{PAD + col * CELL}" y="{PAD + row * CELL}" width="{CELL}" height="{CELL}"/>'
        for row, col in _filled_cells(digest[2:])
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{SIZE}" height="{SIZE}" '
        f'viewBox="0 0 {SIZE} {SIZE}" role="img" aria-label="avatar">'
        f'<rect width="{SIZE}" height="{SIZE}" fill="hsl({hue},40%,94%)"/>'
        f'<g fill="{colour}">{cells}</g></svg>'
    )


def etag_of(seed: str) -> str:
    """Return the ETag of ``seed``'s identicon (changes only with ``VERSION``)."""
    return hashlib.sha256(f"identicon-v{VERSION}:{seed}".encode()).hexdigest()[:32]


def _filled_cells(bits: bytes) -> list[tuple[int, int]]:
    """Return the (row, col) cells to fill: one bit per cell of the left half and middle, mirrored."""
    half = (GRID + 1) // 2
    cells = []
    for row in range(GRID):
        for col in range(half):
            index = row * half + col
            if bits[index // 8] >> (index % 8) & 1:
                cells.append((row, col))
                if col != GRID - 1 - col:
                    cells.append((row, GRID - 1 - col))
    return cells
