"""Settle a process that will score many networks: memory reuse and a lighter garbage collector.

Scoring builds hundreds of modules and allocates megabyte activations per architecture, and
two process-wide defaults then cost more than the arithmetic around them:

- glibc's malloc serves blocks above a threshold that starts at 128 KiB with fresh ``mmap``
  pages and trims the heap back to the system, so every activation of a few MiB page-faults
  again (a copy of a 4 MiB tensor took 3.0 ms instead of 0.45 ms on the development machine).
  Blocks up to 32 MiB (glibc's largest threshold) now come from the heap, which keeps up to
  64 MiB of free space at its top instead of returning it.
- Python's cyclic collector walks every object torch, scipy and networkx created at import
  time each time it runs a full collection (0.2 s here), triggered again and again by the
  objects a network build allocates. ``gc.freeze()`` after one collection moves what exists
  now out of its sight.

Neither changes a value: scores are bit for bit the same (``tests/test_process.py``). ``run_task``
settles its process before the first task, so every executor (the local one, worker processes,
Ray workers) runs tuned; a library user scoring many networks in a loop of their own calls
``settle_process()``. ``SWAPFW_SETTLE=0`` leaves the process as it is, and malloc settings a
user gave through ``MALLOC_*`` environment variables are never overridden.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import os
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
MMAP_THRESHOLD = 32 << 20  # blocks below this come from the heap (glibc refuses more)
TRIM_THRESHOLD = 64 << 20  # free heap kept at the top before it is returned to the system


@functools.cache
def settle_process() -> dict[str, bool]:
    """Tune this process once (later calls return the first call's answer): what was done."""
    if os.environ.get("SWAPFW_SETTLE", "1").strip().lower() in ("0", "false", "no", "off"):
        return {"malloc": False, "gc_frozen": False}
    malloc = _reuse_heap_memory()
    gc.collect()
    gc.freeze()
    return {"malloc": malloc, "gc_frozen": True}


def _reuse_heap_memory() -> bool:
    """Raise glibc's mmap and trim thresholds; False where this is not glibc or the user set them."""
    if not sys.platform.startswith("linux") or any(k.startswith("MALLOC_") for k in os.environ):
        return False
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return False
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):  # musl, or another libc
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(libc.mallopt(M_TRIM_THRESHOLD,
                                                                                      TRIM_THRESHOLD))


@contextlib.contextmanager
def torch_threads(threads: int | None):
    """Run the block with ``threads`` intra-op torch threads (None: as they are), then put them back."""
    import torch

    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
