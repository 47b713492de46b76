"""The single gateway to numba: jit policy shared by every ``_kernels.py``.

Kernels are compiled with ``cache=True`` (the on-disk cache makes the second import fast) and
``parallel=True`` only where they loop over independent cells or trajectories with ``prange``.
Setting the environment variable ``NUMBA_DISABLE_JIT=1`` runs every kernel as plain Python.
"""

from __future__ import annotations

import numba
from numba import prange

__all__ = ["jit_serial", "jit_parallel", "prange", "set_num_threads", "get_num_threads"]


def jit_serial(func):
    """Compile ``func`` in nopython mode with on-disk caching."""
    return numba.njit(cache=True, fastmath=False)(func)


def jit_parallel(func):
    """Compile ``func`` with ``parallel=True``; loops over ``prange`` run on numba's threads."""
    return numba.njit(cache=True, parallel=True, fastmath=False)(func)


def set_num_threads(n: int) -> None:
    """Set the number of threads used by parallel kernels."""
    numba.set_num_threads(int(n))


def get_num_threads() -> int:
    """Number of threads used by parallel kernels."""
    return numba.get_num_threads()
