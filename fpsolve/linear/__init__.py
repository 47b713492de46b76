"""Gaussian (Ornstein-Uhlenbeck) theory in any dimension: Lyapunov covariance, probability current,
circulation and entropy production.  Pure matrix math; imports nothing else from fpsolve except
the error classes."""

from .lyapunov import (circulation, current_matrix, discrete_entropy_production,
                       discrete_stationary_covariance, entropy_production_rate,
                       stationary_covariance)
from .symmetric import (diagonal_chain_entropy_production, diagonal_lyapunov, diagonal_stein,
                        orthogonal_complement, symmetric_chain_entropy_production,
                        symmetric_discrete_stationary_covariance,
                        symmetric_stationary_covariance)

__all__ = ["stationary_covariance", "discrete_stationary_covariance", "current_matrix",
           "entropy_production_rate", "circulation", "discrete_entropy_production",
           "symmetric_stationary_covariance", "symmetric_discrete_stationary_covariance",
           "diagonal_lyapunov", "diagonal_stein", "symmetric_chain_entropy_production",
           "diagonal_chain_entropy_production", "orthogonal_complement"]
