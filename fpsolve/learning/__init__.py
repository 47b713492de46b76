"""Learning as a stochastic process: models with analytic gradients, minibatch schedules, SGD.

* :mod:`~fpsolve.learning.models` -- :class:`RegressionNetwork`, :class:`LinearRegression`,
  :class:`SoftmaxRegression` with per-sample gradients and exact Hessians;
* :mod:`~fpsolve.learning.datasets` -- :class:`Dataset`, :func:`paper_regression`,
  :func:`load_regression`;
* :mod:`~fpsolve.learning.schedules` -- with (``"wr"``) and without (``"wor"``) replacement;
* :mod:`~fpsolve.learning.sgd` -- :func:`sgd` (plain SGD, SGLD, SGWORLD) returning
  :class:`SGDResult`;
* :mod:`~fpsolve.learning.theory` -- minimum, minibatch diffusion, Gaussian (Lyapunov) theory;
* :mod:`~fpsolve.learning.estimators` -- area velocity, windowed entropy production;
* :mod:`~fpsolve.learning.wor` -- epoch-level theory of without-replacement batching;
* :mod:`~fpsolve.learning.slices` / :mod:`~fpsolve.learning.slice_sgd` -- grid Fokker-Planck
  models of SGD on two-parameter slices, and SGD on those slices for comparison;
* :mod:`~fpsolve.learning.samplers` -- ULA, SGLD, SGWORLD and SGLDCV posterior samplers with
  :mod:`~fpsolve.learning.diagnostics` (R-hat, ESS) and exact stationary moments
  (:mod:`~fpsolve.learning.posteriors`).
"""

from .datasets import Dataset, load_regression, paper_regression
from .models import GradientModel, LinearRegression, RegressionNetwork, SoftmaxRegression
from .schedules import derive_key, minibatch_indices
from .estimators import area_velocity, entropy_production_windows
from .digits import load_digits, load_idx
from .mlp import MLPClassifier, mlp_sgd
from .diagnostics import MixingWarning, effective_sample_size, rhat
from .posteriors import (GaussianPosterior, StationaryMoments, first_order_bias,
                         gaussian_posterior, grid_posterior, moment_errors,
                         sampler_fokker_planck_model, stationary_moments)
from .samplers import SGLD, SGLDCV, SGWORLD, ULA, SampleResult, Sampler, sample
from .sgd import SGDResult, sgd
from .slice_sgd import SliceSGDResult, slice_sgd
from .slice_sgd import total_variation as slice_total_variation
from .slices import SliceProblem, sgd_fokker_planck, slice_drift_diffusion
from .theory import (GaussianTheory, Minimum, empirical_diffusion, find_minimum, gaussian_theory,
                     minibatch_diffusion)
from .wor import (EpochStatistics, wor_diffusion, wor_effective_loss, wor_epoch_statistics,
                  wor_stationary_mean)

__all__ = [
    "Dataset", "paper_regression", "load_regression",
    "GradientModel", "RegressionNetwork", "LinearRegression", "SoftmaxRegression",
    "derive_key", "minibatch_indices",
    "SGDResult", "sgd",
    "Minimum", "find_minimum", "minibatch_diffusion", "empirical_diffusion", "GaussianTheory",
    "gaussian_theory", "area_velocity", "entropy_production_windows",
    "EpochStatistics", "wor_effective_loss", "wor_stationary_mean", "wor_epoch_statistics",
    "wor_diffusion",
    "SliceProblem", "sgd_fokker_planck", "slice_drift_diffusion", "SliceSGDResult", "slice_sgd",
    "slice_total_variation",
    "sample", "SampleResult", "Sampler", "ULA", "SGLD", "SGWORLD", "SGLDCV",
    "rhat", "effective_sample_size", "MixingWarning",
    "gaussian_posterior", "GaussianPosterior", "stationary_moments", "StationaryMoments",
    "first_order_bias", "moment_errors", "grid_posterior", "sampler_fokker_planck_model",
    "load_digits", "load_idx", "MLPClassifier", "mlp_sgd",
]
