"""Drop a shared library's clean resident pages from this process (Linux; docs/engine.md).

A worker process loads the engine's numba kernels once at start (``kernels.warm_up``): numba maps
LLVM's shared library (``libllvmlite.so``) and, even when the kernels come from numba's cache,
touches about 65 MB of its code and read-only data, which then stay resident (and counted in the
process's RSS) although a job never runs LLVM again: the kernels are machine code in memory of
their own. ``release_pages`` tells the kernel (``madvise(MADV_DONTNEED)``) that this process no
longer needs the pages of such a library's mappings that are not writable and hold no private copy
(``Anonymous: 0`` in ``/proc/self/smaps``): each of those pages is the file's content, so dropping
it loses nothing, and a later access (numba compiling a new signature) faults it back in from the
page cache. Mappings with private (copy-on-write) pages, such as the relocated read-only data, are
left alone. Elsewhere than Linux, or when ``/proc/self/smaps`` or ``madvise`` is missing, it does
nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import mmap
import re
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

MADV_DONTNEED = 4  # <sys/mman.h> on Linux
_HEADER = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+\s*(.*)$")


@dataclass(frozen=True)
class Mapping:
    """One line of /proc/self/smaps with the fields ``release_pages`` reads (sizes in KiB)."""

    start: int
    end: int
    perms: str
    path: str
    rss_kb: int
    anonymous_kb: int

    @property
    def droppable(self) -> bool:
        """Not writable and no private page: every resident page is the file's content."""
        return "w" not in self.perms and self.anonymous_kb == 0 and self.rss_kb > 0


def parse_smaps(text: str) -> list[Mapping]:
    """Return the mappings of a /proc/<pid>/smaps text (Rss and Anonymous read, the rest ignored)."""
    out: list[Mapping] = []
    head: tuple[int, int, str, str] | None = None
    fields: dict[str, int] = {}

    def flush() -> None:
        if head is not None:
            out.append(Mapping(*head, fields.get("Rss", 0), fields.get("Anonymous", 0)))

    for line in text.splitlines():
        m = _HEADER.match(line)
        if m:
            flush()
            head = (int(m.group(1), 16), int(m.group(2), 16), m.group(3), m.group(4))
            fields = {}
            continue
        key, _, value = line.partition(":")
        if key in ("Rss", "Anonymous"):
            fields[key] = int(value.split()[0])
    flush()
    return out


def _madvise() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None
    fn = getattr(libc, "madvise", None)
    if fn is not None:
        fn.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
        fn.restype = ctypes.c_int
    return fn


def release_pages(library: str, smaps: Path = Path("/proc/self/smaps")) -> int:
    """Drop the clean resident pages of every mapping of a file whose name contains ``library``.

    Returns the resident KiB dropped (as /proc read them before), 0 where nothing was done.
    """
    try:
        text = smaps.read_text()
    except OSError:
        return 0
    madvise = _madvise()
    if madvise is None:
        return 0
    dropped = 0
    for m in parse_smaps(text):
        if not m.droppable or library not in Path(m.path).name:
            continue
        if m.start % mmap.PAGESIZE or m.end <= m.start:
            continue
        if madvise(m.start, m.end - m.start, MADV_DONTNEED) != 0:
            logger.warning("madvise(%s, %s) failed: errno %d", m.path, m.perms, ctypes.get_errno())
            continue
        dropped += m.rss_kb
    return dropped
