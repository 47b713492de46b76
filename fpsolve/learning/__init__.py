"""Learning as a stochastic process, in layers (each imports only the ones before it):

* :mod:`~fpsolve.learning.diagnostics` -- R-hat, ESS, Gaussian distances (the bottom);
* :mod:`~fpsolve.learning.data` -- :class:`Dataset`, :func:`paper_regression`, digits/IDX loaders;
* :mod:`~fpsolve.learning.models` -- :class:`RegressionNetwork`, :class:`LinearRegression`,
  :class:`SoftmaxRegression`, :class:`MLPClassifier` with per-sample gradients and exact
  Hessians; the one model-kernel dispatch; :func:`find_minimum`;
* :mod:`~fpsolve.learning.dynamics` -- schedules (``"wr"``, ``"wor"``, ``"wor-palindromic"``),
  :func:`sgd` (plain SGD, SGLD, SGWORLD) and :func:`sample` (ULA, SGLD, SGWORLD, SGLDCV), all
  in the one chain loop on the run engine of :mod:`fpsolve._runs`;
* :mod:`~fpsolve.learning.theory` -- the Gaussian theory of SGD, the epoch theory of WOR
  batching, trajectory estimators (area velocity, windowed entropy production) and the exact
  stationary moments of the samplers;
* :mod:`~fpsolve.learning.slices`, :mod:`~fpsolve.learning.posterior_grids` and
  :mod:`~fpsolve.learning.posteriors` -- grid Fokker-Planck problems of SGD and of the samplers
  on parameter slices, and the posterior toolbox (exact Gaussian posteriors, moment errors);
* :mod:`~fpsolve.learning.studies` -- stationary-run studies (the top).

Old module paths (``fpsolve.learning.samplers``, ``.schedules``, ``.datasets``, ``.digits``,
``.mlp``, ``.experiments``, ``.wor``, ``.estimators``, ``.sampler_moments``, ``.sampler_schemes``)
still import, with a DeprecationWarning, for one release
(docs/api.md, "Renames and deprecations").
"""

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

from .data import Dataset, load_digits, load_idx, load_regression, paper_regression
from .models import (GradientModel, LinearRegression, LogisticRegression, MLPClassifier, Minimum,
                     RegressionNetwork, SoftmaxRegression, UserModel, find_minimum)
from .diagnostics import MixingWarning, effective_sample_size, rhat
from .dynamics import (SGLD, SGLDCV, SGWORLD, ULA, MidpointSGWORLD, SampleResult, Sampler,
                       SGDResult, minibatch_indices, mlp_sgd, sample, sgd)
from .theory import (EntropyProductionStream, EpochStatistics, GaussianTheory, area_velocity,
                     empirical_diffusion, entropy_production_windows, gaussian_theory,
                     minibatch_diffusion, reduced_gaussian_theory, wor_effective_loss,
                     wor_epoch_statistics, wor_leading_diffusion, wor_stationary_mean)
from .posteriors import (GaussianPosterior, StationaryMoments, first_order_bias,
                         gaussian_posterior, grid_posterior, moment_errors,
                         sampler_fokker_planck_model, stationary_moments)
from .slices import SliceProblem, SliceSGDResult, sgd_fokker_planck, slice_drift_diffusion
from .slices import slice_sgd
from .slices import total_variation as slice_total_variation

__all__ = [
    "Dataset", "paper_regression", "load_regression",
    "GradientModel", "RegressionNetwork", "LinearRegression", "SoftmaxRegression",
    "LogisticRegression", "UserModel",
    "minibatch_indices",
    "SGDResult", "sgd",
    "Minimum", "find_minimum", "minibatch_diffusion", "empirical_diffusion", "GaussianTheory",
    "gaussian_theory", "reduced_gaussian_theory", "area_velocity", "entropy_production_windows",
    "EntropyProductionStream",
    "EpochStatistics", "wor_effective_loss", "wor_stationary_mean", "wor_epoch_statistics",
    "wor_leading_diffusion",
    "SliceProblem", "sgd_fokker_planck", "slice_drift_diffusion", "SliceSGDResult", "slice_sgd",
    "slice_total_variation",
    "sample", "SampleResult", "Sampler", "ULA", "SGLD", "SGWORLD", "SGLDCV", "MidpointSGWORLD",
    "rhat", "effective_sample_size", "MixingWarning",
    "gaussian_posterior", "GaussianPosterior", "stationary_moments", "StationaryMoments",
    "first_order_bias", "moment_errors", "grid_posterior", "sampler_fokker_planck_model",
    "load_digits", "load_idx", "MLPClassifier", "mlp_sgd",
]

#: Old module paths -> their new homes (deprecated aliases, one release).  ``sgd`` and
#: ``slice_sgd`` are not aliased: those names are the functions.
MOVED_MODULES = {"datasets": "data.datasets", "digits": "data.digits", "mlp": "models.mlp",
                 "schedules": "dynamics.schedules", "samplers": "dynamics.samplers",
                 "experiments": "studies", "wor": "theory.wor", "estimators": "theory.estimators",
                 "sampler_moments": "theory.sampler_moments",
                 "sampler_schemes": "theory.sampler_schemes"}
#: Old public names -> (new home, new name).
MOVED_NAMES = {"derive_key": ("fpsolve._random", "derive_key"),
               "wor_diffusion": ("fpsolve.learning.theory.wor", "wor_diffusion")}


def __getattr__(name):
    if name in MOVED_NAMES:
        module, new = MOVED_NAMES[name]
        warnings.warn(f"fpsolve.learning.{name} is deprecated; use {module}.{new}",
                      DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(module), new)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Import ``fpsolve.learning.<old>`` as its new module, with a DeprecationWarning."""

    def find_spec(self, fullname, path=None, target=None):
        parent, _, short = fullname.rpartition(".")
        if parent == __name__ and short in MOVED_MODULES:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        new = f"{__name__}.{MOVED_MODULES[spec.name.rpartition('.')[2]]}"
        warnings.warn(f"{spec.name} is deprecated; import {new}", DeprecationWarning,
                      stacklevel=2)
        return importlib.import_module(new)

    def exec_module(self, module):
        pass


if not any(isinstance(f, _MovedModuleFinder) for f in sys.meta_path):
    sys.meta_path.append(_MovedModuleFinder())
