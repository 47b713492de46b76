"""Geometric multigrid on Cartesian grids: cell-centered transfers, Galerkin coarse operators.

The hierarchy coarsens every axis by two (cells ``2J`` and ``2J + 1`` merge into coarse cell
``J``; an odd last cell stays alone).  Interpolation ``P`` is the tensor product of 1-D linear
interpolation between coarse cell centers (constant beyond the outermost centers of a walled
axis, wrapped on a periodic one); restriction ``R`` sums the children (the transpose of
piecewise-constant interpolation).  Coarse operators are Galerkin products ``R A P``, so the
hierarchy needs only the fine matrix and the grid's shape: it works for any operator on the
grid, with or without a model that can be evaluated on coarser grids.  The summing restriction
keeps a generator's zero column sums on every level.  Cycles, Gauss-Seidel smoothing and the
Krylov acceleration are pyamg's.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["interpolation_1d", "aggregation_1d", "cartesian_hierarchy"]

#: Hierarchies stop coarsening at this many cells; the coarsest level is solved densely.
COARSE_CELLS = 2000


def coarse_shape(shape) -> tuple[int, ...]:
    """Cells per axis after one coarsening: ``ceil(n / 2)``."""
    return tuple((n + 1) // 2 for n in shape)


def interpolation_1d(n: int, periodic: bool = False) -> sp.csr_matrix:
    """``(n, ceil(n/2))`` linear interpolation from coarse to fine cell centers on one axis.

    Positions are measured in fine cells: fine center ``i`` sits at ``i``, coarse center ``J``
    at ``2J + 1/2`` (``2J`` for an odd last cell with a single child).  Every row sums to 1.

    >>> interpolation_1d(4).toarray()
    array([[1.  , 0.  ],
           [0.75, 0.25],
           [0.25, 0.75],
           [0.  , 1.  ]])
    """
    nc = (n + 1) // 2
    centers = 2.0 * np.arange(nc) + 0.5
    if n % 2:
        centers[-1] = n - 1.0
    fine = np.arange(n, dtype=float)
    right = np.searchsorted(centers, fine, side="right")   # first coarse center > fine
    left = right - 1
    if periodic:
        lo = np.where(left >= 0, centers[left % nc], centers[-1] - n)
        hi = np.where(right < nc, centers[right % nc], centers[0] + n)
        w_hi = (fine - lo) / (hi - lo)
        left, right = left % nc, right % nc
    else:
        left, right = np.clip(left, 0, nc - 1), np.clip(right, 0, nc - 1)
        span = centers[right] - centers[left]
        w_hi = np.divide(fine - centers[left], span, out=np.zeros(n), where=span > 0)
    rows = np.concatenate([np.arange(n), np.arange(n)])
    cols = np.concatenate([left, right])
    vals = np.concatenate([1.0 - w_hi, w_hi])
    return sp.csr_matrix((vals, (rows, cols)), shape=(n, nc))


def aggregation_1d(n: int) -> sp.csr_matrix:
    """``(ceil(n/2), n)`` restriction that sums the two children of every coarse cell."""
    fine = np.arange(n)
    return sp.csr_matrix((np.ones(n), (fine // 2, fine)), shape=((n + 1) // 2, n))


def _kron(factors) -> sp.csr_matrix:
    out = factors[0]
    for f in factors[1:]:
        out = sp.kron(out, f, format="csr")
    return sp.csr_matrix(out)


def cartesian_hierarchy(A, shape, periodic, *, coarse_cells: int = COARSE_CELLS):
    """pyamg ``MultilevelSolver`` for a matrix ``A`` on a C-ordered Cartesian grid ``shape``.

    Parameters
    ----------
    A : sparse matrix
        ``(N, N)`` with ``N = prod(shape)``, unknowns in C order (last axis fastest).
    shape : tuple of int
        Cells per axis.
    periodic : tuple of bool
        Per axis: wrap the interpolation around the ring.
    coarse_cells : int
        Coarsening stops once a level has at most this many cells.

    Smoothing is one forward Gauss-Seidel sweep before and one backward sweep after the
    coarse correction; the coarsest level is solved with the pseudo-inverse.

    >>> import numpy as np, scipy.sparse as sp
    >>> lap = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(64, 64), format="csr")
    >>> ml = cartesian_hierarchy(lap + sp.eye(64) * 1e-3, (64,), (False,), coarse_cells=8)
    >>> [level.A.shape[0] for level in ml.levels]
    [64, 32, 16, 8]
    """
    import pyamg
    from pyamg.relaxation.smoothing import change_smoothers

    shape = tuple(int(n) for n in shape)
    if int(np.prod(shape)) != A.shape[0]:
        raise ValueError(f"A: expected {int(np.prod(shape))} rows for shape {shape}, "
                         f"got {A.shape[0]}")
    levels = []
    A = sp.csr_matrix(A)
    while True:
        level = pyamg.MultilevelSolver.Level()
        level.A = A
        levels.append(level)
        if A.shape[0] <= coarse_cells or max(shape) < 2:
            break
        level.P = _kron([interpolation_1d(n, per) for n, per in zip(shape, periodic)])
        level.R = _kron([aggregation_1d(n) for n in shape])
        A = sp.csr_matrix(level.R @ (A @ level.P))
        shape = coarse_shape(shape)
    ml = pyamg.MultilevelSolver(levels, coarse_solver="splu")
    change_smoothers(ml, presmoother=("gauss_seidel", {"sweep": "forward"}),
                     postsmoother=("gauss_seidel", {"sweep": "backward"}))
    return ml
