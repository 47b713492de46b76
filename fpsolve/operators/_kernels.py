"""Numba kernels of the finite-volume operator (flattened, C-ordered cell arrays).

A bond family ``k`` connects every cell ``x`` with ``nbr[k, x]`` (-1 where the bond leaves the
box); ``prev[k, x]`` is the cell whose bond of family ``k`` ends in ``x``.  The rates are
``rf[k, x]`` (``x -> nbr``) and ``rb[k, x]`` (``nbr -> x``).  The bond flux ``rf p_x - rb p_nbr``
is the single quantity from which operator, matrix and current are all built.
"""

from __future__ import annotations

import numpy as np

from .._numba import jit_parallel, prange

__all__ = ["bond_fluxes", "flux_divergence", "assemble_csr", "fitted_rates", "weighted_rates",
           "shifted_index"]


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


@jit_parallel
def fitted_rates(c, drop, nbr, rf, rb):
    """Exponentially fitted rates ``rf = c B(drop)``, ``rb = c B(-drop)``, ``B(z) = z/(e^z - 1)``.

    Each direction uses its own ``expm1`` (no ``B(-z) = B(z) + z`` shortcut, which cancels
    catastrophically for large ``|z|``); beyond ``|z| > 700`` (``exp`` would overflow) the exact
    limits ``B(z) = 0`` and ``B(-z) = z`` to double precision are used.  Zero where the bond is
    absent (``nbr < 0``).
    """
    for x in prange(c.size):
        z = drop[x]
        if nbr[x] < 0:
            rf[x], rb[x] = 0.0, 0.0
        elif z == 0.0:
            rf[x], rb[x] = c[x], c[x]
        elif z > 700.0:
            rf[x], rb[x] = 0.0, c[x] * z
        elif z < -700.0:
            rf[x], rb[x] = -c[x] * z, 0.0
        else:
            rf[x] = c[x] * z / np.expm1(z)
            rb[x] = -c[x] * z / np.expm1(-z)


@jit_parallel
def weighted_rates(c, drop, fit, nbr, rf, rb):
    """Rates with a fitted symmetric weight: ``rf = c w e^(-drop/2)``, ``rb = c w e^(drop/2)``,
    ``w = (fit/2) / sinh(fit/2)``.

    ``rf / rb = exp(-drop)`` whatever ``fit`` is; ``fit = drop`` gives Scharfetter-Gummel,
    ``fit = 0`` the square-root approximation.  ``log w`` is formed without cancellation
    (series below ``|fit| < 1e-3``, truncation ~ fit^6 / 181440); exponents are capped at 700 so no
    rate overflows.  Zero where the bond is absent (``nbr < 0``).
    """
    for x in prange(c.size):
        a = abs(fit[x])
        if a < 1e-3:
            logw = -a * a / 24.0 + a ** 4 / 2880.0
        else:
            logw = np.log(a) - 0.5 * a - np.log(-np.expm1(-a))
        half = 0.5 * drop[x]
        present = nbr[x] >= 0
        rf[x] = c[x] * np.exp(min(logw - half, 700.0)) if present else 0.0
        rb[x] = c[x] * np.exp(min(logw + half, 700.0)) if present else 0.0


@jit_parallel
def shifted_index(shape, periodic, off, nbr, prev):
    """``nbr[x]`` = flat index of cell ``x + off`` (wrapped on periodic axes, -1 outside) and
    its inverse ``prev[nbr[x]] = x`` (``prev`` must be pre-filled with -1)."""
    d = shape.size
    for i in prange(nbr.size):
        x = np.int64(i)  # prange indices may be unsigned; keep all index arithmetic in int64
        rem, y, stride, inside = x, np.int64(0), np.int64(1), True
        for a in range(d - 1, -1, -1):
            j = rem % shape[a] + off[a]
            rem //= shape[a]
            if j < 0 or j >= shape[a]:
                inside = inside and periodic[a]
                j %= shape[a]
            y += j * stride
            stride *= shape[a]
        nbr[x] = y if inside else -1
        if inside:
            prev[y] = x
