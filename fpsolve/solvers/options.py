"""Checks of the options the solvers share (``tol``, ``maxiter``, the operator argument).

One checker per option, so that every solver refuses the same bad values with the same message:
a tolerance must be a finite number in (0, 1) -- ``tol = NaN`` would make every comparison false
and report "not converged at residual 1e-16", a negative one could never be met -- and an
iteration cap a positive int.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import SolverError

__all__ = ["check_tol", "check_maxiter", "check_operator"]


def check_tol(tol, name: str = "tol") -> float:
    """``tol`` as a float in (0, 1); :class:`SolverError` naming ``name`` otherwise."""
    if isinstance(tol, (bool, np.bool_)) or not isinstance(tol, (int, float, np.integer,
                                                                  np.floating)):
        raise SolverError(f"{name}: expected a number in (0, 1), got {tol!r}")
    if not (math.isfinite(tol) and 0 < tol < 1):
        raise SolverError(f"{name}: expected a finite tolerance in (0, 1), got {tol!r}")
    return float(tol)


def check_maxiter(maxiter, name: str = "maxiter") -> int:
    """``maxiter`` as a positive int; :class:`SolverError` naming ``name`` otherwise."""
    if isinstance(maxiter, (bool, np.bool_)) or not isinstance(maxiter, (int, np.integer)) \
            or maxiter < 1:
        raise SolverError(f"{name}: expected a positive int, got {maxiter!r}")
    return int(maxiter)


def check_operator(op, name: str = "op"):
    """``op`` must be a Fokker-Planck operator (an object with ``grid`` and ``matrix()``):
    passing a grid or a model instead raises :class:`SolverError` naming ``name`` and the type,
    not an AttributeError deep inside the solver."""
    if not (hasattr(op, "grid") and callable(getattr(op, "matrix", None))):
        raise SolverError(f"{name}: expected a FokkerPlanckOperator (build one with "
                          f"FokkerPlanckOperator(grid, model)), got {type(op).__name__}")
    return op
