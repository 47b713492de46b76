"""A-posteriori discretization error of a stationary solve: the error report.

The solution is compared with solves of the same model on grids ``r = 2`` and ``r^2 = 4``
times coarser.  With ``p_h = p + C h^q + ...`` the fine error is estimated cell by cell as

    e_h = (p_h - I p_H) / (r^q - 1),

``I`` the fourth-order cubic transfer of :mod:`fpsolve.solvers.extrapolation` (a lower-order
transfer would add its own ``O(H^2)`` error to the estimate).  The order ``q`` is observed from
the three grids, ``q = log(||I p_4h - p_2h|| / ||I p_2h - p_h||) / log r``, and clipped to
``[ORDER_MIN, ORDER_MAX] = [1.5, 2]``; with only two grids the declared order 2 is used.  A
pre-asymptotic grid (errors falling more slowly than h^2) thus gets an estimate up to 1.6 times
larger than the second-order formula would give, while an apparent order above 2 (a coarsest
grid far outside the asymptotic range) never shrinks the estimate below the second-order one.
The same is done for the cell current and the entropy production rate.  A grid is reported
pre-asymptotic, with an
:class:`~fpsolve.errors.AccuracyWarning`, when the estimated density L1 error exceeds
``threshold`` or the cell Peclet number where the mass sits exceeds ``peclet_limit``.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import AccuracyWarning, SolverError
from ..results import ErrorReport
from .extrapolation import (MIN_COARSE_CELLS, SCHEME_ORDER, _default_solve, coarsened,
                            interpolate_cubic, interpolate_density, solve_level)

__all__ = ["estimate_error", "cell_peclet", "mass_support", "DEFAULT_THRESHOLD",
           "DEFAULT_PECLET_LIMIT"]

#: Estimated density L1 error above which a result warns.  Below the 5 % target of a wrong
#: result by the factor 2.5 the estimate may miss by, so a true 5 % error always warns.
DEFAULT_THRESHOLD = 0.02
#: Cell Peclet number (where the mass sits) above which a result warns.
DEFAULT_PECLET_LIMIT = 10.0
#: Range of the observed order used in the estimate.  Above 2 the scheme is not (it is second
#: order), so a larger apparent order means the coarsest grid is pre-asymptotic: using it would
#: shrink the estimate (measured: 6x too small on a 24-cell double well).  Below, an apparent
#: order near 1 on coarse grids comes as often from convergence that is about to accelerate
#: (the "fitted" scheme: fast rotation 0.73, 0.30, 0.066 on 50^2, 100^2, 200^2) as from a
#: first-order regime (SG rates on the same problem); 1.5 keeps both within a factor 3.2
#: (docs/theory.md, "Error estimates and extrapolation").
ORDER_MIN, ORDER_MAX = 1.5, float(SCHEME_ORDER)
#: Largest representable |log(rate ratio)|: a bond with one rate underflowed to zero.
_LOG_RANGE = 745.0


def estimate_error(op, p, *, solve=None, threshold: float = DEFAULT_THRESHOLD,
                   peclet_limit: float = DEFAULT_PECLET_LIMIT, mass_fraction: float = 0.999,
                   ratio: int = 2, levels: int = 3, warn: bool = True,
                   stacklevel: int = 2) -> ErrorReport:
    """Estimate the discretization error of the stationary density ``p`` of ``op``.

    Parameters
    ----------
    op : FokkerPlanckOperator
        The operator ``p`` was solved with (no absorbing walls; for the ``"fitted"`` scheme the
        refitted ``result.operator``).  Coarser operators get its model and scheme.
    p : ndarray, shape op.grid.shape
        Its normalized stationary density.
    solve : callable, optional, keyword-only
        ``solve(op)`` returns the stationary result (with ``.p`` and ``.operator``) or the
        density of ``op``; used on the coarser grids (the same method as for ``p``).  Default:
        :func:`~fpsolve.solve_stationary` without its own error report.
    threshold : float, default ``DEFAULT_THRESHOLD``
        Estimated density L1 error above which the grid is reported pre-asymptotic.
    peclet_limit : float, default ``DEFAULT_PECLET_LIMIT``
        Cell Peclet number, where the mass sits, above which the grid is reported
        pre-asymptotic.
    mass_fraction : float, default 0.999
        The Peclet number is taken over the fewest cells that hold this fraction of the mass.
    ratio : int, default 2
        Coarsening factor between the grids.
    levels : {1, 2, 3}, default 3
        Grids compared (3: the order is observed; 2: the declared order 2 is used; 1: no
        coarse solve, only the cell Peclet number is judged and the error fields are NaN).
        Coarser grids with fewer than ``MIN_COARSE_CELLS`` cells on an axis are not used.
    warn : bool, default True
        Issue an :class:`~fpsolve.errors.AccuracyWarning` when pre-asymptotic.
    stacklevel : int, default 2
        Passed on to :func:`warnings.warn` for the AccuracyWarning (counted from the caller of
        ``estimate_error``).

    Returns
    -------
    ErrorReport

    Notes
    -----
    Cost: one solve on each coarser grid (about ``2^-d + 4^-d`` of the fine solve for a
    linear-cost solver) plus the current and entropy production on every grid.  Densities
    spanning many decades are fine: all differences are absolute and finite.

    Examples
    --------
    >>> import numpy as np, fpsolve as fp
    >>> from fpsolve.solvers.accuracy import estimate_error
    >>> grid = fp.CartesianGrid([(-6, 6)], (200,))
    >>> op = fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(lambda x: -x - np.sin(3 * x)))
    >>> res = fp.solve_stationary(op)
    >>> rep = estimate_error(res.operator, res.p)
    >>> rep.pre_asymptotic, rep.density_l1 < 1e-3
    (False, True)
    """
    _check_arguments(op, p, threshold, peclet_limit, mass_fraction, ratio, levels)
    p = np.asarray(p, dtype=float).reshape(op.grid.shape)
    solve = _default_solve if solve is None else solve
    support = mass_support(p, mass_fraction)
    pe, pe_at = _largest_on(cell_peclet(op), support, op.grid)
    report = dict(peclet=pe, peclet_at=pe_at, threshold=float(threshold),
                  mass_fraction=float(mass_fraction), peclet_limit=float(peclet_limit),
                  **_estimates(op, p, solve, ratio, levels))
    return _verdict(op.grid, report, warn, stacklevel + 1)


def _estimates(op, p, solve, ratio, levels) -> dict:
    """The error fields of the report from solves on ``levels - 1`` coarser grids (NaN for
    ``levels = 1``)."""
    nan = float("nan")
    if levels == 1:
        return dict(density_l1=nan, density_max=nan, current_l1=nan, epr=nan,
                    orders={"density": nan, "current": nan, "epr": nan}, density_cells=None,
                    density_max_at=(nan,) * op.grid.ndim, shapes=(op.grid.shape,))
    study = [solve_level(op, op.grid, solve, p)]
    grid = op.grid
    for _ in range(levels - 1):
        try:
            grid = coarsened(grid, ratio)
        except SolverError:
            break
        study.append(solve_level(op, grid, solve))
    if len(study) < 2:
        raise SolverError(f"op: grid {op.grid.shape} is too small for an error estimate (a "
                          f"coarser grid needs at least {MIN_COARSE_CELLS} cells per axis)")
    dens, dens_q = _field_estimate(study, "p")
    cur, cur_q = _field_estimate(study, "current")
    epr, epr_q = _scalar_estimate(study)
    vol = op.grid.cell_volume
    return dict(density_l1=float(np.abs(dens).sum() * vol), density_max=float(np.abs(dens).max()),
                current_l1=float(np.abs(cur).sum() * vol), epr=epr,
                orders={"density": dens_q, "current": cur_q, "epr": epr_q}, density_cells=dens,
                density_max_at=_center(op.grid, int(np.argmax(np.abs(dens)))),
                shapes=tuple(lv.grid.shape for lv in study))


def _check_arguments(op, p, threshold, peclet_limit, mass_fraction, ratio, levels) -> None:
    if op.has_absorbing:
        raise SolverError("op: error estimates need a stationary state (no absorbing walls)")
    if np.size(p) != op.grid.size:
        raise SolverError(f"p: expected {op.grid.shape} values (grid.shape), got {np.shape(p)}")
    for name, value in (("threshold", threshold), ("peclet_limit", peclet_limit)):
        if not value > 0:
            raise SolverError(f"{name}: expected a positive number, got {value!r}")
    if not 0 < mass_fraction <= 1:
        raise SolverError(f"mass_fraction: expected a value in (0, 1], got {mass_fraction!r}")
    if int(ratio) != ratio or ratio < 2:
        raise SolverError(f"ratio: expected an integer >= 2, got {ratio!r}")
    if levels not in (1, 2, 3):
        raise SolverError(f"levels: expected 1, 2 or 3, got {levels!r}")


def _effective_ratio(fine, coarse) -> float:
    """Spacing ratio ``H / h`` (geometric mean over the axes; exact when shapes divide)."""
    return float(np.prod([H / h for H, h in zip(coarse.spacing, fine.spacing)])
                 ** (1.0 / fine.ndim))


def _observed(d_fine: float, d_coarse: float, r: float) -> float:
    """Order from the norms of successive differences, clipped to ``[ORDER_MIN, ORDER_MAX]``;
    the declared order where a difference vanishes (an exact quantity) or is not finite."""
    if not (np.isfinite(d_fine) and np.isfinite(d_coarse)) or d_fine <= 0 or d_coarse <= 0:
        return float(SCHEME_ORDER)
    return float(np.clip(np.log(d_coarse / d_fine) / np.log(r), ORDER_MIN, ORDER_MAX))


def _field_estimate(study, name: str):
    """Per-cell error estimate of field ``name`` on the finest grid, and the order used.

    Differences are taken at the coarser grid's centers, with the finer solution interpolated
    there (its interpolation error is ``r^4`` times smaller than that of the coarse solution
    carried to the fine centers); the estimate is then carried back to the fine cells.
    """
    fine, coarse = study[0], study[1]
    r = _effective_ratio(fine.grid, coarse.grid)
    diff = _difference(fine, coarse, name)
    q = float(SCHEME_ORDER)
    if len(study) > 2:
        q = _observed(np.abs(diff).sum() * coarse.grid.cell_volume,
                      np.abs(_difference(coarse, study[2], name)).sum()
                      * study[2].grid.cell_volume, r)
    return interpolate_cubic(diff, coarse.grid, fine.grid) / (r ** q - 1.0), q


def _difference(fine, coarse, name: str) -> np.ndarray:
    """``I p_fine - p_coarse`` at the coarse centers (NaN/inf from a failed solve become 0)."""
    carry = interpolate_density if name == "p" else interpolate_cubic
    diff = carry(getattr(fine, name), fine.grid, coarse.grid) - getattr(coarse, name)
    return np.nan_to_num(diff, nan=0.0, posinf=0.0, neginf=0.0)


def _scalar_estimate(study):
    """Absolute error estimate of the entropy production rate and the order used."""
    values = [lv.epr for lv in study]
    r = _effective_ratio(study[0].grid, study[1].grid)
    if not np.all(np.isfinite(values[:2])):
        return float("nan"), float(SCHEME_ORDER)
    q = (_observed(abs(values[0] - values[1]), abs(values[1] - values[2]), r)
         if len(values) > 2 else float(SCHEME_ORDER))
    return float(abs(values[0] - values[1]) / (r ** q - 1.0)), q


def mass_support(p: np.ndarray, fraction: float) -> np.ndarray:
    """Boolean mask of the fewest cells holding ``fraction`` of the total of ``p`` (the
    largest values; ties at the cut included)."""
    flat = np.where(np.isfinite(p) & (p > 0), p, 0.0).ravel()
    total = flat.sum()
    if total <= 0:
        return np.ones(np.shape(p), dtype=bool)
    ordered = np.sort(flat)[::-1]
    k = int(np.searchsorted(np.cumsum(ordered), fraction * total))
    cut = ordered[min(k, ordered.size - 1)]
    return (flat >= cut).reshape(np.shape(p))


def cell_peclet(op) -> np.ndarray:
    """Cell Peclet number ``max_k |dPsi_k|`` over the axis bonds touching each cell.

    The potential drop of a bond is read from its rates, ``dPsi = log(rate(y -> x) /
    rate(x -> y))`` (every bond is in detailed balance with ``exp(-Psi)``); it equals
    ``|F . h_k e_k|`` to second order.  A bond with one rate underflowed to zero counts as
    ``_LOG_RANGE``.  Shape ``grid.shape``.
    """
    b = op.bonds
    out = np.zeros(op.grid.size)
    for k, off in enumerate(b.offsets):
        if np.count_nonzero(off) != 1:
            continue
        rf, rb = b.rate_forward[k], b.rate_backward[k]
        live = (b.neighbor[k] >= 0) & ((rf > 0) | (rb > 0))
        z = np.zeros(op.grid.size)
        both = live & (rf > 0) & (rb > 0)
        z[both] = np.abs(np.log(rb[both]) - np.log(rf[both]))
        z[live & ~both] = _LOG_RANGE
        out = np.maximum(out, z)
        into = b.neighbor[k][live]
        np.maximum.at(out, into, z[live])
    return out.reshape(op.grid.shape)


def _largest_on(values, mask, grid):
    where = np.where(mask, values, -np.inf)
    i = int(np.argmax(where))
    return float(where.ravel()[i]), _center(grid, i)


def _center(grid, flat_index: int) -> tuple:
    idx = np.unravel_index(flat_index, grid.shape)
    return tuple(float(grid.axis_centers(k)[i]) for k, i in enumerate(idx))


def _verdict(grid, report: dict, warn: bool, stacklevel: int) -> ErrorReport:
    """Decide whether the grid is pre-asymptotic, suggest a spacing, warn, build the report."""
    err, q = report["density_l1"], report["orders"]["density"]
    h = np.asarray(grid.spacing)
    too_coarse = err > report["threshold"]
    too_advective = report["peclet"] > report["peclet_limit"]
    factor = 1.0
    if too_coarse:
        factor = min(factor, (report["threshold"] / err) ** (1.0 / q))
    if too_advective:
        factor = min(factor, report["peclet_limit"] / report["peclet"])
    pre = bool(too_coarse or too_advective)
    spacing = tuple(float(s) for s in 0.9 * factor * h) if pre else None
    message = _message(grid, report, too_coarse, too_advective, spacing)
    if pre and warn:
        warnings.warn(message, AccuracyWarning, stacklevel=stacklevel)
    return ErrorReport(pre_asymptotic=pre, suggested_spacing=spacing, message=message, **report)


def _message(grid, report, too_coarse, too_advective, spacing) -> str:
    if not np.isfinite(report["density_l1"]):
        head = (f"no error estimate (no coarse solves); cell Peclet number "
                f"{report['peclet']:.3g} at x = {_fmt(report['peclet_at'])} where the mass sits")
    else:
        head = _estimate_line(report)
    if spacing is None:
        return head
    return _pre_asymptotic(grid, report, head, too_coarse, too_advective, spacing)


def _estimate_line(report) -> str:
    return (f"estimated discretization error: density L1 {report['density_l1']:.2g} (max "
            f"{report['density_max']:.2g} at x = {_fmt(report['density_max_at'])}), current L1 "
            f"{report['current_l1']:.2g}, entropy production {report['epr']:.2g} (observed "
            f"order {report['orders']['density']:.2f}); cell Peclet number "
            f"{report['peclet']:.3g} at x = {_fmt(report['peclet_at'])} where the mass sits")


def _pre_asymptotic(grid, report, head, too_coarse, too_advective, spacing) -> str:
    why = []
    if too_coarse:
        why.append(f"estimated L1 error {report['density_l1']:.2g} > threshold "
                   f"{report['threshold']:.2g}")
    if too_advective:
        why.append(f"cell Peclet number {report['peclet']:.3g} > {report['peclet_limit']:.3g}")
    cells = tuple(int(np.ceil((hi - lo) / s)) for (lo, hi), s in zip(grid.bounds, spacing))
    return (f"grid {grid.shape} is pre-asymptotic ({'; '.join(why)}): {head}. Spacing "
            f"{_fmt(spacing)} (about {cells} cells) would bring it under the limits.")


def _fmt(values) -> str:
    return "(" + ", ".join(f"{v:.3g}" for v in values) + ")"
