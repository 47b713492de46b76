"""Exceptions and warnings raised by fpsolve.

Every error is a subclass of :class:`FpsolveError`, itself a :class:`ValueError`, so callers that
catch ``ValueError`` keep working.  Messages name the offending argument and what was expected.
"""

from __future__ import annotations

__all__ = [
    "FpsolveError",
    "GridError",
    "ModelError",
    "DiffusionError",
    "BoundaryError",
    "SolverError",
    "ConvergenceError",
    "FpsolveWarning",
    "PositivityWarning",
    "ConvergenceWarning",
    "AccuracyWarning",
]


class FpsolveError(ValueError):
    """Base class of all fpsolve errors (a ``ValueError``)."""


class GridError(FpsolveError):
    """Invalid grid specification (bounds, shape, boundary)."""


class ModelError(FpsolveError):
    """Invalid continuous model: drift, diffusion, convention, non-finite values, shapes."""


class DiffusionError(ModelError):
    """Diffusion tensor that is not symmetric positive definite somewhere."""


class BoundaryError(FpsolveError):
    """A request that is incompatible with the boundary conditions (e.g. stationary state with
    absorbing walls)."""


class SolverError(FpsolveError):
    """Invalid solver input (initial density, times, method names)."""


class ConvergenceError(FpsolveError):
    """An iterative solver did not reach its tolerance and the caller asked for strictness."""


class FpsolveWarning(UserWarning):
    """Base class of fpsolve warnings."""


class PositivityWarning(FpsolveWarning):
    """The discretization is not an M-matrix: densities may become negative."""


class ConvergenceWarning(FpsolveWarning):
    """An iterative solver stopped before reaching its tolerance."""


class AccuracyWarning(FpsolveWarning):
    """The discretization is pre-asymptotic: the estimated error exceeds the threshold or the
    cell Peclet number where the mass sits is large.  The message says where, how large, and
    what spacing would fix it."""
