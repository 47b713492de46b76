"""fpsolve: Fokker-Planck equations of stochastic dynamics and of neural-network training."""

from ._version import __version__
from ._random import derive_key
from . import (analysis, distributed, errors, grids, io, learning, linear, models, operators,
               plotting, results, solvers, stochastic)
from .analysis import divergence, entropy_production_rate, probability_current
from .grids import CartesianGrid
from .models import FokkerPlanckModel
from .operators import FokkerPlanckOperator
from .stochastic import (extrapolate_to_zero_dt, fluctuation_test, simulate,
                         stochastic_entropy_production)
from .solvers import (estimate_error, evolve, extrapolate_stationary, mean_first_passage_time,
                      relaxation_spectrum, solve_quasi_stationary, solve_stationary)

__all__ = [
    "CartesianGrid", "FokkerPlanckModel", "FokkerPlanckOperator", "solve_stationary", "evolve",
    "relaxation_spectrum", "solve_quasi_stationary", "mean_first_passage_time",
    "estimate_error", "extrapolate_stationary",
    "probability_current", "divergence", "entropy_production_rate",
    "simulate", "stochastic_entropy_production", "fluctuation_test", "extrapolate_to_zero_dt",
    "derive_key",
    "analysis", "distributed", "errors", "grids", "io", "learning", "linear", "models", "operators",
    "plotting",
    "results", "solvers", "stochastic", "__version__",
]
