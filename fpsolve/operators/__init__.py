"""Finite-volume discretization: bond rates, fluxes, apply and matrix."""

from .bonds import BondSet, bernoulli, bond_offsets, build_bonds
from .operator import FokkerPlanckOperator
from .schemes import DEFAULT_SCHEME, SCHEMES, refit_to_density

__all__ = ["FokkerPlanckOperator", "BondSet", "bernoulli", "bond_offsets", "build_bonds",
           "SCHEMES", "DEFAULT_SCHEME", "refit_to_density"]
