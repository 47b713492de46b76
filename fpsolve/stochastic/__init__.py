"""SDE integrators and ensembles: ``simulate`` and its streaming observables.

The public entry point is :func:`simulate` (exported as ``fpsolve.simulate``); trajectories come
back as a :class:`TrajectoryResult`.  Stochastic thermodynamics along paths:
:func:`stochastic_entropy_production`, :func:`fluctuation_test`,
:func:`extrapolate_to_zero_dt`.  Integrators and their declared orders are in :data:`METHODS`;
random variates are counter based (:mod:`fpsolve._random`; keys from :func:`fpsolve.derive_key`).
"""

import warnings

from .entropy import StochasticEntropyResult, extrapolate_to_zero_dt, stochastic_entropy_production
from .fluctuation import Estimate, FluctuationTestResult, Verdict, fluctuation_test
from .methods import METHOD_ORDERS, METHODS, SDEMethod
from .observables import CellCurrent, Histogram, PathObservable, RunningEntropy
from .rng import standard_normal
from .simulation import simulate
from .tables import SDETables, default_table_grid, tabulate
from .trajectories import TrajectoryResult

__all__ = ["METHODS", "METHOD_ORDERS", "CellCurrent", "Histogram", "PathObservable",
           "RunningEntropy", "SDEMethod", "SDETables", "TrajectoryResult", "default_table_grid",
           "simulate", "standard_normal", "tabulate",
           "stochastic_entropy_production", "StochasticEntropyResult", "extrapolate_to_zero_dt",
           "fluctuation_test", "FluctuationTestResult", "Estimate", "Verdict"]


def __getattr__(name):
    if name == "derive_key":          # deprecated alias (one release): fpsolve.derive_key
        warnings.warn("fpsolve.stochastic.derive_key is deprecated; use fpsolve.derive_key",
                      DeprecationWarning, stacklevel=2)
        from .._random import derive_key
        return derive_key
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
