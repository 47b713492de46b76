"""Theory of learning dynamics near a minimum: the Gaussian theory of SGD
(:mod:`~fpsolve.learning.theory.gaussian`), the epoch theory of WOR batching
(:mod:`~fpsolve.learning.theory.wor`), trajectory estimators
(:mod:`~fpsolve.learning.theory.estimators`) and the exact stationary moments of the samplers
(:mod:`~fpsolve.learning.theory.sampler_moments`, :mod:`~fpsolve.learning.theory.sampler_schemes`).
"""

from .estimators import EntropyProductionStream, area_velocity, entropy_production_windows
from .gaussian import (CHUNK, GaussianTheory, Minimum, empirical_diffusion, find_minimum,
                       finite_population, gaussian_theory, minibatch_diffusion,
                       reduced_gaussian_theory)
from .sampler_moments import (Linearization, StationaryMoments, first_order_bias, linearize,
                              stationary_moments)
from .sampler_schemes import StepRule, step_rule
from .wor import (EpochStatistics, wor_diffusion, wor_effective_loss, wor_epoch_statistics,
                  wor_leading_diffusion, wor_stationary_mean)

__all__ = ["CHUNK", "EntropyProductionStream", "EpochStatistics", "GaussianTheory",
           "Linearization", "Minimum", "StationaryMoments", "StepRule", "area_velocity",
           "empirical_diffusion", "entropy_production_windows", "find_minimum",
           "finite_population", "first_order_bias", "gaussian_theory", "linearize",
           "minibatch_diffusion", "reduced_gaussian_theory", "stationary_moments", "step_rule",
           "wor_diffusion", "wor_effective_loss", "wor_epoch_statistics",
           "wor_leading_diffusion", "wor_stationary_mean"]
