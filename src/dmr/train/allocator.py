"""Let glibc's malloc reuse freed tensor memory instead of returning it to the kernel.

Why: glibc serves every allocation above its mmap threshold (dynamic, at most 32 MiB) with fresh
pages from the kernel and unmaps them again on ``free``. A CPU training step allocates and frees
its activations and gradients every step (at 256 px, batch 15, width 32: tens of 60-240 MiB
tensors, ~8 GB in all), so the kernel zeroes and maps gigabytes of fresh pages per step.
Measured on a 2-core CPU (``benchmarks/train_throughput.py``): the six networks at 256 px train
at 58-76 % of the matmul peak with glibc's defaults (it varies with the VM's memory state) and
at 87-92 % with the thresholds raised here.

The price is resident memory: the heap keeps its high-water mark and fragments (glibc 2.36 cannot
fit a 64-byte-aligned request into the exact hole its predecessor left), so the peak RSS of a
DMR-U-Net training step rises by 0.8 GiB at 192 px and 1.2-1.9 GiB at 256 px
(benchmarks/README.md). Hence a switch (``--no-reuse-freed-memory``,
``training.reuse_freed_memory: false``) for machines where memory, not time, is short.

PyTorch exposes no caching allocator for CPU tensors and the usual fix (LD_PRELOAD of jemalloc or
tcmalloc) needs a system library and must be set before the process starts; ``mallopt`` needs
neither.
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform

log = logging.getLogger(__name__)

#: ``mallopt`` parameter numbers from glibc's <malloc.h>.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

#: Allocations up to this size come from the heap, and up to this much free memory stays at the
#: heap's top between steps: above the largest activation of the paper's networks (a 64-channel
#: 256 x 256 batch of 15 is 240 MiB) with room to spare.
REUSE_LIMIT_BYTES = 1 << 30


def reuse_freed_memory(limit_bytes: int = REUSE_LIMIT_BYTES) -> bool:
    """Raise glibc's mmap and trim thresholds to ``limit_bytes``; return whether it was applied.

    Call it once, at the start of a training or inference process: the setting is process-wide.
    Not applied (and said so in the log) on a C library other than glibc, or when the user has
    tuned glibc's malloc through ``GLIBC_TUNABLES`` (their setting wins).
    """
    if limit_bytes <= 0:
        raise ValueError(f"limit_bytes must be positive, got {limit_bytes}")
    if "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", ""):
        log.info("malloc left as is: GLIBC_TUNABLES already sets glibc.malloc.* options")
        return False
    libc_name, _ = platform.libc_ver()
    if libc_name != "glibc":
        log.info("malloc left as is: reusing freed memory needs glibc, this is %r", libc_name)
        return False
    libc = ctypes.CDLL("libc.so.6")
    applied = libc.mallopt(M_MMAP_THRESHOLD, limit_bytes) == 1
    applied = libc.mallopt(M_TRIM_THRESHOLD, limit_bytes) == 1 and applied
    if applied:
        log.info(
            "malloc reuses freed memory: mmap and trim thresholds %d MiB "
            "(--no-reuse-freed-memory to keep glibc's defaults)",
            limit_bytes >> 20,
        )
    else:
        log.warning("glibc refused mallopt(%d bytes): malloc left as is", limit_bytes)
    return applied
