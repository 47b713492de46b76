"""Metastability and conditioning diagnostics of a stationary density on the grid.

A normwise linear solve (sparse LU, Krylov, multigrid) of ``G p = 0`` determines the weights of
regions joined by a low-probability bottleneck only to ``eps / (relative conductance)``: the
slow mode that moves mass across the bottleneck costs almost no residual.  The conductance of a
cut is the equilibrium flow across it divided by the smaller of the two masses it separates
(Cheeger's constant restricted to that cut; the slowest relaxation rate lies between
``Phi^2 / (2 r)`` and ``2 Phi`` for local rates ``r``).  Here the cuts are all planes between
adjacent cell slabs of the non-periodic axes -- cheap (one pass over the bonds) and exact for
barriers that a plane separates; a curved bottleneck that no plane follows can be missed.
"""

from __future__ import annotations

import numpy as np

__all__ = ["plane_conductance", "METASTABLE_KAPPA"]

#: Cuts that leave less than this mass on one side are not considered: such a region weighs
#: nothing in any norm, and the tails of a normwise solution (absolute accuracy ~1e-10 of the
#: largest entry) would make up a bottleneck there.
MIN_CUT_MASS = 1e-9
#: Above this condition estimate (local rate over the smallest plane conductance) normwise
#: solves lose more than half of the double-precision digits in the well weights.
METASTABLE_KAPPA = 1e6


def plane_conductance(op, p, *, min_mass: float = MIN_CUT_MASS) -> dict:
    """Smallest conductance over the axis-aligned cuts of the grid that leave at least
    ``min_mass`` of the probability on either side, for density ``p``.

    Returns
    -------
    dict
        ``conductance``: ``min_cut flow / min(mass below, mass above)`` (1/time; ``inf`` when
        no axis can be cut); ``rate``: the mass-weighted mean total rate out of a cell;
        ``kappa``: ``rate / conductance``, the condition estimate of a normwise solve;
        ``axis``, ``at``: the cut (axis and coordinate of the plane); ``mass``: the smaller mass.
    """
    grid, bonds = op.grid, op.bonds
    P = np.maximum(np.ravel(p), 0.0) * grid.cell_volume
    P = P / P.sum()
    out_rate = -op.matrix().diagonal()
    rate = float(np.dot(P, out_rate))
    coords = np.unravel_index(np.arange(grid.size), grid.shape)
    best = dict(conductance=np.inf, rate=rate, kappa=0.0, axis=None, at=None, mass=0.0)
    for a in range(grid.ndim):
        n = grid.shape[a]
        if grid.periodic[a]:
            continue
        flow = np.zeros(n - 1)
        for k, off in enumerate(bonds.offsets):
            if off[a] == 0:
                continue
            y = bonds.neighbor[k]
            ok = y >= 0
            gross = 0.5 * (bonds.rate_forward[k, ok] * P[ok]
                           + bonds.rate_backward[k, ok] * P[y[ok]])
            plane = coords[a][ok] - (off[a] < 0)
            flow += np.bincount(plane, weights=gross, minlength=n - 1)[:n - 1]
        slabs = np.bincount(coords[a], weights=P, minlength=n)
        # Both sides summed from their own end: 1 - below would cancel in a light tail.
        small = np.minimum(np.cumsum(slabs)[:-1], np.cumsum(slabs[::-1])[::-1][1:])
        with np.errstate(divide="ignore", invalid="ignore"):
            phi = np.where(small >= min_mass, flow / small, np.inf)
        i = int(np.argmin(phi))
        if phi[i] < best["conductance"]:
            lo, hi = grid.bounds[a]
            best.update(conductance=float(phi[i]), axis=a, mass=float(small[i]),
                        at=float(lo + (i + 1) * (hi - lo) / n))
    if np.isfinite(best["conductance"]):
        best["kappa"] = rate / best["conductance"] if best["conductance"] > 0 else np.inf
    return best
