"""A nonlinear nonequilibrium reference problem whose only reference answer is the grid."""

from __future__ import annotations

import numpy as np

from .model import FokkerPlanckModel

__all__ = ["RotatingDoubleWell"]


class RotatingDoubleWell:
    """Double well with a rotational force and position-dependent anisotropic diffusion (2-D).

    ``U = (x^2 - 1)^2 + y^2 / 2``, non-conservative force ``f = omega (-y, x)``, and
    ``D(x)`` with ``D11 = 0.6 + 0.2 tanh x``, ``D22 = 0.5 + 0.1 cos y``, ``D12 = 0.15 sin x``
    (symmetric, diagonally dominant).  The flux is ``J = D (F p - grad p)`` with
    ``F = -grad U + f``; ``div D`` is given in closed form.

    Examples
    --------
    >>> import fpsolve as fp
    >>> fp.models.RotatingDoubleWell(2.0).model.has_potential
    True
    """

    def __init__(self, omega: float = 2.0):
        self.omega = float(omega)

    @staticmethod
    def potential(x) -> np.ndarray:
        return (x[0] ** 2 - 1.0) ** 2 + 0.5 * x[1] ** 2

    def rotation(self, x) -> np.ndarray:
        return self.omega * np.stack([-x[1], x[0]])

    @staticmethod
    def diffusion(x) -> np.ndarray:
        d11 = 0.6 + 0.2 * np.tanh(x[0])
        d22 = 0.5 + 0.1 * np.cos(x[1])
        d12 = 0.15 * np.sin(x[0]) + 0.0 * x[1]
        return np.stack([np.stack([d11, d12]), np.stack([d12, d22])])

    @staticmethod
    def diffusion_divergence(x) -> np.ndarray:
        """``(div D)_i = d_j D_ij`` in closed form."""
        return np.stack([0.2 / np.cosh(x[0]) ** 2 + 0.0 * x[1],
                         0.15 * np.cos(x[0]) - 0.1 * np.sin(x[1])])

    @property
    def model(self) -> FokkerPlanckModel:
        """The model built with :meth:`FokkerPlanckModel.from_potential`."""
        return FokkerPlanckModel.from_potential(self.potential, self.diffusion,
                                                force=self.rotation,
                                                diffusion_divergence=self.diffusion_divergence)
