"""fpsolve: Fokker-Planck equations of stochastic dynamics and of neural-network training."""

from . import errors, grids, models, operators
from .grids import CartesianGrid
from .models import FokkerPlanckModel
from .operators import FokkerPlanckOperator

__version__ = "0.1.0"

__all__ = ["CartesianGrid", "FokkerPlanckModel", "FokkerPlanckOperator", "errors", "grids",
           "models", "operators", "__version__"]
