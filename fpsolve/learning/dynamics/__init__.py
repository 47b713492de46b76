"""Learning dynamics on the one run engine: schedules, SGD (SGLD, SGWORLD) and the samplers.

Every driver runs the one chain loop of :mod:`fpsolve.learning.dynamics._kernels`
(:class:`~fpsolve.learning.dynamics.chains.ChainRun` on :func:`fpsolve._runs.drive`).
"""

from .samplers import (SAMPLERS, SGLD, SGLDCV, SGWORLD, ULA, MidpointSGWORLD, SampleResult,
                       Sampler, as_sampler, sample)
from .schedules import SCHEDULES, check_batch_size, minibatch_indices
from .sgd import SGDResult, mlp_sgd, sgd

__all__ = ["SAMPLERS", "SCHEDULES", "SGDResult", "SGLD", "SGLDCV", "SGWORLD", "ULA",
           "MidpointSGWORLD",
           "SampleResult", "Sampler", "as_sampler", "check_batch_size", "minibatch_indices",
           "mlp_sgd", "sample", "sgd"]
