"""Componentwise-accurate stationary densities: GTH elimination on a nested dissection.

The finite-volume generator is an M-matrix whose off-diagonal entries are the bond rates.  An
LU factorization forms each pivot by subtracting from a stored diagonal; when inter-well rates
are far below intra-well ones (metastability) or the density spans many decades (tails), those
subtractions cancel and the answer loses all relative accuracy: wrong well weights, tails at a
round-off floor, negative entries.  The Grassmann-Taksar-Heyman (GTH) variant of Gaussian
elimination forms every pivot as a *sum* of off-diagonal rates, and every update adds a product
of non-negative numbers, so each entry of the answer carries a small relative error
(O(n eps) per elimination path) independent of the spread of the rates.  The elimination is
ordered by nested dissection of the Cartesian box (separator planes, small leaf boxes), which
keeps the fill of the sparse factors at that of a sparse LU; each node of the dissection tree is
eliminated in a dense frontal matrix by a numba kernel.  Back substitution runs in the log
domain, so densities spanning more than the floating-point range keep relative accuracy
wherever the answer is representable.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .._numba import one_blas_thread
from ..errors import SolverError
from . import _kernels

__all__ = ["gth_stationary", "mode_estimate", "GTH_LEAF", "GTH_MEMORY_BYTES"]

#: Largest box (in cells) eliminated as one leaf of the dissection.
GTH_LEAF = 16
#: The factors may take at most this much memory (bytes).
GTH_MEMORY_BYTES = 6 * 2**30


def gth_stationary(G, shape, periodic, *, leaf: int = GTH_LEAF) -> np.ndarray:
    """Stationary vector of the generator ``G`` (columns sum to zero, ``G[y, x]`` = rate
    ``x -> y``) of a Cartesian grid of ``shape`` cells, as ``log p`` up to a constant.

    Parameters
    ----------
    G : scipy.sparse matrix, shape (n, n)
        Generator with non-negative off-diagonal entries; its diagonal is not read.
    shape : tuple of int
        Grid shape (1-3 axes), C order.
    periodic : sequence of bool
        Periodic axes (the dissection cuts the ring).

    Returns
    -------
    log_p : ndarray, shape (n,)
        ``log`` of the unnormalized stationary vector (``-inf`` for transient states).

    Raises
    ------
    SolverError
        Negative off-diagonal rates, a reducible generator, or factors beyond
        ``GTH_MEMORY_BYTES``.
    """
    G = sp.csr_matrix(G)
    n = G.shape[0]
    off = G.copy()
    off.setdiag(0.0)
    off.eliminate_zeros()
    if off.nnz and off.data.min() < 0:
        raise SolverError("method='gth': the generator has negative off-diagonal rates (not an "
                          "M-matrix); GTH needs non-negative rates")
    shape3 = np.ones(3, np.int64)
    shape3[:len(shape)] = shape
    per3 = np.zeros(3, np.int64)
    per3[:len(shape)] = np.asarray(periodic, dtype=np.int64)
    center = np.full(3, -1, np.int64)
    center[:len(shape)] = np.unravel_index(mode_estimate(G), tuple(shape))
    tree = _dissection(shape3, per3, leaf, center, n)
    pattern = (abs(off) + abs(off).T).tocsr()
    front_ptr, front_idx, npiv = _fronts(shape3, tree, pattern)
    return _factor_and_solve(off, front_ptr, front_idx, npiv, tree[-1])


def mode_estimate(G) -> int:
    """The cell with the largest ratio of total rate in to total rate out of the generator ``G``
    (``G[y, x]`` = rate ``x -> y``): a local estimate of the mode.  GTH lays its root separator
    through it (every node's box then excludes the mode, so for unimodal densities each state
    eliminated has a remaining neighbour at least as likely as itself, and no censored exit rate
    underflows however deep the tails); the normwise solves pin it when no coarse solve exists."""
    G = sp.csr_matrix(G)
    outflow = -G.diagonal()
    inflow = np.asarray(G.sum(axis=1)).ravel() + outflow
    return int(np.argmax(inflow / np.maximum(outflow, np.finfo(float).tiny)))


def _dissection(shape3, per3, leaf, center, n):
    lo, hi = np.zeros((n, 3), np.int64), np.zeros((n, 3), np.int64)
    axis, wrap, parent, split = (np.zeros(n, np.int64) for _ in range(4))
    T = _kernels.dissect(shape3, per3, int(leaf), center, lo, hi, axis, wrap, parent, split)
    return lo[:T], hi[:T], axis[:T], wrap[:T], split[:T], parent[:T]


def _fronts(shape3, tree, pattern):
    lo, hi, axis, wrap, split, _ = tree
    T = len(lo)
    front_ptr, npiv = np.zeros(T + 1, np.int64), np.zeros(T, np.int64)
    args = (shape3, lo, hi, axis, wrap, split, pattern.indptr.astype(np.int64),
            pattern.indices.astype(np.int64))
    total = _kernels.fronts(*args, False, front_ptr, np.empty(0, np.int64), npiv)
    front_idx = np.empty(total, np.int64)
    _kernels.fronts(*args, True, front_ptr, front_idx, npiv)
    return front_ptr, front_idx, npiv


def _factor_and_solve(off, front_ptr, front_idx, npiv, parent):
    n, T = off.shape[0], len(npiv)
    f = np.diff(front_ptr)
    u = f - npiv
    L_ptr = np.concatenate([[0], np.cumsum(f * npiv)])
    C_ptr = np.concatenate([[0], np.cumsum(u * u)])
    need = 8 * (L_ptr[-1] + C_ptr[-1])
    if need > GTH_MEMORY_BYTES:
        raise SolverError(f"method='gth': the factors need {need / 2**30:.1f} GiB (limit "
                          f"{GTH_MEMORY_BYTES / 2**30:.0f} GiB, GTH_MEMORY_BYTES); "
                          "use a coarser grid")
    # Children of the node with elimination index e (parents are preorder ids t = T - 1 - e).
    elim_parent = np.where(parent >= 0, T - 1 - parent, T)[::-1]
    order = np.argsort(elim_parent, kind="stable")
    child_ptr = np.searchsorted(elim_parent[order], np.arange(T + 1))
    outgoing, incoming = off.tocsc(), off.tocsr()
    s = np.zeros(n)
    L, C = np.empty(L_ptr[-1]), np.empty(C_ptr[-1])
    with one_blas_thread():
        zero = _kernels.gth_factor(
            front_ptr, front_idx, npiv, child_ptr.astype(np.int64), order.astype(np.int64),
            outgoing.indptr.astype(np.int64), outgoing.indices.astype(np.int64), outgoing.data,
            incoming.indptr.astype(np.int64), incoming.indices.astype(np.int64), incoming.data,
            L_ptr, L, C_ptr, C, s, np.full(n, -1, np.int64))
    if zero > 1:
        raise SolverError(f"method='gth': {zero - 1} states have no rate out to the states not "
                          "yet eliminated: the generator is reducible (disconnected cells or "
                          "rates that underflow to zero)")
    log_p = np.full(n, -np.inf)
    _kernels.gth_back_substitute(front_ptr, front_idx, npiv, L_ptr, L, s, log_p)
    return log_p
