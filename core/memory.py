"""Keep freed memory in the process instead of handing it back to the kernel after every batch.

glibc's malloc serves large blocks (above an adaptive threshold of at most 32 MB) with fresh
``mmap`` pages and unmaps them on ``free``, and trims the heap top beyond 128 KB. Inference and
training allocate and free activations of tens of MB for every batch, so every batch faults in
hundreds of MB of new pages that the kernel must zero. Measured on 2 cores, building the feature
store of 250 clips: 21 s, 12 s of it in the kernel (7 M page faults); with the thresholds below,
12 s and 0.2 s in the kernel (0.03 M faults). The price: a process's resident memory stays near
its peak instead of shrinking after it. Only glibc (Linux) has ``mallopt``; elsewhere this does
nothing. ``ACTIVITY_KEEP_FREED_MEMORY=0`` turns it off.
"""

import ctypes
import ctypes.util
import logging

from core.settings import Settings

log = logging.getLogger(__name__)

# mallopt parameters (malloc.h).
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
KEEP_BYTES = 1 << 30  # blocks below this come from the heap; free heap below this stays mapped
TOP_PAD_BYTES = 256 << 20  # the heap grows in steps of this much, not page by page


def keep_freed_memory() -> bool:
    """Tune glibc malloc as above unless the settings turn it off; True when every setting was accepted."""
    if not Settings().keep_freed_memory:
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    settings = ((M_MMAP_THRESHOLD, KEEP_BYTES), (M_TRIM_THRESHOLD, KEEP_BYTES), (M_TOP_PAD, TOP_PAD_BYTES))
    accepted = all(mallopt(option, value) == 1 for option, value in settings)
    log.debug("malloc keeps freed memory: %s", accepted)
    return accepted
