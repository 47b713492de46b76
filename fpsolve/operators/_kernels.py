"""Numba kernels of the finite-volume operator (flattened, C-ordered cell arrays).

A bond family ``k`` connects every cell ``x`` with ``nbr[k, x]`` (-1 where the bond leaves the
box); ``prev[k, x]`` is the cell whose bond of family ``k`` ends in ``x``.  The rates are
``rf[k, x]`` (``x -> nbr``) and ``rb[k, x]`` (``nbr -> x``).  The bond flux ``rf p_x - rb p_nbr``
is the single quantity from which operator, matrix and current are all built.
"""

from __future__ import annotations

from .._numba import jit_parallel, prange

__all__ = ["bond_fluxes", "flux_divergence", "assemble_csr"]


@jit_parallel
def bond_fluxes(rf, rb, nbr, p, out):
    """Net flux of every bond, ``out[k, x] = rf[k, x] p[x] - rb[k, x] p[nbr[k, x]]``."""
    K, n = rf.shape
    for x in prange(n):
        for k in range(K):
            y = nbr[k, x]
            out[k, x] = rf[k, x] * p[x] - rb[k, x] * p[y] if y >= 0 else 0.0


@jit_parallel
def flux_divergence(flux, prev, exit_rate, p, out):
    """``out[x] = dp_x/dt``: inflow minus outflow of the bond fluxes, minus exits."""
    K, n = flux.shape
    for x in prange(n):
        s = -exit_rate[x] * p[x]
        for k in range(K):
            s -= flux[k, x]
            q = prev[k, x]
            if q >= 0:
                s += flux[k, q]
        out[x] = s


@jit_parallel
def assemble_csr(rf, rb, nbr, prev, exit_rate, indices, data):
    """Rows of the generator ``G`` (``dp/dt = G p``), ``2K + 1`` slots per row.

    Slot 0 is the diagonal, minus the sum of the rates out of ``x``; absent bonds get a zero
    entry on the diagonal column that ``sum_duplicates`` later merges away.
    """
    K, n = rf.shape
    w = 2 * K + 1
    for x in prange(n):
        base = x * w
        diag = -exit_rate[x]
        for k in range(K):
            y = nbr[k, x]
            q = prev[k, x]
            j = base + 1 + 2 * k
            indices[j] = y if y >= 0 else x
            data[j] = rb[k, x] if y >= 0 else 0.0
            indices[j + 1] = q if q >= 0 else x
            data[j + 1] = rf[k, q] if q >= 0 else 0.0
            if y >= 0:
                diag -= rf[k, x]
            if q >= 0:
                diag -= rb[k, q]
        indices[base] = x
        data[base] = diag

