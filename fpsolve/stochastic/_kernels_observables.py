"""Numba kernels of the streaming observables of the SDE ensembles: histograms, cell currents
and line integrals along the paths.

Reductions over trajectories use a fixed number of blocks (rows of the accumulators), so no sum
depends on the thread count; tables are as in :mod:`fpsolve.stochastic._kernels_tables`.
"""

from __future__ import annotations

import math

import numpy as np

from .._numba import jit_parallel, jit_serial, prange
from .._random import BLOCK
from ._kernels_tables import interpolate, locate

__all__ = ["cells_block", "current_update", "histogram_update", "line_integral_update"]


@jit_serial
def cells_block(x, glo, gh, gn, out):
    """Flat C-order cell index of each row of ``x`` on a grid, -1 outside or non-finite (points
    on the upper walls belong to the last cells)."""
    for i in range(x.shape[0]):
        c = 0
        for k in range(x.shape[1]):
            if not glo[k] <= x[i, k] <= glo[k] + gh[k] * gn[k]:
                c = -1
                break
            c = c * gn[k] + min(int((x[i, k] - glo[k]) / gh[k]), gn[k] - 1)
        out[i] = c


@jit_parallel
def histogram_update(path, rows, glo, gh, gn, edges, counts):
    """``counts[b, cell] += 1`` for the finite ``path[r, i]``, ``r`` in ``rows``, where
    trajectory ``i`` belongs to block ``b``, ``edges[b] <= i < edges[b + 1]`` (fixed blocks, so
    no sum depends on the thread count or on how the trajectories are sharded)."""
    for b in prange(counts.shape[0]):
        i0, i1 = edges[b], edges[b + 1]
        cell = np.empty(i1 - i0, dtype=np.int64)
        for r in rows:
            cells_block(path[r, i0:i1], glo, gh, gn, cell)
            for c in cell:
                if c >= 0:
                    counts[b, c] += 1


@jit_serial
def _midpoints(x0, x1, glo, period, dx, mid):
    """Increments (minimum image on axes with ``period > 0``) and wrapped midpoints, by row."""
    for i in range(x0.shape[0]):
        for k in range(x0.shape[1]):
            dx[i, k] = x1[i, k] - x0[i, k]
            if period[k] > 0.0 and math.isfinite(dx[i, k]):
                dx[i, k] -= period[k] * round(dx[i, k] / period[k])
            mid[i, k] = x0[i, k] + 0.5 * dx[i, k]
            if period[k] > 0.0:
                mid[i, k] = glo[k] + (mid[i, k] - glo[k]) % period[k]


@jit_parallel
def current_update(path, rows, glo, gh, gn, period, edges, acc):
    """``acc[b, cell(mid), :] += x_r - x_{r-1}`` over ``r`` in ``rows`` (blocks as in
    :func:`histogram_update`); steps with a non-finite end fall outside every cell."""
    d = path.shape[2]
    for b in prange(acc.shape[0]):
        i0, i1 = edges[b], edges[b + 1]
        dx, mid, cell = np.empty((i1 - i0, d)), np.empty((i1 - i0, d)), np.empty(i1 - i0, np.int64)
        for r in rows:
            _midpoints(path[r - 1, i0:i1], path[r, i0:i1], glo, period, dx, mid)
            cells_block(mid, glo, gh, gn, cell)
            for i in range(i1 - i0):
                for k in range(d if cell[i] >= 0 else 0):
                    acc[b, cell[i], k] += dx[i, k]


@jit_parallel
def line_integral_update(path, rows, tgeo, tint, period, field, potential, total, snap, snaps):
    """Per trajectory ``total[i] += F(mid) . dx - (U(x_r) - U(x_{r-1}))`` over ``r`` in ``rows``.

    ``field (n_cells, d)`` and ``potential (n_cells, 1)`` (or ``(0, 1)``: none) are tables on
    ``tgeo, tint``; after ``rows[j]`` the totals go to ``snaps[snap[j]]`` when ``snap[j] >= 0``.
    Steps with a non-finite end add nothing.
    """
    n, d = path.shape[1], path.shape[2]
    for b in prange((n + BLOCK - 1) // BLOCK):
        i0, i1 = b * BLOCK, min(n, (b + 1) * BLOCK)
        B = i1 - i0
        dx, mid, f, u = np.empty((B, d)), np.empty((B, d)), np.empty((B, d)), np.empty((B, 2))
        idx, w = np.empty((2 ** d, B), np.int64), np.empty((2 ** d, B))
        for j in range(rows.size):
            r = rows[j]
            _midpoints(path[r - 1, i0:i1], path[r, i0:i1], tgeo[0], period, dx, mid)
            locate(mid, tgeo, tint, idx, w)
            interpolate(field, idx, w, f)
            u[:] = 0.0
            for e in range(2 if potential.shape[0] > 0 else 0):
                locate(path[r - e, i0:i1], tgeo, tint, idx, w)
                interpolate(potential, idx, w, u[:, e:e + 1])
            for i in range(B):
                for k in range(d if math.isfinite(dx[i, 0]) else 0):
                    total[i0 + i] += f[i, k] * dx[i, k]
                total[i0 + i] -= u[i, 0] - u[i, 1] if math.isfinite(dx[i, 0]) else 0.0
                if snap[j] >= 0:
                    snaps[snap[j], i0 + i] = total[i0 + i]
