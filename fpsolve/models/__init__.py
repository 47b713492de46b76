"""The continuous problem: drift, diffusion, convention, and a gallery with exact answers."""

from .model import CONVENTIONS, FokkerPlanckModel

__all__ = ["FokkerPlanckModel", "CONVENTIONS"]
