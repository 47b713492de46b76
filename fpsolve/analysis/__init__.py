"""Pure functions of results: currents, entropy production, observed orders of convergence."""

from .convergence import observed_order
from .current import ProbabilityCurrent, divergence, face_fluxes, probability_current
from .entropy import entropy_production_rate

__all__ = ["ProbabilityCurrent", "probability_current", "face_fluxes", "divergence",
           "entropy_production_rate", "observed_order"]
