"""Numba kernels of SGD on a two-parameter slice, with streaming grid observables.

Only the parameters ``free = (i, j)`` move: ``w_k <- w_k - eta (grad L_batch)_k`` for ``k`` in
``free``; the batches are those of :func:`fpsolve.learning.sgd` (same key, chain and step give
the same batch, :func:`fpsolve.learning._kernels.step_gradient`).  After the burn-in every step
``x -> x'`` of the slice coordinates ``x = (w_i, w_j)`` adds, on a grid with geometry
``geo = (lo_0, h_0, lo_1, h_1)`` and ``shape = (n_0, n_1)``:

* one visit to the cell of ``x'`` (histogram);
* the increment ``x' - x`` to the cell of the midpoint ``(x + x') / 2`` (Stratonovich current);
* ``F((x + x') / 2) . (x' - x)`` to the chain's medium entropy production, ``F`` bilinearly
  interpolated from cell-center tables (clamped to the outermost centers).

Chains are grouped in ``hist.shape[0]`` fixed blocks (``prange`` over blocks, chains of a block in
order), so no sum depends on the number of threads.
"""

from __future__ import annotations

import math

from .._numba import jit_parallel, jit_serial, prange
from ._kernels import step_gradient

__all__ = ["bilinear", "cell_index", "interpolate", "slice_chain", "slice_chunk"]


@jit_serial
def cell_index(u, v, geo, shape):
    """Flat C-order index of the cell holding ``(u, v)``; -1 outside the box or non-finite."""
    s, t = (u - geo[0]) / geo[1], (v - geo[2]) / geo[3]
    if not (0.0 <= s < shape[0] and 0.0 <= t < shape[1]):
        return -1
    return int(s) * shape[1] + int(t)


@jit_serial
def bilinear(table, u, v, geo, shape):
    """Bilinear interpolation of ``table (n_0 n_1,)`` (cell-center values) at ``(u, v)``."""
    s = min(max((u - geo[0]) / geo[1] - 0.5, 0.0), shape[0] - 1.0)
    t = min(max((v - geo[2]) / geo[3] - 0.5, 0.0), shape[1] - 1.0)
    a, b = min(int(s), shape[0] - 2), min(int(t), shape[1] - 2)
    fs, ft, n1 = s - a, t - b, shape[1]
    return ((1.0 - fs) * ((1.0 - ft) * table[a * n1 + b] + ft * table[a * n1 + b + 1])
            + fs * ((1.0 - ft) * table[(a + 1) * n1 + b] + ft * table[(a + 1) * n1 + b + 1]))


@jit_serial
def interpolate(table, pts, geo, shape, out):
    """``out[k] = bilinear(table, *pts[k])`` for points ``pts (n, 2)``."""
    for k in range(pts.shape[0]):
        out[k] = bilinear(table, pts[k, 0], pts[k, 1], geo, shape)


@jit_serial
def _observe(u0, v0, u1, v1, geo, shape, force, hist, cur, acc):
    """Add the step ``(u0, v0) -> (u1, v1)`` to the histogram, current and ``acc``."""
    du, dv = u1 - u0, v1 - v0
    um, vm = u0 + 0.5 * du, v0 + 0.5 * dv
    acc[0] += bilinear(force[0], um, vm, geo, shape) * du + bilinear(force[1], um, vm, geo,
                                                                   shape) * dv
    acc[1] += 1.0
    c = cell_index(u1, v1, geo, shape)
    if c >= 0:
        hist[c] += 1
    else:
        acc[2] += 1.0
    c = cell_index(um, vm, geo, shape)
    if c >= 0:
        cur[c, 0] += du
        cur[c, 1] += dv


@jit_serial
def slice_chain(kind, x, y, a, c, m, key, wor, b, eta, free, step0, n_steps, count, chain,
                w, geo, shape, force, pool, tmp, grad, hist, cur, acc):
    """Advance one chain; return the first step whose result is not finite, or -1.

    ``count`` False runs the steps without observing them (burn-in).
    """
    i, j = free[0], free[1]
    for t in range(step0, step0 + n_steps):
        u0, v0 = w[i], w[j]
        step_gradient(kind, x, y, a, c, m, key, wor, b, chain, t, t == step0, w, pool, tmp,
                      grad)
        w[i] -= eta * grad[i]
        w[j] -= eta * grad[j]
        if not (math.isfinite(w[i]) and math.isfinite(w[j])):
            return t
        if count:
            _observe(u0, v0, w[i], w[j], geo, shape, force, hist, cur, acc)
    return -1


@jit_parallel
def slice_chunk(kind, x, y, a, c, m, key, wor, b, eta, free, step0, n_steps, count, w, geo,
                shape, force, pool, tmp, grad, hist, cur, acc, status):
    """All chains ``w (C, d)`` of one chunk; ``hist (nb, n)``, ``cur (nb, n, 2)`` per block,
    ``acc (C, 3)`` = (medium entropy, counted steps, steps ending outside), ``status (C,)``."""
    n_chains, nb = w.shape[0], hist.shape[0]
    for blk in prange(nb):
        for ch in range(blk * n_chains // nb, (blk + 1) * n_chains // nb):
            status[ch] = slice_chain(kind, x, y, a, c, m, key, wor, b, eta, free, step0,
                                     n_steps, count, ch, w[ch], geo, shape, force, pool[ch],
                                     tmp[ch], grad[ch], hist[blk], cur[blk], acc[ch])
