"""Absorbing walls: quasi-stationary density, decay rate and mean first-passage time."""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import BoundaryError, ConvergenceWarning, SolverError
from ..results import FirstPassageResult, QuasiStationaryResult
from .options import check_maxiter, check_operator, check_tol
from .multigrid import multilevel_solve
from .spectrum import eigenpairs_near
from .pinned import accepted as _accepted, lu_solve, solve_by_method

__all__ = ["solve_quasi_stationary", "mean_first_passage_time"]

#: Relative residual below which a solve counts as converged.
RESIDUAL_TOL = 1e-8


def solve_quasi_stationary(op) -> QuasiStationaryResult:
    """Quasi-stationary density and decay rate: ``G p = -kappa p``, ``p > 0``.

    Parameters
    ----------
    op : FokkerPlanckOperator
        Operator with at least one absorbing wall.

    Returns
    -------
    QuasiStationaryResult
        ``p`` (shape ``grid.shape``, ``sum(p) * cell_volume = 1``) is the long-time shape of any
        density conditioned on survival; ``decay_rate`` is ``kappa``, the rate at which the
        survival probability decays at long times.  ``residual`` is
        ``||G p + kappa p|| / ||diag(G) p||``.

    Raises
    ------
    BoundaryError
        When the operator has no absorbing wall (use ``fp.solve_stationary`` instead).

    Notes
    -----
    With absorbing walls ``-G`` is a nonsingular M-matrix, so its principal (Perron) eigenvalue
    ``kappa`` is real, simple, with a positive eigenvector, and every other eigenvalue has
    ``|lambda| >= -Re(lambda) > kappa``: it is the eigenvalue nearest 0.  ARPACK in shift-invert
    mode at ``sigma = 0`` (legitimate here: ``G`` is nonsingular) finds it; small grids are
    diagonalized densely.  Second order in ``h`` on smooth problems.

    Examples
    --------
    Free diffusion on ``[0, 1]`` with ``D = 1``: ``kappa = pi^2``.

    >>> import numpy as np, fpsolve as fp
    >>> from fpsolve.solvers.absorbing import solve_quasi_stationary
    >>> grid = fp.CartesianGrid([(0, 1)], (400,), boundary="absorbing")
    >>> op = fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(lambda x: 0 * x, 1.0))
    >>> res = solve_quasi_stationary(op)
    >>> round(res.decay_rate, 3), round(float(np.pi ** 2), 3)
    (9.87, 9.87)
    """
    _require_absorbing(check_operator(op), "solve_quasi_stationary")
    G = op.matrix()
    vals, vecs, solver = eigenpairs_near(G, 1, 0.0)
    i = int(np.argmax(vals.real))
    kappa = -float(vals[i].real)
    v = vecs[:, i].real
    v = v / v.sum()
    p = v / (v.sum() * op.grid.cell_volume)
    scale = np.linalg.norm(G.diagonal() * p)
    res = float(np.linalg.norm(G @ p + kappa * p) / scale)
    positive = bool(p.min() >= -1e3 * np.finfo(float).eps * p.max())
    converged = res < RESIDUAL_TOL and abs(vals[i].imag) <= 1e-8 * abs(vals[i]) and positive
    msg = (f"{solver}: decay rate {kappa:.6g}, relative residual {res:.1e}"
           + ("" if positive else f", eigenvector not positive (min p = {p.min():.2e})"))
    if not converged:
        warnings.warn(f"quasi-stationary solve did not converge ({msg})", ConvergenceWarning,
                      stacklevel=2)
    return QuasiStationaryResult(p=p.reshape(op.grid.shape), decay_rate=kappa, grid=op.grid,
                                 operator=op, residual=res, converged=bool(converged),
                                 message=msg)


def mean_first_passage_time(op, *, method: str = "auto", tol: float = 1e-10,
                            maxiter: int = 200) -> FirstPassageResult:
    """Mean time ``tau`` to reach an absorbing wall from each cell center.

    Parameters
    ----------
    op : FokkerPlanckOperator
        Operator with at least one absorbing wall.
    method : {"auto", "direct", "multigrid", "amg"}, keyword-only
        As in :func:`~fpsolve.solvers.stationary.solve_stationary`: sparse LU, or GMRES with
        geometric multigrid or classical AMG; ``"auto"`` factorizes grids up to
        ``DIRECT_LIMIT`` cells and uses multigrid beyond, falling back to a direct solve (up to
        ``FALLBACK_DIRECT_LIMIT`` cells) or classical AMG when multigrid fails.
    tol : float
        Relative tolerance of the preconditioned Krylov solve (iterative methods); the result
        counts as converged when the residual is at most ``max(100 tol, 1e-10)``.
    maxiter : int
        Iteration cap of the Krylov solve.

    Returns
    -------
    FirstPassageResult
        ``tau`` has shape ``grid.shape``; ``residual`` is ``||G^T tau + 1|| / ||diag(G) tau||``,
        the imbalance of the backward equation relative to the gross exit rates times ``tau``.

    Raises
    ------
    BoundaryError
        When the operator has no absorbing wall (exit times are infinite).

    Notes
    -----
    ``tau`` solves the backward equation ``L^+ tau = a . grad tau + D : grad grad tau = -1``
    with ``tau = 0`` on absorbing walls (zero normal derivative on reflecting ones).  The
    discrete backward generator is the transpose of the forward one, so ``G^T tau = -1``;
    the exits make ``G^T`` a nonsingular M-matrix and ``tau > 0``.  The mean exit time of an
    initial density ``p0`` is ``sum(tau * p0) * cell_volume``.  Second order in ``h`` on smooth
    problems.

    Examples
    --------
    Brownian motion on ``[0, 1]``, ``D = 1/2``: ``tau(x) = x (1 - x)``.

    >>> import numpy as np, fpsolve as fp
    >>> from fpsolve.solvers.absorbing import mean_first_passage_time
    >>> grid = fp.CartesianGrid([(0, 1)], (200,), boundary="absorbing")
    >>> op = fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(lambda x: 0 * x, 0.5))
    >>> res = mean_first_passage_time(op)
    >>> x = grid.axis_centers(0)
    >>> bool(np.abs(res.tau - x * (1 - x)).max() < 1e-4)
    True
    """
    _require_absorbing(check_operator(op), "mean_first_passage_time")
    tol, maxiter = check_tol(tol), check_maxiter(maxiter)
    G = op.matrix()
    A, b = -G.T.tocsr(), np.ones(G.shape[0])

    def multilevel(name):
        x, its, _ = multilevel_solve(A, b, op.grid, name, tol=tol, maxiter=maxiter)
        return x, its, int(not _accepted(_backward_residual(G, x), tol))

    tau, its, _, method = solve_by_method(op.grid, method, lambda: _direct(A, b), multilevel)
    if not np.all(np.isfinite(tau)):
        raise SolverError("op: the backward equation G^T tau = -1 is singular; some cells "
                          "cannot reach an absorbing wall")
    res = _backward_residual(G, tau)
    converged = _accepted(res, tol) and bool(tau.min() > 0)
    msg = f"{method}: relative residual {res:.1e}, {its} iterations, mean tau {tau.mean():.6g}"
    if not converged:
        warnings.warn(f"first-passage solve did not converge ({msg})", ConvergenceWarning,
                      stacklevel=2)
    return FirstPassageResult(tau=tau.reshape(op.grid.shape), grid=op.grid, operator=op,
                              residual=res, converged=bool(converged), message=msg)


def _direct(A, b) -> np.ndarray:
    """Sparse LU (:func:`~fpsolve.solvers.stationary.lu_solve`); NaN when ``A`` is singular."""
    try:
        with np.errstate(all="ignore"):
            return lu_solve(A, b)
    except RuntimeError:        # SuperLU: "Factor is exactly singular"
        return np.full_like(b, np.nan)


def _backward_residual(G, tau) -> float:
    """``||G^T tau + 1|| / ||diag(G) tau||``: dimensionless, like the stationary residual (the
    unscaled ``||G^T tau + 1|| / ||1||`` grows like the condition number, ~h^-2)."""
    scale = np.linalg.norm(G.diagonal() * tau)
    res = np.linalg.norm(G.T @ tau + 1.0) / scale if scale > 0 else np.inf
    return float(res) if np.isfinite(res) else float("inf")


def _require_absorbing(op, name: str) -> None:
    if not op.has_absorbing:
        raise BoundaryError(
            f"op: {name} needs an operator with at least one absorbing wall, but all walls of "
            f"{op.grid!r} are reflecting or periodic; use fp.solve_stationary(op) for the "
            "stationary density (and fp.relaxation_spectrum for relaxation rates)")
