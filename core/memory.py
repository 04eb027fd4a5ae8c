"""Process memory: fewer glibc malloc arenas for the threaded web workers.

glibc gives each thread that allocates concurrently an arena of its own (up to 8 per core). A
gunicorn ``gthread`` worker handling 1 MB photos on four threads then keeps freed memory spread
over many arenas, and its resident size climbs for a long time: ``bench/soak.py`` measured
+17 % and +28 % for the two public workers over ten minutes with the default, and +1.9 % and
+0.9 % with two arenas. :func:`limit_malloc_arenas` sets that limit from inside the process (the
same as ``MALLOC_ARENA_MAX=2`` in the environment), so it holds however the site is started.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

#: ``M_ARENA_MAX`` of glibc's ``mallopt``.
M_ARENA_MAX = -8
ARENAS = 2


def limit_malloc_arenas(count: int = ARENAS) -> bool:
    """Limit glibc to ``count`` malloc arenas; False where that is not possible (not Linux,
    not glibc), which changes nothing else."""
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return False
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:  # musl and others
        return False
    return bool(mallopt(M_ARENA_MAX, count))
