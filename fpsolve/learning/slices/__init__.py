"""SGD on two-parameter slices: the slice's Fokker-Planck problem (grid solvers) and SGD runs
on the slice with streaming statistics to compare against it."""

from .problem import SliceProblem, sgd_fokker_planck, slice_drift_diffusion
from .runs import SliceSGDResult, slice_sgd, total_variation

__all__ = ["SliceProblem", "SliceSGDResult", "sgd_fokker_planck", "slice_drift_diffusion",
           "slice_sgd", "total_variation"]
