"""The glibc malloc settings physlens applies when imported: freed memory stays with the process for reuse.

XLA's CPU backend takes every intermediate buffer of a computation from ``malloc`` and frees it when the
computation ends. glibc hands out blocks above its mmap threshold (at most 32 MB) as fresh ``mmap``
regions and unmaps them on ``free``, and blocks of worker threads come from per-thread arenas that are
themselves mapped and unmapped; the kernel then zero-fills every 4 KiB page again on first touch, step
after step. A sampled SR step of the 6×6 transformer (1,024 samples × 73 connected configurations) takes
about 190,000 such page faults per second, 40 % of its wall time in the kernel (BENCHMARKS.md, "Freed
memory kept for reuse").

``keep_freed_memory()`` tells glibc, through ``mallopt``, to serve every thread from the main arena
(``M_ARENA_MAX`` = 1), never to map a block on its own (``M_MMAP_MAX`` = 0; the heap still falls back to
``mmap`` where ``brk`` cannot grow), and never to give freed memory back to the kernel (``M_TRIM_THRESHOLD`` = −1,
glibc's documented "off"; a 2 GiB threshold still left a sampled SAE study 40 % in the kernel, its gigabyte
buffers trimmed and faulted in again), growing the heap 256 MiB at a time (``M_TOP_PAD``). The numbers
computed are unchanged, bit for bit; the price is that the process keeps its peak memory until it exits.
``M_ARENA_MAX`` only governs arenas created afterwards, so it holds fully when physlens is imported before
JAX starts its thread pools (the CLI; not after ``import netket``).

Not glibc (macOS, musl), or ``PHYSLENS_MALLOC=system`` in the environment: nothing is changed.

Usage::

    PHYSLENS_MALLOC=system physlens train …    # glibc's own settings
"""

from __future__ import annotations

import ctypes
import os

OPT_OUT = ("PHYSLENS_MALLOC", "system")
"""The environment variable and value that leave glibc's settings alone."""

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_MAX, M_ARENA_MAX = -1, -2, -4, -8
"""``mallopt`` parameter numbers, from glibc's ``malloc.h``."""

SETTINGS = ((M_ARENA_MAX, 1), (M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, -1), (M_TOP_PAD, 256 << 20))
"""(parameter, value) pairs set by ``keep_freed_memory`` (C ints; a trim threshold of −1 turns trimming off)."""


def _glibc() -> bool:
    try:
        return (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (ValueError, OSError, AttributeError):
        return False


def keep_freed_memory(environ: dict | None = None) -> bool:
    """Apply ``SETTINGS`` to glibc's allocator; True when all were accepted, False when not glibc or opted out
    by ``PHYSLENS_MALLOC=system`` in ``environ`` (default ``os.environ``)."""
    environ = os.environ if environ is None else environ
    name, value = OPT_OUT
    if environ.get(name) == value or not _glibc():
        return False
    mallopt = ctypes.CDLL(None).mallopt
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return all([mallopt(param, setting) == 1 for param, setting in SETTINGS])
