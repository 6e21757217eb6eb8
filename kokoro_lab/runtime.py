"""Process-level settings, applied explicitly (never at import) and only by entry points through
`process_state`, which restores them: CPU threads, global RNG seeds, the glibc allocator.

glibc returns large freed blocks to the OS (mmap/trim thresholds), so every forward pass of a
model with big activations page-faults its temporaries back in (measured: ~350k minor faults per
medium sentence for the official model). Raising both thresholds keeps that memory in the heap
for reuse; `mallopt` does at run time what MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ do at
process start.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import random
from collections.abc import Iterator

import numpy as np
import torch

from kokoro_lab.errors import UserValueError

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


def _mallopt(mmap_bytes: int, trim_bytes: int) -> bool:
    """Set glibc's mmap and trim thresholds; False where not glibc or refused."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        ok = libc.mallopt(M_MMAP_THRESHOLD, mmap_bytes) == 1
        ok &= libc.mallopt(M_TRIM_THRESHOLD, trim_bytes) == 1
    except (OSError, AttributeError):
        return False
    return bool(ok)


def tune_allocator() -> bool:
    """Raise glibc's mmap and trim thresholds for this process; False where not glibc."""
    ok = _mallopt(MMAP_THRESHOLD_BYTES, TRIM_THRESHOLD_BYTES)
    log.debug("glibc allocator tuned: %s", ok)
    _tuned[0] = _tuned[0] or ok
    return ok


#: glibc's documented defaults, restored when a `process_state` block that tuned them ends.
DEFAULT_MMAP_THRESHOLD_BYTES = 128 * 1024
DEFAULT_TRIM_THRESHOLD_BYTES = 128 * 1024
#: Variables Lightning's seed_everything sets for worker processes (restored like the RNGs).
SEED_ENV = ("PL_GLOBAL_SEED", "PL_SEED_WORKERS")
_tuned = [False]


def allocator_tuned() -> bool:
    """True while the malloc thresholds are raised by `tune_allocator` (not yet reset)."""
    return _tuned[0]


def reset_allocator() -> bool:
    """glibc's default mmap and trim thresholds (128 KiB; set explicitly, so the mmap threshold
    no longer adapts to freed blocks, which glibc's own default does); False where not glibc."""
    ok = _mallopt(DEFAULT_MMAP_THRESHOLD_BYTES, DEFAULT_TRIM_THRESHOLD_BYTES)
    _tuned[0] = False
    return ok


@contextlib.contextmanager
def process_state(
    threads: int | None = None, seed: int | None = None, tune_malloc: bool = False
) -> Iterator[None]:
    """The one place entry points (task functions) set process-wide state, restored on exit:
    torch's CPU thread count (`threads`), the global RNGs of torch, numpy and `random` (seeded
    with `seed`; Lightning's PL_GLOBAL_SEED/PL_SEED_WORKERS variables too) and glibc's malloc
    thresholds (`tune_malloc`). Library code below it changes none of these."""
    if threads is not None and int(threads) < 1:
        raise UserValueError(
            f"threads={threads} must be a positive number of CPU threads (or unset: torch's)"
        )
    threads_before = torch.get_num_threads()
    torch_rng, np_rng, py_rng = torch.get_rng_state(), np.random.get_state(), random.getstate()
    env_before = {k: os.environ.get(k) for k in SEED_ENV}
    tuned_here = False
    try:
        if threads is not None:
            torch.set_num_threads(int(threads))
        if seed is not None:
            torch.manual_seed(int(seed))
            np.random.seed(int(seed) % 2**32)
            random.seed(int(seed))
        if tune_malloc and not _tuned[0]:
            tuned_here = tune_allocator()
        yield
    finally:
        torch.set_num_threads(threads_before)
        torch.set_rng_state(torch_rng)
        np.random.set_state(np_rng)
        random.setstate(py_rng)
        for key, value in env_before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if tuned_here:
            reset_allocator()
