"""Stationary solves, time stepping, spectra and first-passage problems."""

from .absorbing import mean_first_passage_time, solve_quasi_stationary
from .evolve import evolve
from .spectrum import relaxation_spectrum
from .stationary import solve_stationary

__all__ = ["solve_stationary", "evolve", "relaxation_spectrum", "solve_quasi_stationary",
           "mean_first_passage_time"]
