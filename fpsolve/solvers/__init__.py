"""Stationary solves, time stepping, spectra and first-passage problems."""

from .absorbing import mean_first_passage_time, solve_quasi_stationary
from .accuracy import estimate_error
from .evolve import evolve
from .extrapolation import extrapolate_stationary
from .spectrum import relaxation_spectrum
from .stationary import solve_stationary

__all__ = ["solve_stationary", "evolve", "relaxation_spectrum", "solve_quasi_stationary",
           "mean_first_passage_time", "estimate_error", "extrapolate_stationary"]
