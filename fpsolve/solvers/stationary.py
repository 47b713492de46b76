"""Stationary densities: the null vector of the generator, by GTH elimination (accurate in
every cell) or by a normwise linear solve (sparse LU, multigrid)."""

from __future__ import annotations

import logging
import warnings
from dataclasses import replace

import numpy as np

from ..errors import BoundaryError, ConvergenceWarning, SolverError
from ..operators.schemes import refit_to_density
from ..results import StationaryResult
from .accuracy import DEFAULT_THRESHOLD, estimate_error
from .conditioning import MIN_CUT_MASS, METASTABLE_KAPPA, plane_conductance
from .extrapolation import MIN_COARSE_CELLS
from .options import check_maxiter, check_operator, check_tol
from .pinned import (FALLBACK_DIRECT_LIMIT, accepted, coarse_guess, gth_density,
                     relative_residual, solve_multilevel, solve_pinned_lu)

__all__ = ["solve_stationary", "METHODS", "GTH_LIMIT",
           "GTH_FALLBACK_LIMIT"]

log = logging.getLogger(__name__)

#: "auto" solves by GTH elimination up to this many cells, per dimension: the range of the sparse
#: LU it replaced, where it is faster (benchmarks/bench_gth.py: 0.74x at 100^2, 0.18x at 20^3);
#: beyond, multigrid is faster on well-conditioned problems (200^2: GTH 0.11 s, multigrid 0.07 s).
GTH_LIMIT = {1: 10**7, 2: 25_000, 3: 8_000}
#: Beyond GTH_LIMIT, "auto" still eliminates by GTH when the coarse solve finds a bottleneck
#: (metastability) or multigrid fails, up to this many cells (measured: GTH at 1024^2 12 s and
#: 3.3 GB; classical AMG took 52 s on a high-Peclet NESS at 640^2 where GTH takes ~4 s).
GTH_FALLBACK_LIMIT = {1: 10**7, 2: 1_100_000, 3: 70_000}
#: ``error="auto"`` estimates the discretization error (two coarser solves) up to this many
#: cells; beyond, only the cell Peclet number is judged (measured: the call with the estimate
#: takes 1.35-1.65x the solve alone at 200^2-400^2, 1.46x at 1024^2).
ERROR_LIMIT = {1: 10**6, 2: 300_000, 3: 40_000}
METHODS = ("auto", "gth", "direct", "multigrid", "amg")
#: The linear solve each refit of a "fitted" operator repeats, by the method that ran first.
_REFIT_METHOD = {"gth": "gth", "gth (metastable)": "gth", "multigrid -> gth": "gth",
                 "direct": "direct", "multigrid -> direct": "direct", "multigrid": "multigrid",
                 "amg": "amg", "multigrid -> amg": "amg"}
#: Refits of a "fitted" operator stop when one changes the density by at most this fraction of
#: the first refit's change (the fixed-point iteration contracts geometrically).
REFIT_RTOL = 1e-3
#: The floor of a normwise answer is FLOOR_SAFETY x residual x condition estimate (relative to
#: the largest entry): the residual bounds the error only up to the norm of the inverse, which
#: the plane-cut estimate sees for bottlenecks but not for the plain diffusive mixing of a large
#: grid.  Measured on the 1e-300 tail of validation/metastable (sparse LU, 2000 and 4000 cells):
#: with 100 the cells just above the floor were off by up to 2.9e-2; 1e3 keeps them within ~3e-3.
FLOOR_SAFETY = 1e3
EPS = float(np.finfo(float).eps)
#: Cuts of a normwise answer are judged only where both sides hold this much mass: its tails
#: are exact only to ~1e-10 of the largest entry, and a tail cut of such noise fakes a
#: bottleneck (measured: condition estimates 1e6-4e9 at the walls of non-metastable OU and
#: quartic problems with 1e-9).
NORMWISE_CUT_MASS = 1e-6


def solve_stationary(op, *, method: str = "auto", tol: float = 1e-10, maxiter: int = 200,
                     error="auto", threshold: float = DEFAULT_THRESHOLD) -> StationaryResult:
    """Stationary density ``p`` with ``G p = 0`` and ``sum(p) * cell_volume = 1``.

    Parameters
    ----------
    op : FokkerPlanckOperator
        Operator without absorbing walls.
    method : {"auto", "gth", "direct", "multigrid", "amg"}, keyword-only
        ``"gth"``: Grassmann-Taksar-Heyman elimination on a nested dissection
        (:mod:`fpsolve.solvers.gth`), accurate componentwise: every cell carries a small
        *relative* error however deep the tails and however high the barriers between wells.
        ``"direct"``: sparse LU of the pinned system (SuperLU).  ``"multigrid"``: GMRES
        preconditioned with geometric multigrid (:mod:`fpsolve.solvers.multigrid`).
        ``"amg"``: GMRES with classical algebraic multigrid (pyamg).  ``"auto"``: GTH up to
        ``GTH_LIMIT`` cells; beyond, multigrid started from a GTH solve on a coarser grid,
        except that GTH runs (up to ``GTH_FALLBACK_LIMIT`` cells) when that coarse solve finds a
        bottleneck (``res.method`` ``"gth (metastable)"``) or when multigrid fails
        (``"multigrid -> gth"``; classical AMG beyond: ``"multigrid -> amg"``).  GTH needs
        non-negative rates: an operator that is not an M-matrix (``op.is_m_matrix``, negative
        bond weights of a strongly anisotropic ``D``) goes to the pinned LU instead
        (``"direct"``, ``"multigrid -> direct"``).
    tol : float
        Relative tolerance of the Krylov solve (iterative methods only), in (0, 1); the result
        counts as converged when :func:`relative_residual` is at most ``max(100 tol, 1e-10)``.
    maxiter : int
        Iteration cap of the Krylov solve (positive).
    error : {"auto", True, False}, keyword-only
        Error report ``res.error`` (:func:`~fpsolve.solvers.accuracy.estimate_error`): ``True``
        estimates the discretization error of density, current and entropy production from
        solves on grids 2 and 4 times coarser (the whole call then takes about 1.35-1.65x the
        solve alone at 200^2-400^2); ``"auto"`` does so up to ``ERROR_LIMIT`` cells and judges only
        the cell Peclet number beyond; ``False`` gives no report.  A pre-asymptotic grid
        (estimated density L1 error above ``threshold``, or cell Peclet number above 10 where
        the mass sits) raises an :class:`~fpsolve.errors.AccuracyWarning` naming the spacing
        that would fix it.
    threshold : float, keyword-only
        Estimated density L1 error above which the result warns.

    Returns
    -------
    StationaryResult
        ``res.conditioning`` holds the metastability diagnostic
        (:func:`~fpsolve.solvers.conditioning.plane_conductance`: the smallest conductance of a
        plane cut and the condition estimate ``kappa`` of a normwise solve) and ``floor``, the
        density (relative to the largest) above which every cell is accurate to the tolerance:
        0 for GTH; for the normwise methods the round-off floor of their answer.

    Notes
    -----
    The singular system ``G p = 0`` is never shifted toward its zero eigenvalue.  GTH forms the
    stationary vector by censoring states one by one, with pivots that are sums of rates (no
    cancellation).  The normwise methods pin ``p`` to 1 in the mode of a coarse solve (see
    :mod:`fpsolve.solvers.pinned`); their round-off negatives in the far tails (above
    ``-floor max p``) are set to zero and counted in ``res.message``.  A normwise answer whose
    condition estimate ``kappa`` exceeds ``METASTABLE_KAPPA`` is not converged: its well weights
    are not determined by the residual.  An operator with the ``"fitted"`` scheme (the default)
    is refitted to the density and solved again until a refit changes the density by at most
    ``REFIT_RTOL`` of the first change; ``res.operator`` is then the refitted operator, the one
    the density, its current and its entropy production belong to.

    Examples
    --------
    >>> import numpy as np, fpsolve as fp
    >>> grid = fp.CartesianGrid([(-5, 5)], (100,))
    >>> res = fp.solve_stationary(fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(lambda x: -x)))
    >>> round(float(res.p.sum() * grid.cell_volume), 12), res.converged, res.method
    (1.0, True, 'gth')
    """
    if check_operator(op).has_absorbing:
        raise BoundaryError(
            "op: the operator has absorbing walls, so its only stationary density is zero; use "
            "fp.solve_quasi_stationary(op) for the long-lived density and decay rate, or "
            "fp.mean_first_passage_time(op) for exit times")
    if method not in METHODS:
        raise SolverError(f"method: unknown name {method!r}; expected one of {METHODS}")
    tol, maxiter = check_tol(tol), check_maxiter(maxiter)
    if error not in ("auto", True, False):
        raise SolverError(f"error: expected 'auto', True or False, got {error!r}")
    res = _finish(op, *_solve(op, method, tol, maxiter), tol)
    if op.needs_refit and res.converged:
        res = _refit(res, tol, maxiter)
    if error is False or not res.converged:
        return res
    return replace(res, error=_report(res, error, threshold, method, tol, maxiter))


def _report(res, error, threshold, method, tol, maxiter):
    """The error report of ``res``: coarse-grid estimates where asked for (or, under "auto",
    affordable) and possible, the cell Peclet number alone otherwise."""
    grid = res.grid
    levels = 3 if error is True or grid.size <= ERROR_LIMIT.get(grid.ndim, 10**4) else 1
    if min(grid.shape) < 2 * MIN_COARSE_CELLS:
        levels = 1                                  # no coarser grid to compare with
    def report(levels):
        return estimate_error(
            res.operator, res.p, threshold=threshold, levels=levels, stacklevel=5,
            solve=lambda o: solve_stationary(o, method=method, tol=tol, maxiter=maxiter,
                                             error=False))

    if levels == 1:
        return report(1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return report(levels)
    except ValueError as exc:
        # The model cannot be evaluated on coarser grids (a drift array given on this grid),
        # or a coarse solve failed: judge the Peclet number alone and say why.
        log.info("error estimate skipped: %s", exc)
        return report(1)


def _refit(res, tol, maxiter):
    """"fitted" rates: refit to the density and solve again with the method that ran first, the
    iterative ones started from the previous density."""
    method = _REFIT_METHOD[res.method]
    _, fitted = refit_to_density(
        res.operator,
        lambda o, prev: _finish(o, *_solve(o, method, tol, maxiter, start=prev.p), tol), res,
        rtol=REFIT_RTOL)
    return replace(fitted, method=res.method,
                   message=f"{fitted.message}; rates fitted to the density "
                           f"({fitted.operator.refits} refits)")


def _solve(op, method, tol, maxiter, start=None):
    """``(q, iterations, info, method)`` of the method chosen (see :func:`solve_stationary`);
    ``start``, a density of a nearby operator, pins and starts the iterative methods."""
    n, d = op.grid.size, op.grid.ndim
    exact = op.is_m_matrix            # GTH needs non-negative rates
    if method == "gth" or (method == "auto" and exact and n <= GTH_LIMIT.get(d, 10**4)):
        return gth_density(op), 0, 0, "gth"
    if method == "direct" or (method == "auto" and n <= GTH_LIMIT.get(d, 10**4)):
        return solve_pinned_lu(op), 0, 0, "direct"
    if start is None:
        pin, guess, coarse = coarse_guess(op)
    else:
        guess, coarse = np.ravel(start), None
        pin = int(np.argmax(guess))
    affordable = exact and n <= GTH_FALLBACK_LIMIT.get(d, 10**4)
    if method == "auto" and affordable and coarse is not None \
            and coarse["kappa"] > METASTABLE_KAPPA:
        log.info("coarse solve: condition estimate %.2g (bottleneck on axis %s at %s): GTH",
                 coarse["kappa"], coarse["axis"], coarse["at"])
        return gth_density(op), 0, 0, "gth (metastable)"
    name = "multigrid" if method == "auto" else method
    q, its, info = solve_multilevel(op, name, pin, guess, tol=tol, maxiter=maxiter)
    if info and method == "auto":
        # Geometric multigrid suits diffusion-dominated operators; strong advection on the
        # coarse levels (cell Peclet number >> 1) breaks it.
        if affordable:
            return gth_density(op), its, 0, "multigrid -> gth"
        if not exact and n <= FALLBACK_DIRECT_LIMIT.get(d, 10**4):
            return solve_pinned_lu(op), its, 0, "multigrid -> direct"
        q, more, info = solve_multilevel(op, "amg", pin, guess, tol=tol, maxiter=maxiter)
        return q, its + more, info, "multigrid -> amg"
    return q, its, info, name


def _finish(op, q, its, info, method, tol) -> StationaryResult:
    mass = q.sum() * op.grid.cell_volume
    if not np.isfinite(mass) or mass <= 0:
        raise SolverError(f"stationary solve ({method}) failed: total mass {mass}; the "
                          "generator may be reducible (disconnected cells)")
    p = q / mass
    res = relative_residual(op.matrix(), p)
    exact = method.startswith("gth") or method.endswith("gth")
    cond = plane_conductance(op, p, min_mass=MIN_CUT_MASS if exact else NORMWISE_CUT_MASS)
    # A normwise solve fixes each entry to about (residual x condition) relative to the largest
    # one; below that floor a cell's relative error is unbounded.  GTH has no floor.
    floor = 0.0 if exact else min(1.0, FLOOR_SAFETY * max(res, EPS) * max(cond["kappa"], 1.0))
    negative = p < 0
    note = ""
    if negative.any() and p.min() >= -floor * p.max():
        p = np.where(negative, 0.0, p)
        note = f"; {int(negative.sum())} round-off negative entries (above -floor) set to 0"
    elif negative.any():
        note = f"; {int(negative.sum())} negative entries (min {p.min():.3g})"
    cond.update(floor=floor, dynamic_range=float(p.min() / p.max()))
    converged = info == 0 and accepted(res, tol) and not (p < 0).any()
    if not exact and cond["kappa"] > METASTABLE_KAPPA:
        converged = False
        note += (f"; condition estimate {cond['kappa']:.2g} (bottleneck on axis {cond['axis']} "
                 f"at {cond['at']:.4g}): well weights not determined by the residual, use "
                 "method='gth'")
    msg = f"{method}: relative residual {res:.2e}, {its} iterations{note}"
    if not converged:
        warnings.warn(f"stationary solve did not converge ({msg})", ConvergenceWarning,
                      stacklevel=3)
    return StationaryResult(p=p.reshape(op.grid.shape), grid=op.grid, operator=op, residual=res,
                            converged=bool(converged), iterations=int(its), method=method,
                            message=msg, conditioning=cond)
