"""Canonical Fokker-Planck problems with exact answers, the references every solver is tested on.

Each class builds its :class:`~fpsolve.models.model.FokkerPlanckModel` (``.model``) and evaluates
the exact solution: closed forms where they exist, otherwise one-dimensional integrals computed by
composite Gauss-Legendre quadrature to about 1e-13 relative accuracy.  Points are ``(d, ...)``
arrays as for the model; the one-dimensional problems take positions of any shape.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from ..errors import ModelError
from ..linear import current_matrix, entropy_production_rate, stationary_covariance
from .model import CONVENTIONS, FokkerPlanckModel

__all__ = ["OrnsteinUhlenbeck", "TiltedRing", "FreeDiffusion", "BrownianInterval",
           "PositionDependentDiffusion1D"]

# 16-point Gauss-Legendre panels (exact to degree 31): on panels no wider than the analyticity
# scale of the integrand the error is below double-precision round-off.
_GL_ORDER = 16


class OrnsteinUhlenbeck:
    """Linear drift ``a(x) = A x`` with constant diffusion ``D`` in any dimension.

    Parameters
    ----------
    A : array_like, shape (d, d)
        Stable drift matrix (a scalar for d = 1).
    D : float, array_like of shape (d,) or (d, d), default 1.0
        Diffusion: scalar times identity, diagonal, or symmetric positive definite tensor.

    Notes
    -----
    The stationary density is ``N(0, S)`` with ``A S + S A^T + 2 D = 0``, the current
    ``J = Omega x p`` with ``Omega = A + D S^-1`` and the entropy production rate
    ``tr(Omega^T D^-1 Omega S)`` (see :mod:`fpsolve.linear`).

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.models.gallery import OrnsteinUhlenbeck
    >>> ou = OrnsteinUhlenbeck(-2.0, 0.5)
    >>> ou.covariance, ou.entropy_production_rate
    (array([[0.25]]), 0.0)
    >>> round(float(ou.stationary_density(np.zeros(1))), 6)  # 1 / sqrt(2 pi 0.25)
    0.797885
    """

    def __init__(self, A, D=1.0):
        A = np.asarray(A, dtype=float)
        self.A = A.reshape(1, 1) if A.ndim == 0 else A
        if self.A.ndim != 2:
            raise ModelError(f"A: expected a scalar or a (d, d) matrix, got shape {A.shape}")
        self.D = _diffusion_matrix(D, self.A.shape[0])
        self._model = FokkerPlanckModel(self._drift, self.D)  # validates D
        self.covariance = stationary_covariance(self.A, self.D)  # validates A
        self._omega = current_matrix(self.A, self.D, self.covariance)
        self.entropy_production_rate = entropy_production_rate(self.A, self.D, self.covariance)

    @property
    def ndim(self) -> int:
        """Dimension ``d``."""
        return self.A.shape[0]

    @property
    def model(self) -> FokkerPlanckModel:
        """The Fokker-Planck model (Ito drift ``A x``, constant ``D``)."""
        return self._model

    def stationary_density(self, x) -> np.ndarray:
        """Normalized stationary Gaussian ``p(x)`` at points ``x (d, ...)``, shape ``(...)``."""
        return _gaussian_density(_points(x, self.ndim), np.zeros(self.ndim), self.covariance)

    def current(self, x) -> np.ndarray:
        """Stationary probability current ``J(x) = Omega x p(x)``, shape ``(d, ...)``."""
        x = _points(x, self.ndim)
        return np.einsum("ij,j...->i...", self._omega, x) * self.stationary_density(x)

    def _drift(self, x):
        return np.einsum("ij,j...->i...", self.A, x)


class TiltedRing:
    """Brownian motion on a ring in ``U(x) = amplitude cos(2 pi x / period)`` with a constant
    non-conservative force ``f``: ``J = D (-U' + f) p - D p'``.

    Parameters
    ----------
    amplitude : float
        Potential amplitude in units of k_B T, ``|amplitude| <= 100`` (the barrier
        ``2 |amplitude|`` must keep ``exp`` within double precision).
    force : float
        Constant tilt ``f`` (units of k_B T per length).
    diffusion : float, default 1.0
        Constant diffusion coefficient ``D > 0``.
    period : float, default 2 pi
        Ring length ``L``.

    Notes
    -----
    The periodic solution with uniform current (Stratonovich's formula) is ``p(x) = q(x) / Z``,
    ``q(x) = int_0^L exp(U(x + y) - U(x) - f y) dy``, ``Z = int_0^L q``, with current
    ``J = D (1 - exp(-f L)) / Z``.  As ``J / (D p) = f - (U + ln p)'`` integrates to ``f L`` over a
    period, the entropy production rate is ``int_0^L J^2 / (D p) dx = J f L`` (heat per unit time
    in units of k_B T).  ``q`` is computed by composite Gauss-Legendre quadrature, ``Z`` by the
    periodic trapezoid rule (spectrally accurate for the smooth periodic ``q``).

    Examples
    --------
    >>> from fpsolve.models.gallery import TiltedRing
    >>> ring = TiltedRing(0.0, 1.0)  # flat ring: p = 1/L, J = D f / L
    >>> round(ring.current * 2 * 3.141592653589793, 12), round(ring.entropy_production_rate, 12)
    (1.0, 1.0)
    """

    def __init__(self, amplitude, force, diffusion=1.0, period=2 * np.pi):
        self.amplitude = _finite("amplitude", amplitude)
        self.force = _finite("force", force)
        self.diffusion = _finite("diffusion", diffusion, positive=True)
        self.period = _finite("period", period, positive=True)
        if abs(self.amplitude) > 100:
            raise ModelError(f"amplitude: expected |amplitude| <= 100, got {self.amplitude}")
        fL = self.force * self.period
        # Nodes per period resolve exp(U) (phase 2 pi |amplitude|) and exp(-f y) (rate |f| L).
        panels = int(np.ceil((2 * np.pi * abs(self.amplitude) + abs(fL)) / 2)) + 1
        self._y, self._w = _gauss_legendre(0.0, self.period, panels)
        self._shift = max(0.0, -fL)  # keeps exp(-f y - shift) <= 1 for a negative tilt
        # Trapezoid aliasing of exp(-U) decays like exp(-m^2 / (2 |amplitude|)).
        m = 64 + 16 * int(np.ceil(np.sqrt(abs(self.amplitude))))
        self._norm = self.period * np.mean(self._q(self.period * np.arange(m) / m))
        # (1 - exp(-f L)) exp(-shift) = sign(f) (1 - exp(-|f| L)), free of overflow.
        self.current = float(self.diffusion * np.sign(fL) * -np.expm1(-abs(fL)) / self._norm)
        self.entropy_production_rate = float(self.current * fL)

    @property
    def model(self) -> FokkerPlanckModel:
        """The Fokker-Planck model: ``from_potential(U, D, force=f)`` (1-D)."""
        f = self.force
        return FokkerPlanckModel.from_potential(lambda x: self.potential(x[0]), self.diffusion,
                                                force=lambda x: np.full(np.shape(x), f))

    def potential(self, x) -> np.ndarray:
        """``U(x)`` at positions ``x`` of any shape."""
        return self.amplitude * np.cos(2 * np.pi * np.asarray(x, dtype=float) / self.period)

    def stationary_density(self, x) -> np.ndarray:
        """Stationary density at positions ``x`` (any shape; periodic), normalized on a period."""
        return self._q(np.asarray(x, dtype=float)) / self._norm

    def _q(self, x):
        """``q(x) exp(-shift)`` by Gauss-Legendre in ``y``."""
        def rows(xs):
            expo = (self.potential(xs + self._y) - self.potential(xs)
                    - self.force * self._y - self._shift)
            return np.exp(expo) @ self._w
        return _by_rows(rows, x, self._y.size)


class FreeDiffusion:
    """Free diffusion ``dp/dt = d_i d_j (D_ij p)`` in ``d`` dimensions on unbounded space.

    Parameters
    ----------
    D : float, array_like of shape (d,) or (d, d), default 1.0
        Constant diffusion (scalar, diagonal or symmetric positive definite tensor).
    d : int, default 1
        Dimension.

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.models.gallery import FreeDiffusion
    >>> heat = FreeDiffusion(0.5)
    >>> round(float(heat.density(np.zeros(1), 1.0)), 6)  # 1 / sqrt(4 pi D t)
    0.398942
    """

    def __init__(self, D=1.0, d=1):
        if int(d) != d or d < 1:
            raise ModelError(f"d: expected a positive integer dimension, got {d}")
        self.D = _diffusion_matrix(D, int(d))
        self._model = FokkerPlanckModel(np.zeros_like, self.D)  # validates D

    @property
    def ndim(self) -> int:
        """Dimension ``d``."""
        return self.D.shape[0]

    @property
    def model(self) -> FokkerPlanckModel:
        """The Fokker-Planck model (zero drift, constant ``D``)."""
        return self._model

    def density(self, x, t, x0=None) -> np.ndarray:
        """Heat kernel ``N(x0, 2 D t)`` at points ``x (d, ...)``, time ``t > 0``, start ``x0 (d,)``
        (default the origin); shape ``(...)``."""
        t = _finite("t", t, positive=True)
        x0 = np.zeros(self.ndim) if x0 is None else np.asarray(x0, dtype=float)
        if x0.shape != (self.ndim,):
            raise ModelError(f"x0: expected shape {(self.ndim,)}, got {x0.shape}")
        return _gaussian_density(_points(x, self.ndim), x0, 2.0 * t * self.D)


class BrownianInterval:
    """Brownian motion with constant drift ``v`` between absorbing walls at ``a < b``.

    Parameters
    ----------
    a, b : float
        Wall positions.
    D : float, default 1.0
        Diffusion coefficient.
    drift : float, default 0.0, keyword-only
        Constant drift ``v``.

    Notes
    -----
    The mean first-passage (exit) time solves ``D tau'' + v tau' = -1``, ``tau(a) = tau(b) = 0``:
    ``tau = (x - a)(b - x) / (2 D)`` for ``v = 0``, and with ``s = x - a``, ``l = b - a``,
    ``e = v / D``: ``tau = (l (1 - exp(-e s)) / (1 - exp(-e l)) - s) / v``.  Below Peclet number
    ``|e l| < 1e-3`` that difference cancels, so the series of ``tau`` in ``e`` through fourth
    order (truncation below 1e-15 relative there) is used instead.

    Examples
    --------
    >>> from fpsolve.models.gallery import BrownianInterval
    >>> float(BrownianInterval(0.0, 2.0, 0.5).mean_first_passage_time(1.0))
    1.0
    """

    def __init__(self, a, b, D=1.0, *, drift=0.0):
        self.a, self.b = _finite("a", a), _finite("b", b)
        if not self.a < self.b:
            raise ModelError(f"b: expected b > a, got a = {self.a}, b = {self.b}")
        self.D = _finite("D", D, positive=True)
        self.drift = _finite("drift", drift)

    @property
    def model(self) -> FokkerPlanckModel:
        """The Fokker-Planck model (constant drift and diffusion, 1-D)."""
        v = self.drift
        return FokkerPlanckModel(lambda x: np.full(np.shape(x), v), self.D)

    def mean_first_passage_time(self, x) -> np.ndarray:
        """``tau(x)`` at positions ``x`` in ``[a, b]`` (any shape)."""
        s = np.asarray(x, dtype=float) - self.a
        l, e = self.b - self.a, self.drift / self.D
        if abs(e * l) >= 1e-3:
            return (l * np.expm1(-e * s) / np.expm1(-e * l) - s) / self.drift
        # tau = s (l - s) / (2 D) * P / 720, P the fourth-order series in e (sympy-derived).
        poly = (720 + 120 * e * (l - 2 * s) + 60 * e**2 * s * (s - l)
                + e**3 * (-2 * l**3 - 2 * l**2 * s + 18 * l * s**2 - 12 * s**3)
                + e**4 * s * (l**3 + l**2 * s - 4 * l * s**2 + 2 * s**3))
        return s * (l - s) / (2 * self.D) * poly / 720


class PositionDependentDiffusion1D:
    """``D(x) = 1 + modulation sin(x)^2`` and drift ``b(x) = -stiffness x`` in each convention.

    Parameters
    ----------
    bounds : (float, float), default (-5.0, 5.0)
        Interval on which the stationary density is normalized (reflecting walls).
    stiffness : float, default 1.0, keyword-only
        ``k > 0`` in ``b(x) = -k x``.
    modulation : float, default 0.5, keyword-only
        ``m >= 0`` in ``D(x)``.

    Notes
    -----
    The Ito drift is ``a = b + alpha D'`` (alpha = 0, 1/2, 1 for Ito, Stratonovich, anti-Ito).
    The zero-current density (``a p = (D p)'``) is ``p = exp(int a / D) / D``, i.e.
    ``p(x) = D(x)^(alpha - 1) exp(-k Phi(x)) / Z`` with ``Phi(x) = int_0^x y / D(y) dy``; it is the
    exact stationary state with reflecting walls at ``bounds``.  ``Phi`` and ``Z`` are computed by
    composite Gauss-Legendre quadrature on panels narrower than the distance
    ``asinh(1 / sqrt(m))`` of the nearest complex zero of ``D`` to the real axis.

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.models.gallery import PositionDependentDiffusion1D
    >>> pdd = PositionDependentDiffusion1D((-10, 10), modulation=0.0)  # D = 1: p = N(0, 1)
    >>> round(float(pdd.stationary_density(0.0, "anti-ito")), 6)
    0.398942
    """

    def __init__(self, bounds=(-5.0, 5.0), *, stiffness=1.0, modulation=0.5):
        lo, hi = (_finite("bounds", v) for v in bounds)
        if not lo < hi:
            raise ModelError(f"bounds: expected lo < hi, got {bounds}")
        self.bounds = (lo, hi)
        self.stiffness = _finite("stiffness", stiffness, positive=True)
        self.modulation = _finite("modulation", modulation)
        if self.modulation < 0:  # D = 1 + m sin^2 must stay positive; m < 0 is not needed
            raise ModelError(f"modulation: expected >= 0, got {self.modulation}")
        reach = np.inf if self.modulation == 0 else np.arcsinh(1 / np.sqrt(self.modulation))
        self._width = min(0.25, reach, 1 / np.sqrt(self.stiffness))
        self._norms = {}

    def diffusion(self, x) -> np.ndarray:
        """``D(x)`` at positions ``x`` of any shape."""
        return 1.0 + self.modulation * np.sin(x) ** 2

    def diffusion_gradient(self, x) -> np.ndarray:
        """``D'(x) = modulation sin(2 x)``."""
        return self.modulation * np.sin(2 * np.asarray(x, dtype=float))

    def ito_drift(self, x, convention="ito") -> np.ndarray:
        """Ito drift ``a = b + alpha D'`` at positions ``x`` of any shape."""
        x = np.asarray(x, dtype=float)
        return -self.stiffness * x + _alpha(convention) * self.diffusion_gradient(x)

    def model(self, convention="ito") -> FokkerPlanckModel:
        """The model with drift ``b = -k x`` read in ``convention``."""
        _alpha(convention)
        return FokkerPlanckModel(lambda x: -self.stiffness * x, lambda x: self.diffusion(x[0]),
                                 convention, diffusion_divergence=self.diffusion_gradient)

    def stationary_density(self, x, convention="ito") -> np.ndarray:
        """Zero-current density at positions ``x`` (any shape), normalized over ``bounds``."""
        if convention not in self._norms:
            nodes, weights = _gauss_legendre(*self.bounds, self._panels(*self.bounds))
            self._norms[convention] = self._unnormalized(nodes, convention) @ weights
        return self._unnormalized(np.asarray(x, dtype=float), convention) / self._norms[convention]

    def _unnormalized(self, x, convention):
        # Phi(x) = x^2 int_0^1 t / D(x t) dt; the panels in t are sized for the largest |x|.
        t, w = _gauss_legendre(0.0, 1.0, self._panels(0.0, np.max(np.abs(x), initial=0.0)))
        phi = x**2 * _by_rows(lambda xs: (t * w / self.diffusion(xs * t)).sum(-1), x, t.size)
        return self.diffusion(x) ** (_alpha(convention) - 1) * np.exp(-self.stiffness * phi)

    def _panels(self, lo, hi) -> int:
        return int(np.ceil((hi - lo) / self._width)) + 1


# ----------------------------------------------------------------------------- helpers
def _gauss_legendre(lo, hi, panels):
    """Nodes and weights of composite ``_GL_ORDER``-point Gauss-Legendre on ``panels`` panels."""
    t, w = np.polynomial.legendre.leggauss(_GL_ORDER)
    edges = np.linspace(lo, hi, panels + 1)
    half, mid = 0.5 * np.diff(edges)[:, None], 0.5 * (edges[1:] + edges[:-1])[:, None]
    return (mid + half * t).ravel(), (half * w).ravel()


def _by_rows(func, x, ncols):
    """``func(xs)`` for column chunks ``xs (k, 1)`` of ``x.ravel()``, each row reduced over
    ``ncols`` quadrature nodes; chunking keeps the ``(k, ncols)`` temporaries near 8 MB."""
    flat, out = x.ravel(), np.empty(x.size)
    step = max(1, 2**20 // ncols)
    for k in range(0, flat.size, step):
        out[k:k + step] = func(flat[k:k + step, None])
    return out.reshape(x.shape)


def _gaussian_density(x, mean, cov):
    """``N(mean, cov)`` at points ``x (d, ...)`` via the Cholesky factor of ``cov``."""
    d = x.shape[0]
    R = sla.cholesky(cov, lower=True)
    z = sla.solve_triangular(R, (x.reshape(d, -1) - mean[:, None]), lower=True)
    log_norm = np.log(np.diag(R)).sum() + 0.5 * d * np.log(2 * np.pi)
    return np.exp(-0.5 * np.sum(z * z, axis=0) - log_norm).reshape(x.shape[1:])


def _diffusion_matrix(D, d):
    """Scalar, ``(d,)`` or ``(d, d)`` diffusion as a ``(d, d)`` matrix (the model checks SPD)."""
    D = np.asarray(D, dtype=float)
    if D.ndim == 0:
        return D * np.eye(d)
    if D.ndim == 1 and D.shape == (d,):
        return np.diag(D)
    if D.shape != (d, d):
        raise ModelError(f"D: expected a scalar, shape {(d,)} or {(d, d)}, got shape {D.shape}")
    return D


def _points(x, d):
    x = np.asarray(x, dtype=float)
    if x.ndim == 0 or x.shape[0] != d:
        raise ModelError(f"x: expected points of shape (d, ...) with d = {d}, got {x.shape}")
    return x


def _alpha(convention):
    if convention not in CONVENTIONS:
        raise ModelError(f"convention: unknown name {convention!r}; expected one of "
                         f"{tuple(CONVENTIONS)}")
    return CONVENTIONS[convention]


def _finite(name, value, *, positive=False) -> float:
    value = float(value)
    if not np.isfinite(value) or (positive and value <= 0):
        kind = "positive finite" if positive else "finite"
        raise ModelError(f"{name}: expected a {kind} number, got {value}")
    return value
