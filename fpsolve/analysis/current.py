"""Probability current on faces and cells, from the operator's own bond fluxes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import SolverError

__all__ = ["ProbabilityCurrent", "probability_current", "face_fluxes", "divergence"]


@dataclass(frozen=True)
class ProbabilityCurrent:
    """Probability current of a density on a grid.

    Attributes
    ----------
    faces : tuple of ndarray
        ``faces[i]`` has the shape of the grid with ``n_i + 1`` entries on axis ``i``: the current
        density ``J_i`` through each face normal to axis ``i``, walls included (zero on
        reflecting walls, the exit current on absorbing ones, equal ends on periodic axes).
    cells : ndarray, shape (d, *grid.shape)
        Cell-centered current, the mean of the two faces of each cell per axis.
    grid : CartesianGrid
    """

    faces: tuple
    cells: np.ndarray
    grid: Any


def probability_current(result, p=None) -> ProbabilityCurrent:
    """Current ``J`` of ``result.p`` (or of ``p``) from the operator's bond fluxes.

    Notes
    -----
    Axis bonds cross one face.  A diagonal bond ``x -> x + e_i + s e_j`` is routed half along
    each of the two lattice paths around its plaquette, so its flux is split equally over two
    faces normal to ``i`` and two normal to ``j``.  The face current density is the flux times
    ``h_i``, and ``divergence(current) == -operator.apply(p)`` (``dp/dt = -div J``) holds to
    round-off.

    Examples
    --------
    >>> import numpy as np, fpsolve as fp
    >>> grid = fp.CartesianGrid([(0, 2 * np.pi)], (64,), boundary="periodic")
    >>> model = fp.FokkerPlanckModel(lambda x: np.ones_like(x), 1.0)
    >>> res = fp.solve_stationary(fp.FokkerPlanckOperator(grid, model))
    >>> cur = fp.probability_current(res)
    >>> bool(np.allclose(cur.cells, 1 / (2 * np.pi)))
    True
    """
    op = result_operator(result)
    p = result.p if p is None else p
    faces = face_fluxes(op, p)
    cells = np.stack([0.5 * (np.take(F, range(n), axis=i) + np.take(F, range(1, n + 1), axis=i))
                      for i, (F, n) in enumerate(zip(faces, op.grid.shape))])
    return ProbabilityCurrent(faces=tuple(faces), cells=cells, grid=op.grid)


def result_operator(result):
    """The operator a grid result was computed with; a clear error when it is absent (results
    read back by :func:`fpsolve.io.load` do not carry the operator and its model)."""
    op = getattr(result, "operator", None)
    if op is None:
        raise SolverError(
            "result: has no operator (a result loaded from a file does not store the operator "
            "and its model); rebuild it with dataclasses.replace(result, "
            "operator=fp.FokkerPlanckOperator(result.grid, model, scheme=...)), and for the "
            "'fitted' scheme refit it to the density with .refitted(result.p) (same rates to "
            "the refit tolerance)")
    return op


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


def divergence(current: ProbabilityCurrent) -> np.ndarray:
    """Finite-volume divergence ``sum_i (J_i(x + h_i/2) - J_i(x - h_i/2)) / h_i``."""
    grid = current.grid
    return sum(np.diff(F, axis=i) / grid.spacing[i] for i, F in enumerate(current.faces))
