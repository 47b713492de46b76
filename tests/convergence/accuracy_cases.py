"""Stationary problems with exact answers for the error-report and extrapolation tests.

Each case builds an operator on a given grid and evaluates the exact density (and where known
the current and the entropy production rate) at points ``(d, ...)``.  Used by
``test_error_estimates.py``, ``test_richardson.py`` and ``benchmarks/bench_error_report.py``.

The nonlinear NESS family ``a = -(D + Q) grad U`` with constant ``D`` and antisymmetric ``Q`` has
``p = exp(-U) / Z``: then ``J = a p - D grad p = -Q grad U p`` is divergence free
(``div(Q grad U e^-U) = 0`` for antisymmetric ``Q``), and the entropy production rate is
``integral J . D^-1 J / p``.  On a box the walls cut the current, so the box is chosen with
``p < 1e-16`` of its peak on the walls.
"""

from __future__ import annotations

import numpy as np

import fpsolve as fp
from fpsolve.models import OrnsteinUhlenbeck, PositionDependentDiffusion1D, TiltedRing

ROTATION = np.array([[0.0, 1.0], [-1.0, 0.0]])


def l1(grid, values) -> float:
    """Midpoint-rule L1 norm over the cells (summed over leading components)."""
    return float(np.abs(values).sum() * grid.cell_volume)


def _gauss_legendre_box(bounds, panels, order=16):
    """Tensor Gauss-Legendre nodes ``(d, ...)`` and weights on a box."""
    t, w = np.polynomial.legendre.leggauss(order)
    axes, weights = [], []
    for (lo, hi), m in zip(bounds, panels):
        edges = np.linspace(lo, hi, m + 1)
        half, mid = 0.5 * np.diff(edges)[:, None], 0.5 * (edges[1:] + edges[:-1])[:, None]
        axes.append((mid + half * t).ravel())
        weights.append((half * w).ravel())
    X = np.stack(np.meshgrid(*axes, indexing="ij"))
    W = np.einsum("i,j->ij", *weights) if len(weights) == 2 else weights[0]
    return X, W


class Case:
    """A stationary problem: ``operator(shape)``, ``density(x)``, optional ``current(x)``."""

    def __init__(self, name, bounds, model, density, current=None, epr=None, boundary="reflecting"):
        self.name, self.bounds, self.model = name, bounds, model
        self.density, self.current, self.epr = density, current, epr
        self.boundary = boundary

    def grid(self, shape):
        return fp.CartesianGrid(self.bounds, shape, boundary=self.boundary)

    def operator(self, shape, **options):
        """The operator on ``shape`` cells (``options`` such as ``scheme`` passed on)."""
        return fp.FokkerPlanckOperator(self.grid(shape), self.model, **options)

    def density_error(self, grid, p) -> float:
        return l1(grid, p - self.density(grid.cell_centers()))


def ou_case(name, A, D, half_width) -> Case:
    ou = OrnsteinUhlenbeck(A, D)
    return Case(name, [(-half_width, half_width)] * ou.ndim, ou.model, ou.stationary_density,
                ou.current, ou.entropy_production_rate)


def ou_ness() -> Case:
    """Rotational drift and cross-diffusion (the OU NESS of the convergence tests)."""
    return ou_case("OU NESS", [[-1.0, 0.8], [-0.8, -1.0]], [[1.0, 0.3], [0.3, 0.5]], 7.0)


def high_peclet(eps=0.05) -> Case:
    """``a = -(eps I + J) x``, ``D = eps``: exact ``N(0, I)`` whatever ``eps``."""
    return ou_case("high-Peclet NESS", -(eps * np.eye(2) - ROTATION), eps, 6.0)


def fast_rotation(omega=100.0) -> Case:
    """``A = -I + omega J``, ``D = I``: exact ``N(0, I)``, cell Peclet ~ omega h |x|."""
    return ou_case("fast rotation", -np.eye(2) + omega * ROTATION, 1.0, 6.0)


def tilted_ring(amplitude=2.0, force=1.0) -> Case:
    ring = TiltedRing(amplitude, force)
    return Case("TiltedRing", [(0.0, ring.period)], ring.model,
                lambda x: ring.stationary_density(x[0]), epr=ring.entropy_production_rate,
                boundary="periodic")


def position_dependent(convention="stratonovich") -> Case:
    pdd = PositionDependentDiffusion1D((-5.0, 5.0))
    return Case(f"PositionDependentDiffusion1D ({convention})", [pdd.bounds],
                pdd.model(convention), lambda x: pdd.stationary_density(x[0], convention), epr=0.0)


def double_well_1d(barrier=4.0, tilt=0.5) -> Case:
    """Drift ``a = -U'`` (given as a drift, so the scheme is not exactly Boltzmann) with
    ``U = barrier (x^2 - 1)^2 + tilt x`` on [-2.5, 2.5] (``p < 1e-30`` of its peak on the walls);
    ``Z`` by Gauss-Legendre (relative error ~1e-15)."""
    def U(x):
        return barrier * (x**2 - 1.0) ** 2 + tilt * x
    X, W = _gauss_legendre_box([(-2.5, 2.5)], [50])
    shift = U(X[0]).min()
    Z = float(np.exp(-(U(X[0]) - shift)) @ W)
    model = fp.FokkerPlanckModel(lambda x: -(4 * barrier * x * (x**2 - 1.0) + tilt), 1.0)
    return Case("1-D double well", [(-2.5, 2.5)], model,
                lambda x: np.exp(-(U(x[0]) - shift)) / Z, epr=0.0)


class NonlinearNESS(Case):
    """``a = -(D + Q) grad U`` with a tilted double well ``U = b (x^2 - 1)^2 + x/2 + y^2 +
    x y / 2`` (barrier ~ b), ``D = [[1, .2], [.2, .8]]``, ``Q = q J``; ``p = exp(-U) / Z``.

    ``Z`` and the entropy production rate by 16-point Gauss-Legendre on 60 x 120 panels
    (relative error below 1e-13, checked against 40 x 80 panels).  Box [-3, 3] x [-6, 6]:
    ``p / max p < 2e-17`` on the walls; ``h_x / h_y = 1/2`` keeps every bond weight of this
    ``D`` non-negative.
    """

    D = np.array([[1.0, 0.2], [0.2, 0.8]])

    def __init__(self, barrier=1.5, q=1.0):
        self.b, self.Q = barrier, q * ROTATION
        bounds = [(-3.0, 3.0), (-6.0, 6.0)]
        M = -(self.D + self.Q)
        model = fp.FokkerPlanckModel(lambda x: np.tensordot(M, self.grad_potential(x), axes=1),
                                     self.D)
        X, W = _gauss_legendre_box(bounds, (60, 120))
        self.shift = self.potential(X).min()
        self.Z = 1.0
        self.Z = float((self._density(X) * W).sum())
        J = self._current(X)
        flux = np.einsum("i...,ij,j...->...", J, np.linalg.inv(self.D), J)
        epr = float((flux / self._density(X) * W).sum())
        super().__init__("nonlinear NESS", bounds, model, self._density, self._current, epr)

    def potential(self, x):
        return self.b * (x[0] ** 2 - 1.0) ** 2 + 0.5 * x[0] + x[1] ** 2 + 0.5 * x[0] * x[1]

    def grad_potential(self, x):
        return np.stack([4 * self.b * x[0] * (x[0] ** 2 - 1.0) + 0.5 + 0.5 * x[1],
                         2 * x[1] + 0.5 * x[0]])

    def _density(self, x):
        return np.exp(-(self.potential(x) - self.shift)) / self.Z

    def _current(self, x):
        return -np.tensordot(self.Q, self.grad_potential(x), axes=1) * self._density(x)
