"""Probability currents and entropy production from the operator's own bond fluxes.

The one place where bond fluxes become face currents and Schnakenberg's entropy production, so
that every layer above the operator -- the solvers' error estimates as much as
:mod:`fpsolve.analysis` -- uses the same numbers ("one flux, one truth").
"""

from __future__ import annotations

import numpy as np

from ..errors import SolverError

__all__ = ["face_fluxes", "cell_average", "cell_current", "schnakenberg_rate"]


def face_fluxes(op, p) -> list[np.ndarray]:
    """Face current densities ``J_i`` (walls included) of density ``p`` for operator ``op``."""
    grid, bonds = op.grid, op.bonds
    if np.shape(p) != grid.shape:
        raise SolverError(f"p: expected shape {grid.shape} (grid.shape), got {np.shape(p)}")
    phi = op.bond_fluxes(p)
    upper = [np.zeros(grid.shape) for _ in range(grid.ndim)]  # face at x + e_i / 2
    for k, off in enumerate(bonds.offsets):
        axes = np.flatnonzero(off)
        if len(axes) == 1:
            upper[axes[0]] += phi[k]
            continue
        i, j = axes
        s = int(off[j])
        half = 0.5 * phi[k]
        upper[i] += half + np.roll(half, s, axis=j)
        shifted = np.roll(half, 1, axis=i)
        upper[j] += s * (half + shifted if s > 0 else np.roll(half + shifted, -1, axis=j))
    return [_with_walls(op, p, F, i) * grid.spacing[i] for i, F in enumerate(upper)]


def cell_average(faces) -> np.ndarray:
    """Cell-centered current ``(d, *shape)``: per axis the mean of each cell's two faces."""
    return np.stack([0.5 * (np.take(F, range(F.shape[i] - 1), axis=i)
                            + np.take(F, range(1, F.shape[i]), axis=i))
                     for i, F in enumerate(faces)])


def cell_current(op, p) -> np.ndarray:
    """Cell-centered current of density ``p`` for operator ``op``, shape ``(d, *grid.shape)``."""
    return cell_average(face_fluxes(op, p))


def _with_walls(op, p, upper: np.ndarray, axis: int) -> np.ndarray:
    """Prepend the lower-wall face to the ``n_i`` upper faces; add exits through the walls."""
    grid = op.grid
    if grid.periodic[axis]:
        lower = np.take(upper, [-1], axis=axis)
    else:
        lower = np.zeros_like(np.take(upper, [0], axis=axis))
    for (ax, side), rate in op.bonds.exits.items():
        if ax != axis:
            continue
        out = rate.reshape(grid.shape) * p
        if side > 0:
            upper = upper + out
        else:
            lower = lower - np.take(out, [0], axis=axis)
    return np.concatenate([lower, upper], axis=axis)



def schnakenberg_rate(op, p) -> float:
    """Schnakenberg's entropy production rate of density ``p`` over the bonds of ``op``:
    ``V sum_bonds Phi ln(r_xy p_x / (r_yx p_y))`` with the bond flux ``Phi`` (bonds with a zero
    one-way flow carry none)."""
    b = op.bonds
    flat = p.ravel()
    phi = op.bond_fluxes(p).reshape(len(b.offsets), -1)
    total = 0.0
    for k in range(len(b.offsets)):
        y = b.neighbor[k]
        ok = y >= 0
        forward = b.rate_forward[k, ok] * flat[ok]
        backward = b.rate_backward[k, ok] * flat[y[ok]]
        live = (forward > 0) & (backward > 0)
        total += np.sum(phi[k, ok][live] * np.log(forward[live] / backward[live]))
    return float(total * op.grid.cell_volume)
