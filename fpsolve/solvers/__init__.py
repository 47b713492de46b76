"""Stationary solves, time stepping, spectra and first-passage problems."""

from .stationary import solve_stationary

__all__ = ["solve_stationary"]
