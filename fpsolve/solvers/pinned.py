"""Normwise linear solves of the stationary problem: sparse LU of the pinned or bordered
system, and Krylov solves preconditioned with multigrid, started from a coarse-grid solve.

These are fast but determine each entry only to round-off *relative to the largest*: deep tails
sit at a floor near ``eps max p`` and the weights of metastable wells are lost (see
:mod:`fpsolve.solvers.gth` for the componentwise-accurate elimination).
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..errors import SolverError
from .conditioning import plane_conductance
from .gth import gth_stationary, mode_estimate
from .multigrid import multilevel_solve

__all__ = ["solve_by_method", "lu_solve", "pinned_system", "relative_residual", "accepted",
           "coarse_guess", "solve_pinned_lu", "solve_multilevel", "gth_density", "LINEAR_METHODS"]

log = logging.getLogger(__name__)

#: Largest number of cells solved directly by ``solve_by_method``'s "auto", per dimension
#: (fill-in grows with d).
DIRECT_LIMIT = {1: 10**7, 2: 25_000, 3: 8_000}
#: When multigrid fails under "auto", grids up to this many cells are solved directly (faster
#: than classical AMG there: 0.34 s vs 0.68 s at 300^2), larger ones with classical AMG.
FALLBACK_DIRECT_LIMIT = {1: 10**7, 2: 200_000, 3: 30_000}
#: Grids up to this many cells are solved with the bordered system directly.
BORDERED_LIMIT = 4096
LINEAR_METHODS = ("auto", "direct", "multigrid", "amg")
#: Largest solve for the coarse-grid guess of the pin and the iterative start.
COARSE_GUESS_CELLS = 20_000


def gth_density(op) -> np.ndarray:
    """Unnormalized stationary density of ``op`` by GTH elimination, largest entry 1."""
    log_p = gth_stationary(op.matrix(), op.grid.shape, op.grid.periodic)
    return np.exp(log_p - log_p.max())


def solve_by_method(grid, method: str, direct, multilevel):
    """Run the linear solve named ``method``, with the ``"auto"`` choice and its fallbacks.

    ``direct()`` returns the solution; ``multilevel(name)`` (``name`` ``"multigrid"`` or
    ``"amg"``) returns ``(x, iterations, info)`` with ``info = 0`` when accepted.  ``"auto"``
    solves directly up to ``DIRECT_LIMIT`` cells and with multigrid beyond; when multigrid
    fails, directly up to ``FALLBACK_DIRECT_LIMIT`` cells, with classical AMG beyond.
    Returns ``(x, iterations, info, method)``, ``method`` naming what ran
    (e.g. ``"multigrid -> amg"``).
    """
    if method not in LINEAR_METHODS:
        raise SolverError(f"method: unknown name {method!r}; expected one of {LINEAR_METHODS}")
    auto = method == "auto"
    if auto:
        method = "direct" if grid.size <= DIRECT_LIMIT.get(grid.ndim, 10**4) else "multigrid"
    if method == "direct":
        return direct(), 0, 0, method
    x, its, info = multilevel(method)
    if info and auto:
        # Geometric multigrid suits diffusion-dominated operators; strong advection on the
        # coarse levels (cell Peclet number >> 1) breaks it.  Then a direct solve where it is
        # affordable, classical AMG beyond.
        if grid.size <= FALLBACK_DIRECT_LIMIT.get(grid.ndim, 10**4):
            return direct(), its, 0, "multigrid -> direct"
        x, more, info = multilevel("amg")
        return x, its + more, info, "multigrid -> amg"
    return x, its, info, method


def lu_solve(A, b) -> np.ndarray:
    """Sparse LU solve of ``A x = b``.  Minimum degree on ``A + A^T``: generators have a
    structurally symmetric pattern, and this ordering halves the LU fill of SuperLU's default
    COLAMD on 2-D grids (measured at 200^2-400^2)."""
    return spla.splu(sp.csc_matrix(A), permc_spec="MMD_AT_PLUS_A").solve(b)


def solve_pinned_lu(op) -> np.ndarray:
    """Sparse LU of the system pinned at the mode of a coarser solve; the bordered system for
    small grids and as the fallback when no coarser grid exists or the pinned solve fails."""
    if op.grid.size <= BORDERED_LIMIT:
        return _solve_bordered(op)
    pin, _, _ = coarse_guess(op)
    if pin is None:
        return _solve_bordered(op)
    A, b, _ = pinned_system(op.matrix(), pin)
    q = lu_solve(A, b)
    ok = np.all(np.isfinite(q)) and q.sum() > 0 and q.min() >= -1e-8 * q.max()
    return q if ok else _solve_bordered(op)


def _solve_bordered(op) -> np.ndarray:
    """Direct solve of the bordered system ``[[G, 1], [V^T, 0]] [p; lam] = [0; 1]``.

    Nonsingular for an irreducible generator (``1`` is not in the range of ``G``, whose columns
    sum to zero, and ``V^T p > 0``); ``lam`` is zero in exact arithmetic.  No cell is pinned, so
    densities spanning more than the floating-point range underflow harmlessly in the tails.
    The dense border makes the fill-reducing ordering slow on large grids (8 s at 400^2 against
    0.7 s pinned), hence its use for small grids and as a fallback only.
    """
    G, n = op.matrix(), op.grid.size
    ones = sp.csc_matrix(np.ones((n, 1)))
    vol = sp.csr_matrix(np.full((1, n), op.grid.cell_volume))
    M = sp.bmat([[G, ones], [vol, None]], format="csc")
    rhs = np.zeros(n + 1)
    rhs[-1] = 1.0
    return spla.splu(M).solve(rhs)[:n]


def pinned_system(G: sp.csr_matrix, pin: int) -> tuple[sp.csr_matrix, np.ndarray, int]:
    """Nonsingular system ``A q = b`` equivalent to ``G p = 0`` with ``p[pin] = 1``.

    ``A = -G`` with column ``pin`` moved to ``b`` and row ``pin`` replaced by the identity row
    (the generator always stores its diagonal, so the sparsity pattern is reused as is).
    """
    A = G.tocsr(copy=True)
    A.data *= -1.0
    rows = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
    in_column = A.indices == pin
    b = np.zeros(A.shape[0])
    b[rows[in_column]] = -A.data[in_column]
    A.data[in_column] = 0.0
    start, stop = A.indptr[pin], A.indptr[pin + 1]
    A.data[start:stop] = np.where(A.indices[start:stop] == pin, 1.0, 0.0)
    b[pin] = 1.0
    A.eliminate_zeros()
    return A, b, pin


def relative_residual(G, p) -> float:
    """``||G p||_2 / ||diag(G) p||_2``: net imbalance relative to the gross outflow."""
    p = np.ravel(p)
    scale = np.linalg.norm(G.diagonal() * p)
    return float(np.linalg.norm(G @ p) / scale) if scale > 0 else float("inf")


def solve_multilevel(op, method, pin, guess, *, tol, maxiter):
    """Pinned system solved by :func:`~fpsolve.solvers.multigrid.multilevel_solve` (GMRES with
    one W-cycle of the geometric or the classical algebraic hierarchy per iteration).  ``pin``
    and the initial ``guess`` come from :func:`coarse_guess` (``None``: the cell with the
    largest inflow/outflow ratio, no guess): the pinned cell then sits at the mode, so the
    pinned solution stays within floating-point range, and the guess saves iterations.
    Returns ``(q, iterations, info)`` with ``info = 0`` when the relative residual is accepted.
    """
    pin = mode_estimate(op.matrix()) if pin is None else pin
    A, b, _ = pinned_system(op.matrix(), pin)
    x0 = None if guess is None else guess / guess[pin]
    q, its, levels = multilevel_solve(A, b, op.grid, method, x0, tol=tol, maxiter=maxiter)
    res = relative_residual(op.matrix(), q)
    log.info("%s: %d levels, %d iterations, relative residual %.2e", method, levels, its, res)
    return q, its, int(not accepted(res, tol))


def coarse_guess(op):
    """``(pin, guess, conditioning)``: the mode and the linearly interpolated density of a GTH
    solve on a grid coarser by a power of two per axis (at most ``COARSE_GUESS_CELLS`` cells and
    1/16 of the fine grid; axes shorter than 16 cells are kept), with the
    :func:`~fpsolve.solvers.conditioning.plane_conductance` of that coarse solution; or
    ``(None, None, None)`` when there is no coarser grid or the model cannot be evaluated on it
    (a drift given as an array on the fine grid)."""
    grid = op.grid
    factor = 1
    while True:
        trial = [2 * factor if n // (2 * factor) >= 8 else 1 for n in grid.shape]
        if max(trial) == 1:
            break
        factor *= 2
        if np.prod([n // f for n, f in zip(grid.shape, trial)]) <= min(COARSE_GUESS_CELLS,
                                                                       grid.size // 16):
            break
    if factor == 1:
        return None, None, None
    shape = [n // factor if n // factor >= 8 else n for n in grid.shape]
    try:
        coarse_op = op.on_grid(type(grid)(grid.bounds, shape, boundary=grid.boundary))
        p = gth_density(coarse_op)
    except (ValueError, RuntimeError):
        return None, None, None
    conditioning = plane_conductance(coarse_op, p)
    p = p.reshape(coarse_op.grid.shape)
    for axis, (n, m, per) in enumerate(zip(grid.shape, shape, grid.periodic)):
        if n != m:
            p = _interpolate_axis(p, axis, n, per)
    return int(np.argmax(p)), p.ravel(), conditioning


def _interpolate_axis(p: np.ndarray, axis: int, n: int, periodic: bool) -> np.ndarray:
    """Linear interpolation of cell values along ``axis`` onto ``n`` equal cells of the same
    interval (constant beyond the outer centers of a walled axis, wrapped on a ring)."""
    m = p.shape[axis]
    s = (np.arange(n) + 0.5) * (m / n) - 0.5          # fine centers in coarse-cell units
    lo = np.floor(s).astype(np.intp)
    w = s - lo
    if periodic:
        lo, hi = lo % m, (lo + 1) % m
    else:
        lo, hi = np.clip(lo, 0, m - 1), np.clip(lo + 1, 0, m - 1)
    shape = [1] * p.ndim
    shape[axis] = n
    w = w.reshape(shape)
    return (1.0 - w) * np.take(p, lo, axis=axis) + w * np.take(p, hi, axis=axis)


def accepted(res: float, tol: float) -> bool:
    """Relative residuals up to ``max(100 tol, 1e-10)`` count as converged: GMRES stops on the
    preconditioned residual, whose relation to :func:`relative_residual` varies by ~10x."""
    return bool(np.isfinite(res) and res <= max(100 * tol, 1e-10))


