"""Numba kernels of the counter-based normal variates of the SDE ensembles.

Every variate is a pure function of ``(key, block, trajectory, step)``: the Philox4x32-10 block
cipher (Salmon et al., SC'11) maps the counter ``(block, traj, step_lo, step_hi)`` and the 64-bit
key ``(key[0], key[1])`` to 128 bits, read as two 64-bit words.  Normals come from a 256-layer
ziggurat (Marsaglia & Tsang 2000), one word each; the rare rejections (about 1 %) draw further
words from their own counter blocks.  No state is carried, so results do not depend on the
number of threads or on how trajectories are split.  Counter blocks: ``m`` (normals ``2m`` and
``2m + 1`` of a step), ``BRIDGE + axis`` (uniforms of the Brownian-bridge exit test),
``SLOW + component * SLOW_STRIDE + k`` (ziggurat rejections).
"""

from __future__ import annotations

import math

import numpy as np

from .._numba import jit_parallel, jit_serial, philox4x32_lanes, prange

__all__ = ["fill_normals", "normals_block", "philox_words"]

BRIDGE, SLOW, SLOW_STRIDE = 0x40000000, 0x80000000, 0x20000
BLOCK = 256                                 # trajectories per block of the step kernel

_MASK32, _MASK8 = np.uint64(0xFFFFFFFF), np.uint64(0xFF)
_U1, _U8, _U11, _U32 = np.uint64(1), np.uint64(8), np.uint64(11), np.uint64(32)
_TWO53 = 9007199254740992.0


# Philox4x32-10 over a vector of counters: the shared implementation of fpsolve._numba.
philox_words = philox4x32_lanes


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
                if rabs < zt[0, idx]:
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

