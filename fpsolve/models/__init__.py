"""The continuous problem: drift, diffusion, convention, and a gallery with exact answers."""

from .double_well import RotatingDoubleWell
from .gallery import (BrownianInterval, FreeDiffusion, OrnsteinUhlenbeck,
                      PositionDependentDiffusion1D, TiltedRing)
from .model import CONVENTIONS, FokkerPlanckModel

__all__ = ["FokkerPlanckModel", "CONVENTIONS", "OrnsteinUhlenbeck", "TiltedRing", "FreeDiffusion",
           "BrownianInterval", "PositionDependentDiffusion1D", "RotatingDoubleWell"]
