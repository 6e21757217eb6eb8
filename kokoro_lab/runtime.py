"""Process-level CPU settings for fast inference, applied explicitly (never at import).

glibc returns large freed blocks to the OS (mmap/trim thresholds), so every forward pass of a
model with big activations page-faults its temporaries back in (measured: ~350k minor faults per
medium sentence for the official model). Raising both thresholds keeps that memory in the heap
for reuse; `mallopt` does at run time what MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ do at
process start.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: glibc caps the mmap threshold at HEAP_MAX (32 MiB on 64-bit) ... and larger values are refused;
#: the trim threshold has no cap.
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024
TRIM_THRESHOLD_BYTES = 1 << 30

ENV_EQUIVALENT = {
    "MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD_BYTES),
    "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD_BYTES),
}


def tune_allocator() -> bool:
    """Raise glibc's mmap and trim thresholds for this process; False where not glibc."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        ok = libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
        ok &= libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1
    except (OSError, AttributeError):
        return False
    log.debug("glibc allocator tuned: %s", ok)
    return bool(ok)
