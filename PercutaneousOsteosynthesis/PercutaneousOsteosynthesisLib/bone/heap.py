"""Large working arrays reused from the process heap while a bone model is built (glibc only).

glibc gives every allocation above its mmap threshold (at most 32 MB) its own pages from the kernel and returns them
when it is freed, so each of the bone model's many large temporaries is faulted in afresh: 0.16 s for 250 MB here,
against 0.04 s for memory reused. Within :func:`reusing_freed_memory` large arrays come from the heap and freed ones
are reused (the 512x512x400 benchmark, alternating in the same minutes: 9.24-9.39 s against 10.65-10.95 s, 0.1-0.2 GB
more at its peak); on leaving it glibc's limits are put back and the heap's free pages are returned to the system
(``malloc_trim``). Elsewhere (macOS, Windows, another C library) it does nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import sys
import threading

M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # mallopt parameters (malloc.h)
DEFAULT_TRIM_THRESHOLD = 128 * 1024  # glibc's defaults, put back on leaving
DEFAULT_MMAP_MAX = 65536
KEEP_FREED_BYTES = 2**31 - 1  # the largest trim threshold mallopt takes: freed memory stays in the heap

_lock = threading.Lock()
_depth = 0


@functools.cache
def _glibc():
    """glibc's ``mallopt`` and ``malloc_trim``, or None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") and hasattr(libc, "gnu_get_libc_version") else None
    except OSError:
        return None


@contextlib.contextmanager
def reusing_freed_memory():
    """Within the block, large allocations come from the heap and freed memory is kept for reuse (see module doc);
    re-entrant and safe to use from several threads at once (the first to enter sets, the last to leave restores)."""
    global _depth
    libc = _glibc()
    if libc is None:
        yield
        return
    with _lock:
        _depth += 1
        if _depth == 1:
            libc.mallopt(M_MMAP_MAX, 0)
            libc.mallopt(M_TRIM_THRESHOLD, KEEP_FREED_BYTES)
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                libc.mallopt(M_MMAP_MAX, DEFAULT_MMAP_MAX)
                libc.mallopt(M_TRIM_THRESHOLD, DEFAULT_TRIM_THRESHOLD)
                libc.malloc_trim(0)
