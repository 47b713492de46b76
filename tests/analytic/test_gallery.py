"""Gallery problems (fpsolve.models.gallery): their exact answers satisfy the defining equations.

Derivatives are taken with the fourth-order central stencil ``_d1``/``_d2`` at step ``H``: the
truncation error ~ H^4 f^(5) / 30 ~ 1e-13 and the round-off ~ eps f / H ~ 1e-13 set the
tolerances below (a few 1e-10 relative leaves a margin for derivatives of size O(10)).
"""

import mpmath
import numpy as np
import pytest
from scipy.integrate import quad

from fpsolve.errors import ModelError
from fpsolve.models.gallery import (BrownianInterval, FreeDiffusion, OrnsteinUhlenbeck,
                                    PositionDependentDiffusion1D, TiltedRing)

H = 1e-3
FD_RTOL = 1e-9  # fourth-order stencil at H = 1e-3: see the module docstring


def _d1(f, x, h=H):
    return (f(x - 2 * h) - 8 * f(x - h) + 8 * f(x + h) - f(x + 2 * h)) / (12 * h)


def _d2(f, x, h=H):
    return (-f(x - 2 * h) + 16 * f(x - h) - 30 * f(x) + 16 * f(x + h) - f(x + 2 * h)) / (12 * h**2)


# ----------------------------------------------------------------------------- Ornstein-Uhlenbeck
A_ROT = np.array([[-1.0, 0.8], [-0.8, -1.0]])
D_ROT = np.array([[1.0, 0.3], [0.3, 0.5]])


def _square_grid(half_width, n):
    axis = np.linspace(-half_width, half_width, n)
    return axis, np.stack(np.meshgrid(axis, axis, indexing="ij"))


def test_ou_one_dimensional_density_and_model():
    ou = OrnsteinUhlenbeck(-2.0, 0.5)
    x = np.linspace(-2, 2, 9)[None]
    expected = np.exp(-x[0] ** 2 / 0.5) / np.sqrt(2 * np.pi * 0.25)  # N(0, D / |A|)
    np.testing.assert_allclose(ou.stationary_density(x), expected, rtol=1e-14)  # exp round-off
    assert ou.ndim == 1 and ou.entropy_production_rate == 0.0
    assert np.abs(ou.current(x)).max() < 1e-15  # Omega = A + D / S = 0 up to round-off
    np.testing.assert_allclose(ou.model.drift(x), -2.0 * x, rtol=0)  # same product
    np.testing.assert_allclose(ou.model.diffusion_tensor(x)[0, 0], 0.5, rtol=0)


def test_ou_rotational_density_normalized_and_current_from_definition():
    ou = OrnsteinUhlenbeck(A_ROT, D_ROT)
    axis, x = _square_grid(9.0, 281)  # +-9 > 8.7 std (sigma_max 1.03): tails < 1e-16
    p = ou.stationary_density(x)
    # the trapezoid rule is spectrally accurate for a rapidly decaying smooth integrand
    assert np.trapezoid(np.trapezoid(p, axis), axis) == pytest.approx(1.0, rel=1e-12)
    pts = x[:, ::20, ::20]
    grad = np.stack([_d1(lambda s, e=e: ou.stationary_density(pts + s * e[:, None, None]), 0.0)
                     for e in np.eye(2)])
    J = np.einsum("ij,j...->i...", A_ROT, pts) * ou.stationary_density(pts) \
        - np.einsum("ij,j...->i...", D_ROT, grad)  # J = a p - D grad p
    np.testing.assert_allclose(ou.current(pts), J, atol=FD_RTOL * np.abs(J).max())


def test_ou_rotational_epr_against_quadrature_and_divergence_free_current():
    ou = OrnsteinUhlenbeck(A_ROT, D_ROT)
    axis, x = _square_grid(9.0, 281)
    J, p = ou.current(x), ou.stationary_density(x)
    integrand = np.einsum("i...,ij,j...->...", J, np.linalg.inv(D_ROT), J) / p
    epr_quad = np.trapezoid(np.trapezoid(integrand, axis), axis)
    assert ou.entropy_production_rate > 0.1  # rotation makes it genuinely nonequilibrium
    assert ou.entropy_production_rate == pytest.approx(epr_quad, rel=1e-10)  # spectral trapezoid
    pts = x[:, 100:180:20, 100:180:20]
    div = sum(_d1(lambda s, k=k: ou.current(pts + s * np.eye(2)[k][:, None, None])[k], 0.0)
              for k in range(2))
    assert np.abs(div).max() < FD_RTOL * np.abs(ou.current(pts)).max()


def test_ou_equilibrium_has_no_current():
    ou = OrnsteinUhlenbeck([[-2.0, 0.5], [0.5, -1.0]], 1.0)  # symmetric A, D = I: gradient flow
    _, x = _square_grid(3.0, 7)
    assert np.abs(ou.current(x)).max() < 1e-15  # round-off of A S + D
    assert ou.entropy_production_rate < 1e-28  # round-off squared


# ----------------------------------------------------------------------------- tilted ring
def _flux_residual(ring, x):
    """``J - [D (-U' + f) p - D p']`` with derivatives by finite differences."""
    D, p = ring.diffusion, ring.stationary_density
    flux = D * (-_d1(ring.potential, x) + ring.force) * p(x) - D * _d1(p, x)
    return ring.current - flux


@pytest.mark.parametrize("amplitude, force, diffusion, period", [
    (2.0, 0.7, 0.8, 2 * np.pi), (1.5, -2.5, 1.3, 3.0), (4.0, 0.05, 1.0, 2 * np.pi),
    (1.0, -150.0, 0.5, 2 * np.pi),  # exp(|f| L) ~ 1e409 exercises the overflow shift
])
def test_tilted_ring_density_solves_the_flux_equation(amplitude, force, diffusion, period):
    ring = TiltedRing(amplitude, force, diffusion, period)
    x = np.linspace(0, period, 41)
    p_max = ring.stationary_density(x).max()
    scale = ring.diffusion * (abs(force) + 2 * np.pi * amplitude / period) * p_max  # flux terms
    assert np.abs(_flux_residual(ring, x)).max() < FD_RTOL * scale  # J constant, ODE satisfied
    np.testing.assert_allclose(ring.stationary_density(x + period), ring.stationary_density(x),
                               rtol=1e-12)  # periodicity: quadrature of a shifted integrand
    m = np.arange(256) * period / 256  # periodic trapezoid: spectral for smooth periodic p
    p = ring.stationary_density(m)
    assert period * p.mean() == pytest.approx(1.0, rel=1e-12)
    assert np.sign(ring.current) == np.sign(force)
    epr_quad = period * np.mean(ring.current**2 / (diffusion * p))
    assert ring.entropy_production_rate == pytest.approx(epr_quad, rel=1e-11)


def test_tilted_ring_without_force_is_boltzmann():
    ring = TiltedRing(3.0, 0.0, 0.7)
    x = np.arange(512) * 2 * np.pi / 512
    boltzmann = np.exp(-ring.potential(x))
    boltzmann /= 2 * np.pi * boltzmann.mean()  # spectral trapezoid normalization
    np.testing.assert_allclose(ring.stationary_density(x), boltzmann, rtol=1e-12)
    assert ring.current == 0.0 and ring.entropy_production_rate == 0.0


def test_tilted_ring_density_matches_adaptive_quadrature():
    ring = TiltedRing(2.0, 0.7, 1.0)
    U, f, L = ring.potential, ring.force, ring.period

    def q(x):
        return quad(lambda y: np.exp(U(x + y) - U(x) - f * y), 0, L, epsabs=0, epsrel=1e-13)[0]
    Z = quad(q, 0, L, epsabs=0, epsrel=1e-12)[0]
    for x in (0.3, 2.0, 4.4):
        assert ring.stationary_density(x) == pytest.approx(q(x) / Z, rel=1e-11)  # quad's epsrel
    assert ring.current == pytest.approx(-np.expm1(-f * L) / Z, rel=1e-11)


def test_tilted_ring_model_and_bad_inputs():
    model = TiltedRing(1.0, 0.5).model
    assert model.has_potential and model.is_constant_diffusion
    with pytest.raises(ModelError, match="amplitude: "):
        TiltedRing(150.0, 0.0)
    with pytest.raises(ModelError, match="period: "):
        TiltedRing(1.0, 0.0, period=-1.0)
    with pytest.raises(ModelError, match="diffusion: "):
        TiltedRing(1.0, 0.0, diffusion=np.nan)


# ----------------------------------------------------------------------------- free diffusion
def test_heat_kernel_solves_the_diffusion_equation_with_tensor_d():
    D = np.array([[0.8, 0.3], [0.3, 0.5]])
    heat = FreeDiffusion(D, 2)
    x0, t = np.array([0.2, -0.1]), 0.7
    _, x = _square_grid(1.5, 5)

    def p(s=0.0, dx=None):
        dx = np.zeros(2) if dx is None else dx
        return heat.density(x + dx[:, None, None], t + s, x0)
    dpdt = _d1(lambda s: p(s), 0.0)
    unit = np.eye(2)
    rhs = sum(D[i, j] * _d1(lambda s, i=i, j=j: _d1(lambda r: p(dx=s * unit[i] + r * unit[j]), 0.0),
                            0.0) for i in range(2) for j in range(2))
    # nested first differences: round-off eps p / H^2 ~ 1e-10 dominates
    np.testing.assert_allclose(dpdt, rhs, atol=1e-8 * np.abs(dpdt).max())
    axis, xx = _square_grid(12.0, 241)
    total = np.trapezoid(np.trapezoid(heat.density(xx, t, x0), axis), axis)
    assert total == pytest.approx(1.0, rel=1e-12)  # spectral trapezoid of a Gaussian


def test_heat_kernel_one_dimensional_closed_form_and_errors():
    heat = FreeDiffusion(0.5)
    x = np.linspace(-3, 3, 7)[None]
    expected = np.exp(-(x[0] - 1.0) ** 2 / (4 * 0.5 * 2.0)) / np.sqrt(4 * np.pi * 0.5 * 2.0)
    np.testing.assert_allclose(heat.density(x, 2.0, [1.0]), expected, rtol=1e-14)  # round-off
    with pytest.raises(ModelError, match="t: "):
        heat.density(x, 0.0)
    with pytest.raises(ModelError, match="x0: "):
        heat.density(x, 1.0, [0.0, 0.0])
    with pytest.raises(ModelError, match="x: "):
        heat.density(np.zeros((2, 3)), 1.0)
    with pytest.raises(ModelError, match="D: "):
        FreeDiffusion(np.ones(3), 2)


# ----------------------------------------------------------------------------- first passage
def test_brownian_interval_without_drift():
    walls = BrownianInterval(-1.0, 2.0, 0.4)
    x = np.linspace(-0.5, 1.5, 9)
    np.testing.assert_allclose(0.4 * _d2(walls.mean_first_passage_time, x), -1.0, rtol=1e-7)
    # (second differences: round-off eps tau / H^2 ~ 1e-9)
    assert walls.mean_first_passage_time(np.array([-1.0, 2.0])).tolist() == [0.0, 0.0]


@pytest.mark.parametrize("drift", [1e-7, -5e-4, 0.05, 0.3, -4.0])
def test_brownian_interval_with_drift_solves_backward_equation(drift):
    walls = BrownianInterval(0.5, 2.0, 0.8, drift=drift)
    tau = walls.mean_first_passage_time
    x = np.linspace(0.7, 1.8, 12)
    lhs = 0.8 * _d2(tau, x) + drift * _d1(tau, x)
    # second-difference round-off as above; drifts with 1e-3 < Peclet < 0.1 are left to the
    # closed-form test: there tau carries eps / Peclet cancellation noise that 1 / H^2 amplifies
    np.testing.assert_allclose(lhs, -1.0, rtol=1e-7)
    assert np.abs(tau(np.array([0.5, 2.0]))).max() < 1e-15 * max(1.0, 1 / abs(drift))


@pytest.mark.parametrize("peclet", [1e-9, 9.99e-4, 1.001e-3, 0.5])
def test_brownian_interval_matches_high_precision_closed_form(peclet):
    a, b, D = 0.0, 2.0, 0.5
    v = peclet * D / (b - a)
    walls = BrownianInterval(a, b, D, drift=v)
    for x in (0.1, 0.9, 1.7):
        with mpmath.workdps(40):  # 40 digits absorb the cancellation at Peclet 1e-9
            s, l, e = mpmath.mpf(x - a), mpmath.mpf(b - a), mpmath.mpf(v) / D
            exact = float((l * -mpmath.expm1(-e * s) / -mpmath.expm1(-e * l) - s) / v)
        # expm1 branch loses ~ eps / Peclet; series branch truncated at Peclet^5 ~ 1e-15
        assert float(walls.mean_first_passage_time(x)) == pytest.approx(exact, rel=1e-12)


def test_brownian_interval_bad_walls():
    with pytest.raises(ModelError, match="b: "):
        BrownianInterval(1.0, 1.0)
    with pytest.raises(ModelError, match="D: "):
        BrownianInterval(0.0, 1.0, -1.0)


# ----------------------------------------------------------------------------- D(x), conventions
@pytest.mark.parametrize("convention", ["ito", "stratonovich", "anti-ito"])
def test_position_dependent_density_has_zero_current(convention):
    pdd = PositionDependentDiffusion1D((-4.0, 4.0), stiffness=1.3, modulation=0.5)
    x = np.linspace(-3.5, 3.5, 29)
    p = pdd.stationary_density

    def flux(y):
        return pdd.ito_drift(y, convention) * p(y, convention)
    current = flux(x) - _d1(lambda y: pdd.diffusion(y) * p(y, convention), x)  # a p - (D p)'
    assert np.abs(current).max() < FD_RTOL * np.abs(flux(x)).max()
    total = quad(lambda y: p(y, convention), -4.0, 4.0, epsabs=0, epsrel=1e-13, limit=200)[0]
    assert total == pytest.approx(1.0, rel=1e-12)  # independent adaptive quadrature


@pytest.mark.parametrize("convention", ["ito", "stratonovich", "anti-ito"])
def test_position_dependent_density_matches_direct_integral(convention):
    pdd = PositionDependentDiffusion1D((-3.0, 3.0), stiffness=0.8, modulation=1.5)

    def unnormalized(x):  # exp(int_0^x a / D) / D with the integral done adaptively
        expo = quad(lambda y: pdd.ito_drift(y, convention) / pdd.diffusion(y), 0, x,
                    epsabs=1e-13, epsrel=1e-12)[0]
        return np.exp(expo) / pdd.diffusion(x)
    Z = quad(unnormalized, -3.0, 3.0, epsabs=0, epsrel=1e-12, limit=200)[0]
    for x in (-2.5, 0.0, 0.7, 2.9):
        expected = unnormalized(x) / Z
        assert pdd.stationary_density(x, convention) == pytest.approx(expected, rel=1e-11)


def test_position_dependent_model_and_bad_inputs():
    pdd = PositionDependentDiffusion1D()
    model = pdd.model("stratonovich")
    assert model.convention == "stratonovich" and not model.is_constant_diffusion
    x = np.linspace(-1, 1, 5)[None]
    np.testing.assert_allclose(model.diffusion_tensor(x)[0, 0], pdd.diffusion(x[0]), rtol=0)
    with pytest.raises(ModelError, match="convention: "):
        pdd.stationary_density(0.0, "hanggi")
    with pytest.raises(ModelError, match="bounds: "):
        PositionDependentDiffusion1D((1.0, -1.0))
    with pytest.raises(ModelError, match="modulation: "):
        PositionDependentDiffusion1D(modulation=-0.5)
    with pytest.raises(ModelError, match="stiffness: "):
        PositionDependentDiffusion1D(stiffness=0.0)


def test_ou_bad_inputs():
    with pytest.raises(ModelError, match="A: "):
        OrnsteinUhlenbeck(np.ones(3))
    with pytest.raises(ModelError, match="A: .*not stable"):
        OrnsteinUhlenbeck([[0.1, 0.0], [0.0, -1.0]])
    with pytest.raises(ModelError, match="D: "):
        OrnsteinUhlenbeck(-np.eye(2), np.eye(3))
    with pytest.raises(ModelError, match="x: "):
        OrnsteinUhlenbeck(-np.eye(2)).stationary_density(np.zeros(3))
