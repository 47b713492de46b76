"""Probability current on faces and cells, from the operator's own bond fluxes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import SolverError
from ..operators.currents import cell_average, face_fluxes

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
    cells : ndarray, shape (d,) + grid.shape
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
    return ProbabilityCurrent(faces=tuple(faces), cells=cell_average(faces), grid=op.grid)


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


def divergence(current: ProbabilityCurrent) -> np.ndarray:
    """Finite-volume divergence ``sum_i (J_i(x + h_i/2) - J_i(x - h_i/2)) / h_i``."""
    grid = current.grid
    return sum(np.diff(F, axis=i) / grid.spacing[i] for i, F in enumerate(current.faces))
