"""Finite-volume discretization: bond rates, fluxes, apply and matrix."""

from .bonds import BondSet, bernoulli, bond_offsets, build_bonds
from .operator import FokkerPlanckOperator

__all__ = ["FokkerPlanckOperator", "BondSet", "bernoulli", "bond_offsets", "build_bonds"]
