"""Numba kernels of the table interpolation of the SDE ensembles.

Tables are flattened C-ordered cell arrays ``(n_cells, m)`` on a grid given by ``tgeo = [lo; h]``
(float ``(2, d)``) and ``tint = [n; periodic]`` (int ``(2, d)``); a one-row table is a constant.
"""

from __future__ import annotations

import math

import numpy as np

from .._numba import jit_serial

__all__ = ["interpolate", "locate"]


@jit_serial
def locate(x, tgeo, tint, idx, w):
    """Flat indices and weights ``idx, w (2^d, B)`` of the multilinear stencil at each row of x.

    Non-periodic axes use the two nearest cell centers, the first/last pair near the walls, so
    the weights extrapolate linearly there (and beyond); periodic axes wrap.  Affine functions
    are reproduced exactly up to rounding.  Any row, even non-finite, gets a valid stencil.
    """
    B, m = x.shape[0], 1
    i0, f = np.empty(B, np.int64), np.empty(B)
    idx[0, :], w[0, :] = 0, 1.0
    for k in range(x.shape[1]):
        n, lo, inv_h, periodic = tint[0, k], tgeo[0, k], 1.0 / tgeo[1, k], tint[1, k]
        for i in range(B):
            s = (x[i, k] - lo) * inv_h - 0.5
            if periodic:
                s = s % n if math.isfinite(s) else 0.0
                i0[i] = min(int(s), n - 1)
            else:                           # comparisons, not int(s): safe for NaN and huge s
                i0[i] = 0 if not s >= 1.0 else (n - 2 if s >= n - 2 else int(s))
            f[i] = s - i0[i]
        for c in range(m):                  # corner c + m takes the upper neighbour on axis k
            for i in range(B):
                i1 = (i0[i] + 1) % n if periodic else i0[i] + 1
                idx[c + m, i], w[c + m, i] = idx[c, i] * n + i1, w[c, i] * f[i]
                idx[c, i], w[c, i] = idx[c, i] * n + i0[i], w[c, i] * (1.0 - f[i])
        m *= 2


@jit_serial
def interpolate(tab, idx, w, out):
    """``out[i, j] = sum_c w[c, i] tab[idx[c, i], j]``; a one-row ``tab`` is a constant."""
    for j in range(out.shape[1]):
        for i in range(out.shape[0]):
            out[i, j] = tab[0, j] if tab.shape[0] == 1 else w[0, i] * tab[idx[0, i], j]
        for c in range(1 if tab.shape[0] > 1 else idx.shape[0], idx.shape[0]):
            for i in range(out.shape[0]):
                out[i, j] += w[c, i] * tab[idx[c, i], j]

