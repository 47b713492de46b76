"""Richardson extrapolation of stationary solutions, and the grid transfers it rests on.

On smooth problems the cell values of the finite-volume solution expand in even powers of the
spacing, ``p_h(x) = p(x) + h^2 e_2(x) + h^4 e_4(x) + ...`` (the bond fluxes are symmetric in
the bond direction), and so do the cell current and the entropy production rate.  Solving on the
grid and on one ``r`` times coarser therefore gives a fourth-order combination

    p_R = p_h + (p_h - I p_H) / (r^2 - 1),

where ``I`` carries the coarse values to the fine cell centers.  Cell-centered grids coarsened by
an even factor do not share centers, so ``I`` must itself be fourth order: here it is separable
cubic Lagrange interpolation (one-sided stencils at walls, wrapped on periodic axes).  A
cell average or linear interpolation would add an ``O(H^2)`` term and destroy the gain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import SolverError
from ..operators.currents import cell_current, schnakenberg_rate
from ..results import ExtrapolatedResult

__all__ = ["extrapolate_stationary", "interpolate_cubic", "interpolate_density", "coarsened",
           "richardson"]

#: Declared order of the finite-volume scheme (density, current, entropy production).
SCHEME_ORDER = 2
#: Order of the Richardson combination of two solves.
EXTRAPOLATED_ORDER = 4
#: Relative floor of densities with non-positive entries before their logarithm is taken.
LOG_FLOOR = 1e-16
#: Fewest cells per axis of a coarse grid that cubic interpolation is applied to.
MIN_COARSE_CELLS = 6


def coarsened(grid, ratio: int):
    """The grid of the same box with ``shape // ratio`` cells per axis (rounded to nearest).

    Raises :class:`~fpsolve.errors.SolverError` when an axis would get fewer than
    ``MIN_COARSE_CELLS`` cells.
    """
    shape = tuple(max(int(round(n / ratio)), 1) for n in grid.shape)
    if min(shape) < MIN_COARSE_CELLS:
        raise SolverError(f"ratio: coarsening shape {grid.shape} by {ratio} leaves {shape} cells; "
                          f"expected at least {MIN_COARSE_CELLS} per axis")
    return type(grid)(grid.bounds, shape, boundary=grid.boundary)


def interpolate_cubic(values: np.ndarray, source, target) -> np.ndarray:
    """Cell-center values on grid ``source`` carried to the cell centers of ``target``.

    Parameters
    ----------
    values : ndarray, shape (..., *source.shape)
        Leading axes (e.g. current components) are carried along.
    source, target : CartesianGrid
        Grids of the same box and boundary.

    Returns
    -------
    ndarray, shape (..., *target.shape)

    Notes
    -----
    Separable 4-point Lagrange interpolation, error ``O(H^4)`` for smooth values: the stencil is
    the 4 source centers around the target point, shifted inward at walls (one-sided, still
    fourth order) and wrapped on periodic axes.

    Examples
    --------
    >>> import numpy as np, fpsolve as fp
    >>> from fpsolve.solvers.extrapolation import interpolate_cubic
    >>> coarse, fine = fp.CartesianGrid([(0, 1)], (8,)), fp.CartesianGrid([(0, 1)], (16,))
    >>> x, y = coarse.axis_centers(0), fine.axis_centers(0)
    >>> bool(np.allclose(interpolate_cubic(x**3, coarse, fine), y**3))
    True
    """
    out = np.asarray(values, dtype=float)
    lead = out.ndim - source.ndim
    for axis in range(source.ndim):
        m, n = source.shape[axis], target.shape[axis]
        if m != n:
            out = _interpolate_axis(out, lead + axis, n, source.periodic[axis])
    return out


def interpolate_density(p: np.ndarray, source, target) -> np.ndarray:
    """A density carried between grids by cubic interpolation of ``log p``.

    ``log p`` of a density ``exp(-U)`` is as smooth as ``U`` (a quadratic for a Gaussian, which
    the cubic reproduces exactly), whereas ``p`` itself varies on the scale of its width: on
    peaked densities the interpolation error of ``p`` would swamp a small discretization
    error.  Still fourth order.  A density with entries that are not positive (the round-off
    zeros of an iterative solve) has no relative accuracy in its tails: there, all entries are
    first raised to ``LOG_FLOOR`` times the maximum, so that no cliff in ``log p`` makes the
    cubic overshoot (the change is below ``LOG_FLOOR * max p`` per cell).
    """
    return np.exp(interpolate_cubic(log_density(p), source, target))


def log_density(p: np.ndarray) -> np.ndarray:
    """``log p``; when some entry is not positive, every entry is first raised to
    ``LOG_FLOOR * max(p)`` (module note)."""
    p = np.asarray(p, dtype=float)
    top = p.max()
    if not top > 0:
        raise SolverError("p: a density needs positive entries")
    if p.min() <= 0:
        p = np.maximum(p, LOG_FLOOR * top)
    return np.log(p)


def _interpolate_axis(values: np.ndarray, axis: int, n: int, periodic: bool) -> np.ndarray:
    m = values.shape[axis]
    s = (np.arange(n) + 0.5) * (m / n) - 0.5             # target centers in source-cell units
    start = np.floor(s).astype(np.intp) - 1
    if not periodic:
        start = np.clip(start, 0, m - 4)
    t = s - start                                          # position in the stencil 0..3
    out = 0.0
    for j in range(4):
        others = [k for k in range(4) if k != j]
        w = np.prod([(t - k) / (j - k) for k in others], axis=0)
        shape = [1] * values.ndim
        shape[axis] = n
        out = out + w.reshape(shape) * np.take(values, (start + j) % m, axis=axis)
    return out


def richardson(fine, coarse_on_fine, ratio: float, order: float = SCHEME_ORDER):
    """``fine + (fine - coarse) / (ratio^order - 1)``: removes the ``h^order`` error term.

    ``coarse_on_fine`` is the coarse solution already carried to the fine cells (or a scalar).
    """
    return fine + (fine - coarse_on_fine) / (ratio ** order - 1.0)


@dataclass(frozen=True)
class _Level:
    """One solve of the study: grid, density, cell current and entropy production rate."""

    grid: object
    p: np.ndarray
    current: np.ndarray
    epr: float


def solve_level(op, grid, solve, p=None) -> _Level:
    """Solve the model of ``op`` on ``grid`` (``op`` itself when ``grid`` is ``op.grid``) and
    evaluate its cell current and entropy production rate from the operator's bond fluxes.

    ``solve(op)`` returns the density or a result with ``.p`` and ``.operator``; the latter
    when the solve refits the rates (scheme ``"fitted"``), so that the current is the flux of
    the rates the density belongs to.
    """
    if grid is not op.grid:
        op = op.on_grid(grid)
    if p is None:
        out = solve(op)
        op = getattr(out, "operator", None) or op
        p = getattr(out, "p", out)
    p = np.asarray(p, dtype=float).reshape(grid.shape)
    epr = schnakenberg_rate(op, p) if np.all(p >= 0) else float("nan")
    return _Level(grid, p, cell_current(op, p), float(epr))


def extrapolate_stationary(op, p=None, *, solve=None, ratio: int = 2) -> ExtrapolatedResult:
    """Stationary density, current and entropy production extrapolated to fourth order.

    Parameters
    ----------
    op : FokkerPlanckOperator
        The fine-grid operator; its shape must be divisible by ``ratio`` (and by ``ratio^2``
        for the error estimate).  With ``p`` given, the operator ``p`` was solved with (for the
        ``"fitted"`` scheme the refitted ``result.operator``).
    p : ndarray, shape op.grid.shape, optional
        The fine-grid stationary density when already solved.
    solve : callable, optional, keyword-only
        ``solve(op)`` returns the stationary result (or density) of ``op``; used on every grid
        (default :func:`~fpsolve.solvers.stationary.solve_stationary`).
    ratio : int, default 2, keyword-only
        Coarsening factor between the grids.

    Returns
    -------
    ExtrapolatedResult
        ``p``, ``current`` and ``epr`` on the fine grid after one Richardson step, with
        ``error``: the estimated error of the extrapolated values, from a third solve on the
        ``ratio^2`` coarser grid (the difference of two extrapolations divided by
        ``ratio^4 - 1``), or ``None`` when that grid is too small.

    Notes
    -----
    Two solves give the fourth-order result ``p_R = p_h + (p_h - I p_H) / (r^2 - 1)`` (module
    docstring; for the density in ``log p``, the difference formed at the coarse centers and
    the correction carried to the fine cells, see ``_corrected``), so ``p_R > 0``.  Cost: about
    ``1 + r^-d + r^-2d`` fine solves.  Valid for smooth solutions in the asymptotic range:
    check ``fine.error`` style estimates (``error["fine_density_l1"]`` against
    ``error["density_l1"]``) before trusting the gain.

    Examples
    --------
    >>> import numpy as np, fpsolve as fp
    >>> from fpsolve.models import OrnsteinUhlenbeck
    >>> ou = OrnsteinUhlenbeck(-1.0)
    >>> op = fp.FokkerPlanckOperator(fp.CartesianGrid([(-6, 6)], (48,)), ou.model)
    >>> ext = fp.extrapolate_stationary(op)
    >>> x = op.grid.cell_centers()
    >>> bool(np.abs(ext.p - ou.stationary_density(x)).sum() * op.grid.cell_volume < 1e-5)
    True
    """
    if int(ratio) != ratio or ratio < 2:
        raise SolverError(f"ratio: expected an integer >= 2, got {ratio!r}")
    ratio = int(ratio)
    if any(n % ratio for n in op.grid.shape):
        raise SolverError(f"ratio: grid shape {op.grid.shape} is not divisible by {ratio}; "
                          "Richardson extrapolation needs the same ratio on every axis")
    solve = _default_solve if solve is None else solve
    levels = [solve_level(op, op.grid, solve, p)]
    levels.append(solve_level(op, coarsened(op.grid, ratio), solve))
    fine_ext = _combine(levels[0], levels[1], ratio)
    error = None
    if all(n % ratio**2 == 0 and n // ratio**2 >= MIN_COARSE_CELLS for n in op.grid.shape):
        levels.append(solve_level(op, coarsened(op.grid, ratio**2), solve))
        error = _extrapolation_error(levels, fine_ext, ratio)
    return ExtrapolatedResult(p=fine_ext[0], current=fine_ext[1], epr=fine_ext[2],
                              grid=op.grid, ratio=ratio, order=EXTRAPOLATED_ORDER,
                              fine_p=levels[0].p, fine_epr=levels[0].epr, error=error,
                              shapes=tuple(lv.grid.shape for lv in levels))


def _default_solve(op):
    from .stationary import solve_stationary
    return solve_stationary(op, error=False)


def _combine(fine: _Level, coarse: _Level, ratio: int):
    """Richardson step of density, cell current and EPR of ``fine`` and ``coarse``."""
    return (_corrected_density(fine.p, coarse.p, fine.grid, coarse.grid, ratio),
            _corrected(fine.current, coarse.current, fine.grid, coarse.grid, ratio),
            richardson(fine.epr, coarse.epr, ratio))


def _corrected(fine, coarse, fine_grid, coarse_grid, ratio: int) -> np.ndarray:
    """``fine + I_c->f [(I_f->c fine - coarse) / (r^2 - 1)]``: the Richardson correction is
    formed at the coarse centers, where the interpolated *fine* values carry an ``r^4`` times
    smaller interpolation error than coarse values carried to the fine centers, and the smooth
    ``O(h^2)`` correction is then interpolated to the fine cells (error ``O(h^2 H^4)``)."""
    on_coarse = interpolate_cubic(fine, fine_grid, coarse_grid)
    correction = (on_coarse - coarse) / (ratio ** SCHEME_ORDER - 1.0)
    return fine + interpolate_cubic(correction, coarse_grid, fine_grid)


def _corrected_density(fine, coarse, fine_grid, coarse_grid, ratio: int) -> np.ndarray:
    """Richardson step of a density in ``log p`` (its expansion in ``h^2`` holds for ``log p_h``
    as well): the extrapolation stays positive and exact where both solutions are (the
    discrete Boltzmann density of a Gaussian)."""
    return np.exp(_corrected(log_density(fine), log_density(coarse), fine_grid, coarse_grid,
                             ratio))


def _extrapolation_error(levels, fine_ext, ratio: int) -> dict:
    """Estimated errors of the extrapolated values: ``(R_h - I R_H) / (r^4 - 1)`` with ``R_H``
    the extrapolation of the two coarser solves, and of the plain fine solve for comparison."""
    fine, mid, coarse = levels
    coarse_ext = _combine(mid, coarse, ratio)
    vol = fine.grid.cell_volume
    scale = ratio ** EXTRAPOLATED_ORDER - 1.0
    dp = (interpolate_density(fine_ext[0], fine.grid, mid.grid) - coarse_ext[0]) / scale
    dp = interpolate_cubic(dp, mid.grid, fine.grid)
    dJ = interpolate_cubic((interpolate_cubic(fine_ext[1], fine.grid, mid.grid) - coarse_ext[1])
                           / scale, mid.grid, fine.grid)
    return {"density_l1": float(np.abs(dp).sum() * vol),
            "density_max": float(np.abs(dp).max()),
            "current_l1": float(np.abs(dJ).sum() * vol),
            "epr": float(abs(fine_ext[2] - coarse_ext[2]) / scale),
            "fine_density_l1": float(np.abs(fine_ext[0] - fine.p).sum() * vol),
            "fine_epr": float(abs(fine_ext[2] - fine.epr))}
