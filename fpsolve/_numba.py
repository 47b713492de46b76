"""The single gateway to numba: jit policy shared by every ``_kernels.py``, and the Philox4x32-10
block function behind the counter-based random numbers of :mod:`fpsolve._random`.

Kernels are compiled with ``cache=True`` (the on-disk cache makes the second import fast) and
``parallel=True`` only where they loop over independent cells or trajectories with ``prange``.
Setting the environment variable ``NUMBA_DISABLE_JIT=1`` runs every kernel as plain Python.
"""

from __future__ import annotations

import contextlib
from contextlib import contextmanager

import numba
import numpy as np
from numba import prange


__all__ = ["jit_serial", "jit_inline", "jit_inline_uncached", "jit_parallel", "jit_typed",
           "objmode", "prange", "types", "set_num_threads", "get_num_threads", "threads_for",
           "one_blas_thread", "philox4x32", "philox4x32_lanes"]


def jit_serial(func):
    """Compile ``func`` in nopython mode with on-disk caching."""
    return numba.njit(cache=True, fastmath=False)(func)


def jit_inline(func):
    """Like :func:`jit_serial`, and inlined into compiled callers at numba-IR level (for tiny
    functions called inside hot loops, where a native call would block vectorization)."""
    return numba.njit(cache=True, fastmath=False, inline="always")(func)


def jit_parallel(func):
    """Compile ``func`` with ``parallel=True``; loops over ``prange`` run on numba's threads."""
    return numba.njit(cache=True, parallel=True, fastmath=False)(func)


def jit_typed(signature, *, parallel: bool = False):
    """Compile for one explicit ``signature`` (on-disk cached).  Kernels that take a model's
    function as a first-class argument (``types.FunctionType``) need it: typed by signature, the
    argument keeps the kernel cacheable, while a plain dispatcher argument would be compiled
    anew in every process."""
    def decorate(func):
        return numba.njit(signature, cache=True, parallel=parallel, fastmath=False)(func)
    return decorate


def jit_inline_uncached(func):
    """Like :func:`jit_inline` without the on-disk cache: for functions that are not defined at
    the top level of a module file (a user's function, a closure)."""
    return numba.njit(cache=False, fastmath=False, inline="always")(func)


#: numba's type objects, for the explicit signatures of :func:`jit_typed`.
types = numba.types
#: Object-mode blocks inside compiled code (calling back into Python, e.g. a user's NumPy model).
objmode = numba.objmode


def set_num_threads(n: int) -> None:
    """Set the number of threads used by parallel kernels."""
    numba.set_num_threads(int(n))


def get_num_threads() -> int:
    """Number of threads used by parallel kernels."""
    return numba.get_num_threads()


#: Parallel kernels get one thread per this many items at most: below it, the launch and the
#: barrier of a parallel region cost more than they save, and on a loaded machine a 2-thread
#: region waits for a descheduled thread (measured on the 200^2 stationary solve: 2 threads
#: 0.25 s, 1 thread 0.16-0.19 s with one core busy; equal when idle).
ITEMS_PER_THREAD = 1 << 17


@contextmanager
def threads_for(n_items: int):
    """Run the parallel kernels of the block on at most ``n_items // ITEMS_PER_THREAD`` threads
    (at least one, at most the current setting), restoring the setting afterwards."""
    before = numba.get_num_threads()
    numba.set_num_threads(max(1, min(before, int(n_items) // ITEMS_PER_THREAD)))
    try:
        yield
    finally:
        numba.set_num_threads(before)


def one_blas_thread():
    """Context manager keeping BLAS on one thread: small dense products next to numba's threads
    on a loaded machine spin in a multi-threaded BLAS (measured 5-100x slower); a no-op when
    threadpoolctl is not installed."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional dependency
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)   # Philox4x32 multipliers
_W0, _W1 = np.uint64(0x9E3779B9), np.uint64(0xBB67AE85)   # Weyl key increments
_MASK32, _U32 = np.uint64(0xFFFFFFFF), np.uint64(32)


@jit_inline
def philox_round(c0, c1, c2, c3, k0, k1):
    """One round of Philox4x32 (Salmon et al., SC'11) on ``uint64`` words holding 32-bit values;
    products of two 32-bit values fit in 64 bits, so nothing wraps and Python gives the same bits.
    """
    p0 = _M0 * c0
    p1 = _M1 * c2
    return (p1 >> _U32) ^ c1 ^ k0, p1 & _MASK32, (p0 >> _U32) ^ c3 ^ k1, p0 & _MASK32


@jit_inline
def philox4x32(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 of the counter ``(c0..c3)`` under the key ``(k0, k1)``."""
    for _ in range(10):
        c0, c1, c2, c3 = philox_round(c0, c1, c2, c3, k0, k1)
        k0 = (k0 + _W0) & _MASK32
        k1 = (k1 + _W1) & _MASK32
    return c0, c1, c2, c3


@jit_serial
def philox4x32_lanes(c0, c1, c2, c3, key, out):
    """``out[:, i] =`` Philox4x32-10 of ``(c0, c1[i], c2, c3)`` under ``key (2,)``, for all
    ``i``; rounds run over all lanes at once, which vectorizes (same bits as :func:`philox4x32`).
    """
    x0, x1, x2, x3 = out[0], out[1], out[2], out[3]
    for i in range(c1.size):
        x0[i], x1[i], x2[i], x3[i] = c0, np.uint64(c1[i]), c2, c3
    k0, k1 = key[0], key[1]
    for _ in range(10):
        for i in range(c1.size):
            x0[i], x1[i], x2[i], x3[i] = philox_round(x0[i], x1[i], x2[i], x3[i], k0, k1)
        k0 = (k0 + _W0) & _MASK32
        k1 = (k1 + _W1) & _MASK32
