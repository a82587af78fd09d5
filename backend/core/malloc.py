"""glibc malloc's thresholds for a worker process (``WORKER_MALLOC_*`` settings; docs/engine.md).

glibc serves an allocation of at least ``M_MMAP_THRESHOLD`` bytes (128 KiB at start) with its own
``mmap`` and returns it to the system when it is freed. But the threshold is dynamic: each time such
a block is freed, glibc raises the threshold to that block's size (up to 32 MiB), so after a job
has freed a few n-long numpy arrays, the next ones of that size come from the heap, whose freed
space glibc keeps (and trims only above ``M_TRIM_THRESHOLD``, raised alongside). A backtest job
allocates and frees arrays of 1-48 MB, so the heap ends up holding the freed arrays of one step
for the next steps. Setting either threshold with ``mallopt`` fixes both (no dynamic adjustment):
large arrays always go back to the system when freed. At 1M bars that lowers a job's peak by
about 5 MB, but every large array is then mapped, faulted in and zeroed afresh: the job took ~40 %
longer (docs/engine.md), so the settings are 0 (glibc's own behaviour) by default.

Applied when a worker process starts, if set (``celery_app``: ``worker_process_init`` and, for the
``solo`` and ``threads`` pools, ``worker_init``). Elsewhere (not glibc, e.g. musl or macOS) it does
nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

logger = logging.getLogger(__name__)

# From glibc's <malloc.h>.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3


def _libc() -> ctypes.CDLL | None:
    """Return the C library if it is glibc (it has ``mallopt``), else None."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "gnu_get_libc_version") else None


def tune(*, mmap_threshold: int, trim_threshold: int) -> dict[str, int]:
    """Set glibc's mmap and trim thresholds (bytes; 0 leaves one as it is); return what was set.

    Returns an empty dict where malloc is not glibc's or a value was refused (``mallopt`` returns 0:
    glibc refuses an mmap threshold above 32 MiB on 64-bit).
    """
    libc = _libc()
    if libc is None:
        return {}
    done: dict[str, int] = {}
    for name, param, value in (
        ("M_MMAP_THRESHOLD", M_MMAP_THRESHOLD, mmap_threshold),
        ("M_TRIM_THRESHOLD", M_TRIM_THRESHOLD, trim_threshold),
    ):
        if value <= 0:
            continue
        if libc.mallopt(ctypes.c_int(param), ctypes.c_int(value)) != 1:
            logger.warning("mallopt(%s, %d) refused; malloc left as it was", name, value)
            continue
        done[name] = value
    return done
