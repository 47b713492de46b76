"""Explicit-scheme stability of ``simulate``: the largest stable ``dt`` from the drift Jacobian.

Euler-Maruyama, Heun and Milstein treat the drift explicitly.  Near a point where the drift has
Jacobian ``J``, the mean of a step maps ``x -> (1 + dt J) x``.  For a relaxation rate ``k``
(``lambda = -k``) it is stable only for ``dt < 2 / k``; the bound used is ``dt < 2 / |lambda|``
over the eigenvalues with ``Re lambda < 0`` (growing modes of an expanding drift are not
over-stepped, only under-resolved): it equals ``2 / k`` for real relaxation and does not
flag the slow ``1 + (omega dt)^2 / 2`` growth per step of a weak rotation (``lambda`` nearly
imaginary), which the noise and the relaxation elsewhere dominate at ``omega dt << 1``.
Beyond the bound the trajectories oscillate with growing amplitude until the walls stop them:
positions stay finite, so no divergence check fires, yet every statistic is wrong
(``a = -1000 x``, ``dt = 0.01``: a variance of 7 instead of 1e-3).  Well below it the
stationary variance of Euler-Maruyama is still off by the factor ``1 / (1 - k dt / 2)`` (+33 %
at ``k dt = 1/2``), hence a warning from half the bound on.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import FpsolveWarning, SolverError

__all__ = ["stable_dt", "check_stiffness"]

#: Warn from this fraction of the stability bound on (Euler-Maruyama variance error >= 33 %).
WARN_FRACTION = 0.5


def stable_dt(tables):
    """Largest stable explicit step over the table grid and the point where it is attained.

    Parameters
    ----------
    tables : SDETables
        From :func:`~fpsolve.stochastic.tables.tabulate`: an affine drift ``[b; M^T]`` or a
        drift table ``(n_cells, d)`` on ``tables.table_grid`` (Jacobian by central differences,
        one-sided at the walls).

    Returns
    -------
    (float, tuple)
        ``dt_max = 2 / max |lambda|`` over decaying modes (``inf`` when there are none) and the
        cell center where it is smallest (``()`` for an affine drift).
    """
    tgrid, drift = tables.table_grid, np.asarray(tables.drift, dtype=float)
    d = tgrid.ndim
    if drift.shape[0] != tgrid.size:                # affine [b; M^T]: J = M everywhere
        jac, centers = drift[1:].T[None], None
    else:
        field = drift.reshape(tgrid.shape + (d,))
        jac = np.stack([np.gradient(field, tgrid.spacing[k], axis=k) if tgrid.shape[k] > 1
                        else np.zeros_like(field) for k in range(d)], axis=-1).reshape(-1, d, d)
        centers = tgrid.cell_centers().reshape(d, -1)
    lam = np.linalg.eigvals(jac)                    # only decaying modes can be over-stepped
    radius = np.where(lam.real < 0, np.abs(lam), 0.0).max(axis=1)
    with np.errstate(divide="ignore"):
        bound = np.where(radius > 0, 2.0 / radius, np.inf)
    i = int(np.argmin(bound))
    where = () if centers is None else tuple(float(c) for c in centers[:, i])
    return float(bound[i]), where


def check_stiffness(tables, dt, method) -> float:
    """Raise :class:`SolverError` when ``dt`` exceeds the explicit stability bound of the drift,
    warn (:class:`FpsolveWarning`) from ``WARN_FRACTION`` of it on; return the bound."""
    dt_max, where = stable_dt(tables)
    at = f" (steepest at x = {where})" if where else ""
    if dt >= dt_max:
        raise SolverError(f"dt: {dt:g} exceeds the stability bound {dt_max:.3g} of explicit "
                          f"'{method}' for this drift{at}: trajectories would oscillate between "
                          f"the walls instead of relaxing; use dt < {WARN_FRACTION * dt_max:.3g}")
    if dt > WARN_FRACTION * dt_max:
        warnings.warn(f"dt = {dt:g} is more than {WARN_FRACTION:g} of the explicit stability "
                      f"bound {dt_max:.3g}{at}: stationary variances are biased by tens of per "
                      f"cent (1 / (1 - k dt / 2) for relaxation rate k)", FpsolveWarning,
                      stacklevel=4)
    return dt_max
