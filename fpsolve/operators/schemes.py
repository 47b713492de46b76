"""Bond-rate schemes: how the symmetric weight of each bond is fitted.

Every scheme gives a bond ``x -> y`` with diffusive weight ``c`` and potential drop ``dPsi`` the
rates

    rate(x -> y) = c w exp(-dPsi / 2),   rate(y -> x) = c w exp(+dPsi / 2),   w = W(zeta),

with ``W(zeta) = (zeta/2) / sinh(zeta/2)`` and a *fitting drop* ``zeta`` that is the scheme's
only choice.  The ratio of the two rates is ``exp(-dPsi)`` for every scheme, so gradient drifts
with constant ``D`` keep the exact discrete Boltzmann density, ``w > 0`` keeps the M-matrix, and
the bond-flux form keeps mass conservation.

``"sg"``
    ``zeta = dPsi``: Scharfetter-Gummel, ``rate = c B(dPsi)``; exact when the current is constant
    along the bond (1-D stationary states).
``"split"``
    ``zeta = dPsi - dU``: SG fitting of the non-conservative part of the drop only, the exact
    potential difference ``dU`` of a :meth:`~fpsolve.models.FokkerPlanckModel.from_potential`
    model weighted symmetrically.  Equals ``"sg"`` for models given as a drift.
``"sqra"``
    ``zeta = 0``: the square-root approximation ``rate = c exp(-dPsi/2)``.
``"fitted"`` (default)
    Self-consistent density fitting.  Before a stationary solve the rates are SG's; the stationary
    solver then refits with :func:`refit_to_density`: ``zeta = dPsi - ln(p_x / p_y)`` for the
    latest density ``p``, solves again, and repeats until the density stops changing.  At the
    fixed point the bond flux is ``c m (ln p_x - ln p_y - dPsi)``, a central difference of the
    chemical potential ``ln p + Psi`` times the midpoint density ``m = sqrt(p_x p_y)
    exp(-h^2 (ln p)'' / 8)`` (fourth order, from the four densities along the bond's line):
    exact for log-quadratic densities when the velocity ``J / p`` is constant along the bond,
    whereas SG is exact when ``J`` is.  Circulating steady states have smooth ``J / p`` but
    strongly varying ``J``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import ModelError
from . import _kernels

__all__ = ["SCHEMES", "DEFAULT_SCHEME", "check_scheme", "fitting_drops", "density_fitted_bonds",
           "refit_to_density"]

#: Scheme names accepted by ``FokkerPlanckOperator(..., scheme=)``.
SCHEMES = ("fitted", "sg", "split", "sqra")
DEFAULT_SCHEME = "fitted"

#: Densities below this fraction of the largest one keep SG rates when refitting: their
#: logarithm is dominated by the linear solver's absolute error (residuals ~1e-10 relative).
REFIT_FLOOR = 1e-12


def check_scheme(scheme) -> str:
    """Validate a scheme name; :class:`~fpsolve.errors.ModelError` naming ``scheme`` otherwise."""
    if not isinstance(scheme, str) or scheme not in SCHEMES:
        raise ModelError(f"scheme: expected one of {', '.join(map(repr, SCHEMES))}, "
                         f"got {scheme!r}")
    return scheme


def fitting_drops(scheme: str, drop: np.ndarray, potential_drop) -> np.ndarray | None:
    """Fitting drop ``zeta`` of one bond family, or None for SG rates (``zeta = dPsi``)."""
    if scheme == "sqra":
        return np.zeros_like(drop)
    if scheme == "split" and potential_drop is not None:
        return drop - potential_drop
    return None


def density_fitted_bonds(bonds, p, *, floor: float = REFIT_FLOOR):
    """Bond set with ``zeta = dPsi - ln(p_x / p_y)`` on every bond whose two densities exceed
    ``floor * max(p)``, SG rates (``zeta = dPsi``) elsewhere.

    Parameters
    ----------
    bonds : BondSet
        Bonds carrying their potential drops (``bonds.drops``).
    p : ndarray, shape (n,)
        Density (any normalization); non-positive or non-finite entries count as below the floor.
    floor : float
        Relative density below which a bond keeps its SG rates.
    """
    p = np.asarray(p, dtype=float).ravel()
    top = np.max(p[np.isfinite(p)], initial=0.0)
    good = np.isfinite(p) & (p > floor * top) & (top > 0)
    logp = np.where(good, np.log(np.where(good, p, 1.0)), 0.0)
    rf, rb = np.empty_like(bonds.rate_forward), np.empty_like(bonds.rate_backward)
    for k in range(len(bonds.offsets)):
        nbr = bonds.neighbor[k]
        y = np.maximum(nbr, 0)
        usable = good & good[y]
        fit = np.where(usable, bonds.drops[k] - (logp - logp[y]), bonds.drops[k])
        c = bonds.weights[k] * _midpoint_factor(bonds.previous[k], nbr, logp, usable & good)
        _kernels.weighted_rates(c, bonds.drops[k], np.ascontiguousarray(fit), nbr, rf[k], rb[k])
    return dataclasses.replace(bonds, rate_forward=rf, rate_backward=rb)


def _midpoint_factor(prev, nbr, logp, usable) -> np.ndarray:
    """``p(midpoint) / sqrt(p_x p_y)`` to fourth order, ``exp(-h^2 (ln p)'' / 8)``, for each bond
    ``x -> y`` of one family; 1 where the bond has no usable neighbour bond on either side.

    ``h^2 (ln p)''`` at the midpoint is ``(ln p_w - ln p_x - ln p_y + ln p_z) / 2`` with ``w``
    before ``x`` and ``z`` after ``y`` (error O(h^4)).  The exponent is clipped to +-1/2 (a
    correction of at most ~65 %): beyond that the density is not resolved and the weight should
    not follow it.
    """
    y = np.maximum(nbr, 0)
    z = np.where(nbr >= 0, nbr[y], -1)
    w, z0 = np.maximum(prev, 0), np.maximum(z, 0)
    four = usable & (prev >= 0) & (z >= 0) & usable[w] & usable[y]
    second = np.where(four, 0.5 * (logp[w] - logp - logp[y] + logp[z0]), 0.0)
    return np.exp(-np.clip(second, -4.0, 4.0) / 8.0)


def refit_to_density(op, solve, result=None, *, max_refits: int = 4, rtol: float = 0.05):
    """Iterate ``op -> op.refitted(p) -> solve`` towards the self-consistent density-fitted rates.

    Parameters
    ----------
    op : FokkerPlanckOperator
    solve : callable
        ``solve(op, previous)`` returns a result with the stationary density of ``op`` as ``.p``
        (normalized, ``sum(p) * cell_volume = 1``); ``previous`` is the result of the operator
        before the refit (a start for iterative solves).
    result : result of ``solve(op)``, optional
        The solve of ``op`` itself when already done (saves one solve).
    max_refits : int
        At most this many refits (each one solve).
    rtol : float
        Stop once the L1 change of the density in one refit is at most ``rtol`` times the change
        in the first refit (the iteration contracts geometrically; the first change estimates
        the error of the unfitted rates).

    Returns
    -------
    (FokkerPlanckOperator, result)
        The last refitted operator and its solve.
    """
    if result is None:
        result = solve(op, None)
    first = None
    for _ in range(max_refits):
        op_new = op.refitted(result.p)
        new = solve(op_new, result)
        change = float(np.abs(np.asarray(new.p) - np.asarray(result.p)).sum()
                       * op.grid.cell_volume)
        op, result = op_new, new
        first = change if first is None else first
        if change <= rtol * first or change <= 1e-12:
            break
    return op, result
