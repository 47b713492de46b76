"""The random numbers of every trajectory driver: keys, one counter layout, one normal transform.

Every variate of :func:`~fpsolve.stochastic.simulate`, :func:`~fpsolve.learning.sgd`,
:func:`~fpsolve.learning.sample` and the slice runs is a pure function of a 64-bit key and a
counter: Philox4x32-10 (Salmon et al., SC'11) maps ``(block, stream, step_lo, step_hi | tag)``
under the key ``(k0, k1)`` to 128 bits.  ``stream`` is the trajectory or chain index, ``step``
the step (or the epoch of a shuffle), ``tag`` (bits 16-31 of the fourth word, so steps must stay
below ``2^48``) separates the kinds of draws:

==============  =========================================================================
tag 0           normals: block ``m`` holds normals ``2m`` and ``2m + 1`` of a step (one
                64-bit word each, 256-layer ziggurat, Marsaglia & Tsang 2000); block
                ``BRIDGE + axis`` the uniforms of the Brownian-bridge exit test; blocks
                ``SLOW + k SLOW_STRIDE + j`` the rare ziggurat rejections of component ``k``
``INDEX_TAG``   minibatch indices drawn with replacement: block ``j // 4``, word ``j % 4``
``SHUFFLE_TAG`` the permutation of an epoch: block ``j // 4``, word ``j % 4``
==============  =========================================================================

No state is carried, so no result depends on the number of threads, on how a run is cut into
chunks or shards, or on resuming.  :func:`~fpsolve.stochastic.standard_normal` returns the
normals of any ``(key, stream, step)``: the Brownian increments of an SDE trajectory and the
Langevin noise of an SGD chain alike.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from ._numba import jit_inline, jit_parallel, jit_serial, philox4x32, philox4x32_lanes, prange
from .errors import FpsolveError

__all__ = ["BRIDGE", "INDEX_TAG", "SHUFFLE_TAG", "SLOW", "SLOW_STRIDE", "ZIGGURAT_LAYERS",
           "as_key", "derive_key", "fill_normals", "index_block", "index_draw", "normal_pair",
           "normals_block", "philox_words", "seed_sequence", "ziggurat_table"]

BRIDGE, SLOW, SLOW_STRIDE = 0x40000000, 0x80000000, 0x20000
INDEX_TAG, SHUFFLE_TAG = 1 << 16, 2 << 16
ZIGGURAT_LAYERS = 256
BLOCK = 256                                 # lanes per call of the vectorized normals

_MASK32, _MASK8 = np.uint64(0xFFFFFFFF), np.uint64(0xFF)
_U1, _U8, _U11, _U32 = np.uint64(1), np.uint64(8), np.uint64(11), np.uint64(32)
_TWO53 = 9007199254740992.0

# Philox4x32-10 over a vector of counters (the shared implementation of fpsolve._numba).
philox_words = philox4x32_lanes


# ----------------------------------------------------------------------------- keys
def seed_sequence(rng) -> np.random.SeedSequence:
    """The SeedSequence behind ``rng`` (Generator, non-negative int, SeedSequence or None).

    An int or SeedSequence is reproducible; a Generator is advanced by one draw of four 32-bit
    words that seed the sequence; None takes fresh OS entropy.  In every case
    ``SeedSequence(seq.entropy)`` gives the same key again.
    """
    if isinstance(rng, np.random.Generator):
        return np.random.SeedSequence(rng.integers(0, 2**32, size=4, dtype=np.uint64).tolist())
    if isinstance(rng, np.random.SeedSequence):
        return rng
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool)
                       and int(rng) >= 0):
        return np.random.SeedSequence(None if rng is None else int(rng))
    raise FpsolveError(f"rng: expected a numpy Generator, a non-negative int, a SeedSequence "
                       f"or None, got {rng!r}")


def derive_key(rng) -> np.ndarray:
    """64-bit Philox key ``(k0, k1)`` (two 32-bit words as ``uint64``, shape ``(2,)``).

    Examples
    --------
    >>> from fpsolve import derive_key
    >>> bool((derive_key(7) == derive_key(7)).all())
    True
    """
    return seed_sequence(rng).generate_state(2, np.uint32).astype(np.uint64)


def as_key(rng) -> np.ndarray:
    """A key array ``(2,)`` given as such (e.g. ``result.key``), or :func:`derive_key` of
    ``rng``."""
    if isinstance(rng, np.ndarray) and rng.dtype == np.uint64:
        if rng.shape != (2,) or np.any(rng >= 2**32):
            raise FpsolveError(f"rng: a key must be two 32-bit words (uint64, shape (2,)), got "
                               f"{rng!r}")
        return rng.copy()
    return derive_key(rng)


# ----------------------------------------------------------------------------- the normal table
@lru_cache(maxsize=1)
def ziggurat_table() -> np.ndarray:
    """Ziggurat table ``(3, 257)`` for the half-normal ``f(x) = exp(-x^2 / 2)``, 256 layers.

    Rows: the acceptance bound ``2^53 x_{i+1} / x_i`` (an exact integer in a double), the layer
    width ``x_i / 2^53`` and ``f(x_i)`` (with ``x_256 = 0``, ``f = 1``).  ``x_0 = v / f(r)`` is
    the equivalent width of the base layer (rectangle plus tail beyond ``x_1 = r``); every layer
    has area ``v``.  ``r`` is found by bisection so that the top layer closes
    (``x_255 (1 - f(x_255)) = v``) to round-off; it agrees with Marsaglia & Tsang's
    ``r = 3.6541528853610088``.
    """
    n = ZIGGURAT_LAYERS
    lo, hi = 3.0, 4.0
    for _ in range(200):                    # bisection on the closure residual (sign change)
        mid = 0.5 * (lo + hi)
        if _closure(mid, n)[0] > 0:
            hi = mid
        else:
            lo = mid
        if hi - lo <= 4 * math.ulp(mid):
            break
    r = 0.5 * (lo + hi)
    _, x = _closure(r, n)
    f = np.exp(-0.5 * x**2)
    table = np.zeros((3, n + 1))
    table[0, :n] = np.floor(2.0**53 * x[1:] / x[:-1])
    table[1, :n] = x[:-1] / 2.0**53
    table[2] = f
    return table


def _closure(r: float, n: int):
    """Top-layer area minus ``v`` for tail start ``r``, and the abscissae ``x_0 .. x_n``."""
    def f(t):
        return math.exp(-0.5 * t * t)

    v = r * f(r) + math.sqrt(math.pi / 2) * math.erfc(r / math.sqrt(2))
    x = np.zeros(n + 1)
    x[0], x[1] = v / f(r), r
    for i in range(1, n - 1):
        y = f(x[i]) + v / x[i]
        if y >= 1.0:                        # layers run out before the top: r too small
            return -1.0, x
        x[i + 1] = math.sqrt(-2.0 * math.log(y))
    return x[n - 1] * (1.0 - f(x[n - 1])) - v, x


# ----------------------------------------------------------------------------- kernels
@jit_serial
def _word(key, block, traj, step, scratch, e):
    """64-bit word ``e`` (0 or 1) of the counter ``(block, traj, step)``; ``scratch (5, 1)``."""
    s = np.uint64(step)
    scratch[4, 0] = traj
    philox_words(np.uint64(block), scratch[4], s & _MASK32, s >> _U32, key, scratch)
    return (scratch[2 * e, 0] << _U32) | scratch[2 * e + 1, 0]


@jit_serial
def _unit(w):
    """The top 53 bits of ``w`` as a uniform double in the open interval (0, 1)."""
    return (float(w >> _U11) + 0.5) / _TWO53


@jit_serial
def _ziggurat_slow(w, key, block, traj, step, zt, scratch):
    """Wedge and tail tests with the uniforms of ``block + 2k``.

    A rejected wedge word is replaced by the word of ``block + 2k + 1`` (the whole ziggurat
    restarts); a rejected tail draw keeps the word and redraws only the tail, so that every word
    landing in the tail region returns a tail variate (Marsaglia 1964; restarting the ziggurat
    instead would thin the tail by the tail acceptance rate, about 6.5 % at ``r = 3.654``).
    """
    r = zt[1, 1] * _TWO53                   # x_1: start of the tail (layer 0 extends beyond it)
    for k in range(SLOW_STRIDE // 2):
        idx = int(w & _MASK8)
        rabs = float(w >> _U11)
        z = rabs * zt[1, idx]
        sign = -1.0 if (w >> _U8) & _U1 else 1.0
        if rabs < zt[0, idx]:
            return sign * z
        u0 = _unit(_word(key, block + 2 * k, traj, step, scratch, 0))
        u1 = _unit(scratch[2, 0] << _U32 | scratch[3, 0])
        if idx == 0:                        # Marsaglia's tail: r + t, t ~ Exp(r) thinned
            t = -math.log(u0) / r
            if -2.0 * math.log(u1) > t * t:
                return sign * (r + t)
        elif zt[2, idx] + u0 * (zt[2, idx + 1] - zt[2, idx]) < math.exp(-0.5 * z * z):
            return sign * z
        else:
            w = _word(key, block + 2 * k + 1, traj, step, scratch, 0)
    return math.nan                         # unreachable: 65536 rejections in a row


@jit_inline
def _ziggurat(w, key, comp, traj, step, zt, scratch):
    """The normal of word ``w`` for component ``comp``: one table test, rarely the slow path."""
    idx = int(w & _MASK8)
    rabs = float(w >> _U11)
    if rabs < zt[0, idx]:
        return -rabs * zt[1, idx] if (w >> _U8) & _U1 else rabs * zt[1, idx]
    return _ziggurat_slow(w, key, SLOW + comp * SLOW_STRIDE, traj, step, zt, scratch)


@jit_serial
def normal_pair(key, zt, traj, step, m, scratch):
    """Normals ``2m`` and ``2m + 1`` of ``(traj, step)``: the values of :func:`normals_block`."""
    s = np.uint64(step)
    c0, c1, c2, c3 = philox4x32(np.uint64(m), np.uint64(traj), s & _MASK32, s >> _U32, key[0],
                                key[1])
    z0 = _ziggurat((c0 << _U32) | c1, key, 2 * m, traj, step, zt, scratch)
    return z0, _ziggurat((c2 << _U32) | c3, key, 2 * m + 1, traj, step, zt, scratch)


@jit_serial
def normals_block(key, zt, rows, step, words, scratch, z):
    """``z[i] =`` the ``d`` standard normals of trajectory ``rows[i]`` at ``step``.

    Ziggurat on one word: 8 bits pick the layer, 1 the sign, 53 the abscissa; ``zt (3, 257)``
    holds the acceptance bounds, the layer widths / 2^53 and ``exp(-x_i^2 / 2)``.
    """
    B, d = z.shape
    s = np.uint64(step)
    for m in range((d + 1) // 2):
        philox_words(np.uint64(m), rows, s & _MASK32, s >> _U32, key, words)
        for i in range(B):
            for e in range(min(2, d - 2 * m)):
                w = (words[2 * e, i] << _U32) | words[2 * e + 1, i]
                idx = int(w & _MASK8)
                rabs = float(w >> _U11)
                if rabs < zt[0, idx]:       # the fast path, written out: it must stay in the loop
                    z[i, 2 * m + e] = -rabs * zt[1, idx] if (w >> _U8) & _U1 else rabs * zt[1, idx]
                else:
                    z[i, 2 * m + e] = _ziggurat_slow(w, key, SLOW + (2 * m + e) * SLOW_STRIDE,
                                                     rows[i], step, zt, scratch)


@jit_parallel
def fill_normals(key, zt, traj0, step0, out):
    """``out[s, i, :]`` = the normals of trajectory ``traj0 + i`` at step ``step0 + s``."""
    n_steps, n = out.shape[0], out.shape[1]
    for b in prange((n + BLOCK - 1) // BLOCK):
        i0, i1 = b * BLOCK, min(n, (b + 1) * BLOCK)
        rows = np.arange(traj0 + i0, traj0 + i1)
        words, scratch = np.empty((4, i1 - i0), np.uint64), np.empty((5, 1), np.uint64)
        for s in range(n_steps):
            normals_block(key, zt, rows, step0 + s, words, scratch, out[s, i0:i1])


@jit_serial
def index_block(key, tag, block, stream, step):
    """The four 32-bit words of block ``block`` of the index draws ``tag`` of ``(stream, step)``
    (word ``j % 4`` of block ``j // 4`` serves draw ``j``)."""
    s = np.uint64(step)
    return philox4x32(np.uint64(block), np.uint64(stream), s & _MASK32,
                      (s >> _U32) | np.uint64(tag), key[0], key[1])


@jit_serial
def index_draw(word, n):
    """An integer in ``[0, n)`` from a 32-bit ``word``: ``(word n) >> 32`` (bias below
    ``n / 2^32``)."""
    return int((word * np.uint64(n)) >> _U32)
