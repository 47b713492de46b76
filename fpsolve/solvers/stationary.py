"""Stationary densities: the null vector of the generator by a normalized linear solve."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..errors import BoundaryError, ConvergenceWarning, SolverError
from ..results import StationaryResult
from .multigrid import multilevel_solve

__all__ = ["solve_stationary", "pinned_system", "relative_residual"]

log = logging.getLogger(__name__)

#: Largest number of cells solved directly by default, per dimension (fill-in grows with d).
DIRECT_LIMIT = {1: 10**7, 2: 25_000, 3: 8_000}
#: When multigrid fails under "auto", grids up to this many cells are solved directly (faster
#: than classical AMG there: 0.34 s vs 0.68 s at 300^2), larger ones with classical AMG.
FALLBACK_DIRECT_LIMIT = {1: 10**7, 2: 200_000, 3: 30_000}
#: Grids up to this many cells are solved with the bordered system directly.
BORDERED_LIMIT = 4096
METHODS = ("auto", "direct", "multigrid", "amg")
#: Largest direct solve for the coarse-grid guess of the pin and the iterative start.
COARSE_GUESS_CELLS = 20_000


def solve_stationary(op, *, method: str = "auto", tol: float = 1e-10, maxiter: int = 200
                     ) -> StationaryResult:
    """Stationary density ``p`` with ``G p = 0`` and ``sum(p) * cell_volume = 1``.

    Parameters
    ----------
    op : FokkerPlanckOperator
        Operator without absorbing walls.
    method : {"auto", "direct", "multigrid", "amg"}, keyword-only
        ``"direct"``: sparse LU (SuperLU, minimum-degree ordering of ``A + A^T``).
        ``"multigrid"``: GMRES preconditioned with geometric multigrid on the Cartesian grid
        (:mod:`fpsolve.solvers.multigrid`).  ``"amg"``: GMRES preconditioned with classical
        (Ruge-Stueben) algebraic multigrid from pyamg.  ``"auto"`` picks direct for grids up to
        ``DIRECT_LIMIT`` cells, multigrid beyond; when multigrid fails (strongly advective
        operators) a direct solve up to ``FALLBACK_DIRECT_LIMIT`` cells, classical AMG beyond
        (``res.method`` then reads ``"multigrid -> direct"`` or ``"multigrid -> amg"``).
    tol : float
        Relative tolerance of the preconditioned Krylov solve (iterative methods only); the
        result counts as converged when :func:`relative_residual` is at most
        ``max(100 tol, 1e-10)``.
    maxiter : int
        Iteration cap of the Krylov solve.

    Returns
    -------
    StationaryResult

    Notes
    -----
    The singular system ``G p = 0`` is never shifted toward its zero eigenvalue.  Small grids
    (``BORDERED_LIMIT`` cells) solve the bordered system ``[[G, 1], [V^T, 0]] [p; lam] = [0; 1]``,
    which carries the normalization itself.  Larger grids pin ``p`` to 1 in the mode of a direct
    solve on a coarser grid (the pinned column moves to the right-hand side, the pinned row
    becomes ``p_pin = 1``; for an irreducible generator the reduced matrix is a nonsingular
    M-matrix), so the pinned solution stays within floating-point range; the interpolated
    coarse solution also starts the iterative methods.  A failed pinned direct solve falls back
    to the bordered system.  The result is normalized to unit mass; round-off negatives of an
    iterative solve (above ``-1e-8 max p``) are set to zero and counted in ``res.message``.

    Examples
    --------
    >>> import numpy as np, fpsolve as fp
    >>> grid = fp.CartesianGrid([(-5, 5)], (100,))
    >>> res = fp.solve_stationary(fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(lambda x: -x)))
    >>> round(float(res.p.sum() * grid.cell_volume), 12), res.converged
    (1.0, True)
    """
    if op.has_absorbing:
        raise BoundaryError(
            "op: the operator has absorbing walls, so its only stationary density is zero; use "
            "fp.solve_quasi_stationary(op) for the long-lived density and decay rate, or "
            "fp.mean_first_passage_time(op) for exit times")
    q, its, info, method = solve_by_method(
        op.grid, method, lambda: _solve_direct(op),
        lambda name: _solve_multilevel(op, name, tol=tol, maxiter=maxiter))
    return _finish(op, q, its, info, method, tol)


def solve_by_method(grid, method: str, direct, multilevel):
    """Run the linear solve named ``method``, with the ``"auto"`` choice and its fallbacks.

    ``direct()`` returns the solution; ``multilevel(name)`` (``name`` ``"multigrid"`` or
    ``"amg"``) returns ``(x, iterations, info)`` with ``info = 0`` when accepted.  ``"auto"``
    solves directly up to ``DIRECT_LIMIT`` cells and with multigrid beyond; when multigrid
    fails, directly up to ``FALLBACK_DIRECT_LIMIT`` cells, with classical AMG beyond.
    Returns ``(x, iterations, info, method)``, ``method`` naming what ran
    (e.g. ``"multigrid -> amg"``).
    """
    if method not in METHODS:
        raise SolverError(f"method: unknown name {method!r}; expected one of {METHODS}")
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


def _solve_direct(op) -> np.ndarray:
    """Sparse LU of the system pinned at the mode of a coarser solve; the bordered system for
    small grids and as the fallback when no coarser grid exists or the pinned solve fails."""
    if op.grid.size <= BORDERED_LIMIT:
        return _solve_bordered(op)
    pin, _ = _coarse_guess(op)
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


def _pin_cell(op) -> int:
    b = op.bonds
    inflow = np.zeros(op.grid.size)
    outflow = b.exit_rate.copy()
    for k in range(len(b.offsets)):
        outflow += b.rate_forward[k]
        inflow += b.rate_backward[k]
        src = b.previous[k] >= 0
        inflow[src] += b.rate_forward[k, b.previous[k, src]]
        outflow[src] += b.rate_backward[k, b.previous[k, src]]
    return int(np.argmax(inflow / np.maximum(outflow, np.finfo(float).tiny)))


def _solve_multilevel(op, method, *, tol, maxiter):
    """Pinned system solved by :func:`~fpsolve.solvers.multigrid.multilevel_solve` (GMRES with
    one W-cycle of the geometric or the classical algebraic hierarchy per iteration).  The pin
    and the initial guess come from a
    direct solve on a coarser grid when the model can be evaluated there: the pinned cell then
    sits at the mode, so the pinned solution stays within floating-point range, and the guess
    saves iterations.  Returns ``(q, iterations, info)`` with ``info = 0`` when the relative
    residual is accepted.
    """
    pin, guess = _coarse_guess(op)
    pin = _pin_cell(op) if pin is None else pin
    A, b, _ = pinned_system(op.matrix(), pin)
    x0 = None if guess is None else guess / guess[pin]
    q, its, levels = multilevel_solve(A, b, op.grid, method, x0, tol=tol, maxiter=maxiter)
    res = relative_residual(op.matrix(), q)
    log.info("%s: %d levels, %d iterations, relative residual %.2e", method, levels, its, res)
    return q, its, int(not _accepted(res, tol))


def _coarse_guess(op):
    """``(pin, guess)``: the mode and the linearly interpolated density of a direct solve on a
    grid coarser by a power of two per axis (at most ``COARSE_GUESS_CELLS`` cells and 1/16 of
    the fine grid; axes shorter than 16 cells are kept), or ``(None, None)`` when there is no
    coarser grid or the model cannot be evaluated on it (a drift given as an array on the fine
    grid)."""
    from ..operators import FokkerPlanckOperator

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
        return None, None
    shape = [n // factor if n // factor >= 8 else n for n in grid.shape]
    try:
        coarse = type(grid)(grid.bounds, shape, boundary=grid.boundary)
        p = _solve_direct(FokkerPlanckOperator(coarse, op.model, warn_positivity=False))
    except (ValueError, RuntimeError):
        return None, None
    p = np.maximum(p.reshape(coarse.shape), 0.0)
    for axis, (n, m, per) in enumerate(zip(grid.shape, coarse.shape, grid.periodic)):
        if n != m:
            p = _interpolate_axis(p, axis, n, per)
    return int(np.argmax(p)), p.ravel()


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


def _accepted(res: float, tol: float) -> bool:
    """Relative residuals up to ``max(100 tol, 1e-10)`` count as converged: GMRES stops on the
    preconditioned residual, whose relation to :func:`relative_residual` varies by ~10x."""
    return bool(np.isfinite(res) and res <= max(100 * tol, 1e-10))


def _finish(op, q, its, info, method, tol) -> StationaryResult:
    mass = q.sum() * op.grid.cell_volume
    if not np.isfinite(mass) or mass <= 0:
        raise SolverError(f"stationary solve ({method}) failed: total mass {mass}; the "
                          "generator may be reducible (disconnected cells)")
    p = q / mass
    note = ""
    negative = p < 0
    # The exact null vector of an M-matrix generator is positive; an iterative solve leaves
    # round-off negatives in the far tails (|p| ~ tol * max p).  Those are set to zero and
    # counted; larger ones are kept and reported.
    round_off = negative.any() and p.min() >= -1e-8 * p.max()
    if round_off:
        p = np.where(negative, 0.0, p)
        note = f"; {int(negative.sum())} round-off negative entries set to 0"
    elif negative.any():
        note = f"; {int(negative.sum())} negative entries (min {p.min():.3g})"
    res = relative_residual(op.matrix(), p)            # of the density returned
    converged = info == 0 and _accepted(res, tol)
    if negative.any() and not round_off and converged:
        warnings.warn(f"stationary density has {int(negative.sum())} negative entries "
                      f"(min {p.min():.3g}); is the operator an M-matrix?",
                      ConvergenceWarning, stacklevel=3)
    msg = f"{method}: relative residual {res:.2e}, {its} iterations{note}"
    if not converged:
        warnings.warn(f"stationary solve did not converge ({msg})", ConvergenceWarning,
                      stacklevel=3)
    return StationaryResult(p=p.reshape(op.grid.shape), grid=op.grid, operator=op, residual=res,
                            converged=bool(converged), iterations=int(its), method=method,
                            message=msg)
