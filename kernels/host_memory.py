"""Host memory for NumPy: glibc keeps the memory a step frees, for the next step to reuse.

A NumPy step at 1,000 worlds allocates and frees hundreds of (E, N) temporaries of about 9 MB
(1,147 agents in float64) and a few of hundreds of MB. glibc's malloc serves such blocks by
``mmap`` and returns them to the kernel on ``free`` (or trims them off the top of the heap), so
the next temporary of the same size is fresh memory again and faults in page by page, zeroed by
the kernel. Measured (issue 18, scale6 branch, 2-core Xeon, E = 1,000, 1,000 cohorts, 3 steps
after 2): 25,000 page faults and 0.45-0.56 s of system time a step, 11-14% of its wall time, and
none at E = 100, whose temporaries fit under glibc's thresholds; with freed memory kept, no page
faults and 0.01 s of system time. The results are the same bits: only where memory comes from
changes, not what is computed in it.

The settings are ``mallopt(3)``'s: no ``mmap`` for large blocks (``M_MMAP_MAX`` = 0; glibc still
falls back on it where the heap cannot grow) and a trim threshold of ``TRIM_THRESHOLD_BYTES``
(``M_TRIM_THRESHOLD``: glibc returns free memory at the top of the heap beyond it). The process
keeps up to that much more resident than it uses at a time. Setting a trim threshold alone would
be worse than nothing: it turns off glibc's adaptive ``mmap`` threshold, so every block above
128 KiB is mapped afresh (measured: 6.3 against 3.9 s a step, 1.4 million page faults) — which is
why Dask's nanny's ``MALLOC_TRIM_THRESHOLD_=65536`` makes the model 4x slower (README, Scale).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

#: ``mallopt`` parameters, from glibc's ``<malloc.h>``
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4

#: bytes of free memory at the top of the heap that glibc keeps instead of returning: 1 GiB,
#: more than a step's largest temporaries at 1,000 worlds (466 MiB in the retail rules, README)
TRIM_THRESHOLD_BYTES = 2**30

_kept: bool | None = None  # whether this process's malloc keeps freed memory (None: not tried)


def keep_freed_memory() -> bool:
    """Have glibc's malloc keep freed memory for reuse; once a process. False where not glibc.

    Returns:
        Whether this process's malloc now keeps freed memory (False on macOS, Windows, musl, or
        if glibc refused a setting).
    """
    global _kept
    if _kept is None:
        _kept = _set_glibc_options()
    return _kept


def _set_glibc_options() -> bool:
    """Set ``M_MMAP_MAX`` = 0 and ``M_TRIM_THRESHOLD`` by glibc's ``mallopt``; False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # no C library by that name, or not glibc (musl)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    if mallopt(M_MMAP_MAX, 0) != 1:  # without it, a trim threshold would do harm (above)
        return False
    return mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1
