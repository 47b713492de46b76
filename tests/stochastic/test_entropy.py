"""Stochastic entropy production along paths: ``fpsolve.stochastic.entropy``.

Reference process: the 2-D Ornstein-Uhlenbeck NESS of docs/getting-started.md,
``A = [[-1, 0.8], [-0.8, -1]]``, ``D = [[1, 0.3], [0.3, 0.5]]``, exact EPR 72/41.  Paths are drawn
with the exact discretization ``x_{n+1} = M x_n + xi``, ``M = exp(A dt)``,
``Cov(xi) = S - M S M^T``, from the stationary ``N(0, S)``, so the only time-discretization
error is the estimator's own.  For this linear force the midpoint rule's mean per step is known
in closed form: ``<F(x_mid) . dx> = tr(B (M S - S M^T)) / 2`` with ``B = A^T D^-1``.
"""

from __future__ import annotations

import types

import numpy as np
import pytest
import scipy.linalg as sla

import fpsolve as fp
from fpsolve.errors import FpsolveError
from fpsolve.models.gallery import OrnsteinUhlenbeck, PositionDependentDiffusion1D, TiltedRing
from fpsolve.results import StationaryResult
from fpsolve.stochastic.entropy import extrapolate_to_zero_dt, stochastic_entropy_production
from fpsolve.stochastic.fluctuation import fluctuation_test

A = np.array([[-1.0, 0.8], [-0.8, -1.0]])
D = np.array([[1.0, 0.3], [0.3, 0.5]])
OU = OrnsteinUhlenbeck(A, D)
S = OU.covariance
F_MATRIX = np.linalg.solve(D, A)           # F = D^-1 (a - div D) = D^-1 A x for constant D


def ou_force(x):
    return np.tensordot(F_MATRIX, x, axes=1)


def ou_paths(n_traj, n_steps, dt, rng):
    """Exact OU paths, shape ``(n_steps + 1, n_traj, 2)``, started in the stationary state."""
    M = sla.expm(A * dt)
    L = np.linalg.cholesky(S - M @ S @ M.T)
    x = np.empty((n_steps + 1, n_traj, 2))
    x[0] = rng.standard_normal((n_traj, 2)) @ np.linalg.cholesky(S).T
    noise = rng.standard_normal((n_steps, n_traj, 2)) @ L.T
    for n in range(n_steps):
        x[n + 1] = x[n] @ M.T + noise[n]
    return x


def midpoint_mean_rate(dt):
    """Exact ``<dS_tot> / tau`` of the midpoint rule at step ``dt`` (system part averages to 0)."""
    M = sla.expm(A * dt)
    return np.trace(F_MATRIX.T @ (M @ S - S @ M.T)) / (2 * dt)


# ----------------------------------------------------------------------------- OU: mean rate
def test_ou_rate_extrapolates_to_exact_entropy_production():
    dts, t_total, n_traj = (0.025, 0.05, 0.1), 60.0, 2000
    rng = np.random.default_rng(20240611)
    means, errs = [], []
    for dt in dts:
        n_steps = int(round(t_total / dt))
        total, system = [], []
        for _ in range(4):   # batches of 500 trajectories keep memory below 20 MB
            x = ou_paths(n_traj // 4, n_steps, dt, rng)
            res = stochastic_entropy_production(x, dt=dt, p_ss=OU.stationary_density,
                                                force=ou_force, window=n_steps)
            total.append(res.total[0] / res.tau)
            system.append(res.system[0] / res.tau)
        total, system = np.concatenate(total), np.concatenate(system)
        mean, err = total.mean(), total.std(ddof=1) / np.sqrt(n_traj)
        # 2000 independent trajectories: the CLT holds; 4 standard errors -> 6e-5 false failures.
        assert abs(mean - midpoint_mean_rate(dt)) <= 4 * err, (dt, mean, midpoint_mean_rate(dt))
        # System part: <ln p(x_0) - ln p(x_T)> = 0 exactly in the stationary state; 4 stderr.
        assert abs(system.mean()) <= 4 * system.std(ddof=1) / np.sqrt(n_traj)
        means.append(mean)
        errs.append(err)
    est = extrapolate_to_zero_dt(dts, means, errs, order=1)
    epr = OU.entropy_production_rate
    # Measured: stderr of the extrapolation 0.4-0.5 % of the EPR (N T = 1.2e5), and the O(dt^2)
    # term left by a linear fit is -0.12 % (from midpoint_mean_rate); 2 % is > 4 stderr.
    assert abs(est.value - epr) <= 0.02 * epr, (est, epr)
    assert abs(est.value - epr) <= 4 * est.stderr + 0.0012 * epr, (est, epr)
    # The raw rates are biased by about -dt * EPR (relative): first order, as documented.
    assert means[-1] < 0.93 * epr


# ----------------------------------------------------------------------------- OU: exact FT
def _quadratic_form(dt, n_steps):
    """Matrix ``K`` with ``dS_tot = X^T K X`` for the stacked path ``X = (x_0, ..., x_n)``,
    read off the implementation by polarization on basis paths."""
    dim = 2 * (n_steps + 1)
    eye = np.eye(dim)
    i, j = np.triu_indices(dim)
    paths = (eye[i] + eye[j]).reshape(-1, n_steps + 1, 2).transpose(1, 0, 2)
    q = stochastic_entropy_production(np.concatenate([eye.reshape(dim, n_steps + 1, 2)
                                                      .transpose(1, 0, 2), paths], axis=1),
                                      dt=dt, p_ss=OU.stationary_density, force=ou_force,
                                      window=n_steps).total[0]
    diag, pair = q[:dim], q[dim:]
    K = np.zeros((dim, dim))
    K[i, j] = (pair - diag[i] - diag[j]) / 2      # also right on the diagonal: (4k - 2k) / 2
    return np.triu(K) + np.triu(K, 1).T


def _path_covariance(dt, n_steps):
    M = sla.expm(A * dt)
    blocks = [[np.linalg.matrix_power(M, a - b) @ S if a >= b
               else S @ np.linalg.matrix_power(M.T, b - a) for b in range(n_steps + 1)]
              for a in range(n_steps + 1)]
    return np.block(blocks)


def _mgf_spectrum(dt, tau):
    """Eigenvalues ``mu`` of ``L^T K L`` (``LL^T`` the path covariance): for the quadratic form
    of Gaussians ``<exp(-lam dS)> = prod (1 + 2 lam mu)^(-1/2)``, and ``<dS> = sum mu``."""
    n_steps = int(round(tau / dt))
    L = np.linalg.cholesky(_path_covariance(dt, n_steps))
    return np.linalg.eigvalsh(L.T @ _quadratic_form(dt, n_steps) @ L), n_steps * dt


def _mgf(mu, lam):
    return float(np.prod(1 + 2 * lam * mu) ** -0.5)


@pytest.mark.parametrize("tau", [0.3, 0.6, 1.2])   # <dS_tot> ~ 0.5, 1, 2
def test_ou_fluctuation_theorems_hold_exactly_up_to_dt_squared(tau):
    """IFT ``<exp(-dS)> = 1`` and the DFT in its generating-function form
    ``<exp(-lam dS)> = <exp(-(1 - lam) dS)>``, evaluated exactly (no sampling) for the
    implementation's ``dS`` on exact OU path statistics."""
    deviations = []
    for dt in (0.04, 0.02):
        mu, tau_dt = _mgf_spectrum(dt, tau)
        # The implementation's mean equals the closed form of the midpoint rule (round-off).
        assert mu.sum() == pytest.approx(tau_dt * midpoint_mean_rate(dt), rel=1e-9)
        deviations.append(abs(_mgf(mu, 1.0) - 1.0))
    # IFT error measured 7.3e-5, 1.5e-4, 2.9e-4 at dt = 0.02 (tau = 0.3, 0.6, 1.2), 4x larger at
    # dt = 0.04: O(dt^2).  1e-3 leaves 3x margin; the order is asserted two-sided.
    assert deviations[1] <= 1e-3, deviations
    order = np.log2(deviations[0] / deviations[1])
    assert 1.7 <= order <= 2.3, f"IFT error order {order:.2f} (expected 2)"
    # DFT symmetry at lam = 0.25 <-> 0.75 and -0.2 <-> 1.2 (inside the range where the
    # generating function is finite: 1 + 2 lam mu > 0 for mu in [-0.35, 1.17]).  Measured
    # relative deviations at dt = 0.02: at most 5.8e-4 (tau = 1.2, lam = -0.2).
    for lam in (0.25, -0.2):
        assert _mgf(mu, lam) == pytest.approx(_mgf(mu, 1 - lam), rel=1e-3)


# ----------------------------------------------------------------------------- OU: sampled FT
def test_ou_fluctuation_test_on_sampled_windows():
    """One window per trajectory (independent samples), windows with <dS> ~ 0.5, 1, 2."""
    dt, n_traj = 0.01, 20_000
    windows = [int(round(m / (dt * midpoint_mean_rate(dt)))) for m in (0.5, 1.0, 2.0)]
    x = ou_paths(n_traj, windows[-1], dt, np.random.default_rng(11))
    results = []
    for w in windows:
        ds = stochastic_entropy_production(x, dt=dt, p_ss=OU.stationary_density, force=ou_force,
                                           window=w, stride=x.shape[0])
        assert ds.total.shape == (1, n_traj)
        results.append(fluctuation_test(ds.total, n_bootstrap=200, rng=3))
    for res, w in zip(results, windows):
        # DFT slope: 250 reseeded runs gave |slope - 1| > 0.05 in 0.4 %, 0.4 %, 0 % of cases
        # (slope stderr 0.021, 0.018, 0.016).
        assert abs(res.dft_slope.value - 1) <= 0.05, res.verdict.message
        # <dS> per window: CLT on 2e4 samples, 4 standard errors -> 6e-5.
        assert abs(res.mean - w * dt * midpoint_mean_rate(dt)) <= 4 * np.sqrt(res.var / res.n)
    # IFT z-test for <dS> = 0.5: exp(-dS) has tail exponent 1.89 (computed from the exact
    # quadratic form), so the CLT is marginal; 250 reseeded runs: no |z| > 3 (rate < 1.5 %).
    assert abs(results[0].ift_z) <= 3, results[0].verdict.message
    # For <dS> = 2 the tail exponent is 1.44: Var exp(-dS) is infinite, the z-test is not
    # calibrated (|z| > 3 in 11 % of 250 runs) and the report must say so.  The Hill estimate
    # scattered over 1.36-1.52 in 3 runs, far below the flag at 2.
    assert results[2].ift_tail_index < 2 and "heavy tail" in results[2].verdict.message


# ----------------------------------------------------------------------------- grids
def test_grid_force_reproduces_linear_force_exactly():
    x = ou_paths(40, 50, 0.05, np.random.default_rng(5))
    grid = fp.CartesianGrid([(-8, 8), (-8, 8)], (20, 16))
    exact = stochastic_entropy_production(x, dt=0.05, p_ss=OU.stationary_density,
                                          force=ou_force, window=10)
    tabulated = stochastic_entropy_production(x, dt=0.05, p_ss=OU.stationary_density,
                                              model=OU.model, grid=grid, window=10)
    # Multilinear interpolation is exact for linear F: equality to round-off (|F dx| ~ 1).
    np.testing.assert_allclose(tabulated.medium, exact.medium, rtol=0, atol=1e-12)


def test_stationary_result_density_converges_at_second_order():
    x = ou_paths(200, 20, 0.05, np.random.default_rng(6))
    exact = stochastic_entropy_production(x, dt=0.05, p_ss=OU.stationary_density,
                                          force=ou_force, window=5)
    errors = []
    for n in (64, 128):
        grid = fp.CartesianGrid([(-7, 7), (-7, 7)], (n, n))
        res = fp.solve_stationary(fp.FokkerPlanckOperator(grid, OU.model))
        from_grid = stochastic_entropy_production(x, dt=0.05, p_ss=res, model=OU.model,
                                                  window=5)
        np.testing.assert_allclose(from_grid.medium, exact.medium, rtol=0, atol=1e-12)
        errors.append(np.sqrt(np.mean((from_grid.system - exact.system) ** 2)))
    # Linear interpolation of ln p (error h^2/8 |d^2 ln p|) on a second-order density:
    # measured RMS errors 0.012 and 0.0029, order 2.05.
    order = np.log2(errors[0] / errors[1])
    assert 1.7 <= order <= 2.4, f"system part: observed order {order:.2f} (expected 2)"
    assert errors[1] <= 0.006


def _random_walk(n_traj, n_steps, lo, hi, step, rng, d=1):
    x = rng.uniform(lo, hi, (n_traj, d)) + np.cumsum(
        np.concatenate([np.zeros((1, n_traj, d)), rng.normal(0, step, (n_steps, n_traj, d))]),
        axis=0)
    return np.clip(x, lo - 1, hi + 1)


@pytest.mark.parametrize("convention", ["ito", "stratonovich", "anti-ito"])
def test_position_dependent_diffusion_equilibrium_gives_zero_total(convention):
    """Zero-current 1-D model with D(x) = 1 + 0.5 sin^2 x: F = (ln p)' and dS_tot = 0 on
    every path, provided div D and the convention enter F correctly."""
    pdd = PositionDependentDiffusion1D((-5.0, 5.0))
    grid = fp.CartesianGrid([(-5, 5)], (400,))
    x = _random_walk(50, 200, -3, 3, 0.05, np.random.default_rng(7))
    res = stochastic_entropy_production(
        x, dt=0.01, p_ss=lambda y: pdd.stationary_density(y[0], convention),
        model=pdd.model(convention), grid=grid, window=200)
    # The midpoint rule errs by F'' dx^3 / 24 per step: 200 steps of |dx| ~ 0.05 give ~1e-3
    # (measured max |dS_tot| 4.8e-4 ... 7.9e-4, unchanged for 200 ... 800 cells, so the grid's
    # O(h^2) part is far smaller).
    assert np.max(np.abs(res.total)) <= 2e-3
    # Negative control: forgetting div D (F = b / D) leaves an O(1) error.
    wrong = stochastic_entropy_production(
        x, dt=0.01, p_ss=lambda y: pdd.stationary_density(y[0], convention),
        force=lambda y: -y / pdd.diffusion(y), window=200)
    assert convention == "anti-ito" or np.max(np.abs(wrong.total)) > 0.05


def test_tensor_diffusion_equilibrium_in_two_dimensions():
    """Ito drift a = D(x) (-grad U) + div D(x) with an anisotropic, position-dependent tensor:
    zero current for p = exp(-U), so dS_tot = 0 on any path (div D from findiff on the grid)."""
    def U(x):
        return 0.5 * (x[0] ** 2 + x[1] ** 2) + 0.3 * x[0] * x[1]

    def diffusion(x):
        return np.array([[1 + 0.3 * np.sin(x[0]), 0.2 * np.sin(x[1])],
                         [0.2 * np.sin(x[1]), 0.8 + 0.2 * np.cos(x[0])]])

    def drift(x):
        grad_u = np.array([x[0] + 0.3 * x[1], x[1] + 0.3 * x[0]])
        div_d = np.array([0.3 * np.cos(x[0]) + 0.2 * np.cos(x[1]), np.zeros_like(x[0])])
        return -np.einsum("ij...,j...->i...", diffusion(x), grad_u) + div_d

    model = fp.FokkerPlanckModel(drift, diffusion)
    x = _random_walk(30, 100, -2, 2, 0.05, np.random.default_rng(8), d=2)
    errors = []
    for n in (80, 160):
        grid = fp.CartesianGrid([(-4, 4), (-4, 4)], (n, n))
        res = stochastic_entropy_production(x, dt=0.01, p_ss=lambda y: -U(y), log_density=True,
                                            model=model, grid=grid, window=100)
        errors.append(np.max(np.abs(res.total)))
    # F = -grad U is linear, so the midpoint rule is exact and only the O(h^2) findiff error of
    # div D remains: measured 7.0e-4 and 1.75e-4 (order 2.00; 4.4e-5 at 320 cells).
    order = np.log2(errors[0] / errors[1])
    assert 1.7 <= order <= 2.3 and errors[1] <= 5e-4, (errors, order)


def _ring_paths(seed):
    """A tilted ring, its periodic 128-cell grid, and 20 unwrapped random-walk paths of 300
    steps with drift 0.05 and step std 0.1 (many wraps at positions up to ~40)."""
    ring = TiltedRing(1.0, 0.5)
    L = ring.period
    grid = fp.CartesianGrid([(0, L)], (128,), boundary="periodic")
    rng = np.random.default_rng(seed)
    unwrapped = np.cumsum(np.concatenate([rng.uniform(0, L, (1, 20, 1)),
                                          rng.normal(0.05, 0.1, (300, 20, 1))]), axis=0)
    return ring, L, grid, unwrapped


def test_tilted_ring_periodic_potential_model():
    ring, L, grid, unwrapped = _ring_paths(9)
    kw = dict(dt=0.01, p_ss=lambda y: ring.stationary_density(y[0]), model=ring.model,
              grid=grid, window=300)
    res = stochastic_entropy_production(np.mod(unwrapped, L), **kw)
    same = stochastic_entropy_production(unwrapped, **kw)
    np.testing.assert_allclose(res.total, same.total, rtol=0, atol=1e-12)  # minimum image
    start, end = unwrapped[0, :, 0], unwrapped[-1, :, 0]
    expected = -(ring.potential(end) - ring.potential(start)) + ring.force * (end - start)
    # -dU from U interpolated linearly: error <= h^2/8 max|U''| = 3e-4 per end; f dx exact.
    np.testing.assert_allclose(res.medium[0], expected, rtol=0, atol=1e-3)


def test_callable_force_uses_the_minimum_image_on_periodic_axes():
    # Issue 13 item 3: with force=callable the periodic axes of grid= (or of a periodic p_ss
    # result) were ignored, so wrapped positions jumped by -L at each wrap (a ring with mean
    # ~10 gave -0.038).  Now wrapped and unwrapped paths give the same entropy.
    ring, L, grid, unwrapped = _ring_paths(10)
    force = lambda y: _ring_force(ring, y)  # noqa: E731
    kw = dict(dt=0.01, p_ss=lambda y: ring.stationary_density(y[0]), force=force, window=300)
    wrapped = stochastic_entropy_production(np.mod(unwrapped, L), grid=grid, **kw)
    same = stochastic_entropy_production(unwrapped, **kw)
    # Identical midpoints and increments up to the wrap's round-off (|x| <= ~40, eps 2e-16).
    np.testing.assert_allclose(wrapped.total, same.total, rtol=0, atol=1e-9)
    # The same through a periodic StationaryResult as p_ss (its grid carries the periodicity).
    p = fp.solve_stationary(fp.FokkerPlanckOperator(grid, ring.model))
    kw.update(p_ss=p)
    np.testing.assert_allclose(stochastic_entropy_production(np.mod(unwrapped, L), **kw).medium,
                               same.medium, rtol=0, atol=1e-9)


def _ring_force(ring, y):
    """Effective force of the tilted ring, ``-U'(x) + f`` with ``U = a cos(2 pi x / L)``, D = 1."""
    k = 2 * np.pi / ring.period
    return ring.amplitude * k * np.sin(k * y) + ring.force


# ----------------------------------------------------------------------------- windows
def test_windows_strides_and_additivity():
    x = ou_paths(3, 12, 0.1, np.random.default_rng(1))
    kw = dict(dt=0.1, p_ss=OU.stationary_density, force=ou_force)
    one = stochastic_entropy_production(x, window=1, **kw)
    four = stochastic_entropy_production(x, window=4, **kw)
    slide = stochastic_entropy_production(x, window=4, stride=1, **kw)
    assert one.total.shape == (12, 3) and four.total.shape == (3, 3)
    assert slide.total.shape == (9, 3) and list(slide.starts) == list(range(9))
    assert four.tau == pytest.approx(0.4) and four.stride == 4
    for part in ("system", "medium", "total"):   # system telescopes, medium is additive
        np.testing.assert_allclose(getattr(four, part),
                                   getattr(one, part).reshape(3, 4, 3).sum(axis=1), atol=1e-12)
    rate = four.rate()
    assert rate.value == pytest.approx(four.total.mean() / 0.4)
    assert four.rate("system").stderr > 0


def test_trajectory_result_like_input_infers_dt():
    x = ou_paths(2, 6, 0.1, np.random.default_rng(2))
    traj = types.SimpleNamespace(positions=x, times=0.2 * np.arange(7))
    res = stochastic_entropy_production(traj, p_ss=OU.stationary_density, force=ou_force)
    assert res.dt == pytest.approx(0.2)
    bad = types.SimpleNamespace(positions=x, times=np.array([0, 1, 2, 3, 4, 5, 7.0]))
    with pytest.raises(FpsolveError, match="dt"):
        stochastic_entropy_production(bad, p_ss=OU.stationary_density, force=ou_force)


# ----------------------------------------------------------------------------- errors
def test_zero_stationary_density_where_the_path_goes_is_an_error():
    grid = fp.CartesianGrid([(-2, 2)], (8,))
    p = np.ones(8)
    p[6:] = 0.0                                   # zero density for x > 1
    result = StationaryResult(p=p, grid=grid, operator=None, residual=0.0, converged=True)
    x = np.array([[0.0], [0.5], [1.6]])[:, :, None]       # 1 trajectory reaching x = 1.6
    with pytest.raises(FpsolveError, match=r"p_ss: .*zero.* x = \(1\.6,\)"):
        stochastic_entropy_production(x, dt=0.1, p_ss=result, force=lambda y: -y)
    ok = stochastic_entropy_production(x[:2], dt=0.1, p_ss=result, force=lambda y: -y)
    assert np.isfinite(ok.total).all()            # cells with p = 0 unused there
    with pytest.raises(FpsolveError, match=r"p_ss: zero.* x = \(0\.5,\)"):
        stochastic_entropy_production(x, dt=0.1, p_ss=lambda y: np.where(y[0] > 0.2, 0, 1.0),
                                      force=lambda y: -y)


def _bad_calls():
    x = np.zeros((5, 2, 1))
    good = dict(dt=0.1, p_ss=lambda y: np.exp(-y[0] ** 2), force=lambda y: -y)
    grid = fp.CartesianGrid([(-1, 1)], (5,))
    return [
        ("positions", np.zeros((5, 2)), good),
        ("positions", np.full((5, 2, 1), np.nan), good),
        ("positions", np.zeros((1, 2, 1)), good),
        ("dt", x, {**good, "dt": None}),
        ("dt", x, {**good, "dt": -0.1}),
        ("window", x, {**good, "window": 0}),
        ("window", x, {**good, "window": 5}),
        ("stride", x, {**good, "stride": 0}),
        ("model", x, {**good, "model": OU.model}),
        ("model", x, {k: v for k, v in good.items() if k != "force"}),
        ("grid", x, {**{k: v for k, v in good.items() if k != "force"},
                     "model": fp.FokkerPlanckModel(lambda y: -y)}),
        ("force", x, {**good, "force": lambda y: y[0]}),
        ("force", x, {**good, "force": lambda y: np.full_like(y, np.inf)}),
        ("force", x, {**good, "force": 1.0}),
        ("p_ss", x, {**good, "p_ss": 1.0}),
        ("p_ss", x, {**good, "p_ss": lambda y: y}),
        ("p_ss", x, {**good, "p_ss": lambda y: np.full(y.shape[1:], -np.inf),
                     "log_density": True}),
        ("positions", np.full((5, 2, 1), 3.0), {**good, "grid": grid}),
        ("grid", np.zeros((5, 2, 2)), {**good, "grid": grid,
                                      "force": lambda y: -y}),
    ]


@pytest.mark.parametrize("name, positions, kwargs", _bad_calls(),
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(_bad_calls())])
def test_bad_inputs_name_the_argument(name, positions, kwargs):
    with pytest.raises(FpsolveError, match=rf"^{name}:"):
        stochastic_entropy_production(positions, **kwargs)


def test_rate_rejects_unknown_part():
    res = stochastic_entropy_production(np.zeros((3, 2, 1)), dt=0.1,
                                        p_ss=lambda y: np.ones(y.shape[1:]), force=lambda y: -y)
    with pytest.raises(FpsolveError, match="^part:"):
        res.rate("heat")


# ----------------------------------------------------------------------------- extrapolation
def test_extrapolation_is_exact_for_polynomials_and_propagates_errors():
    dts = np.array([0.1, 0.2, 0.4])
    lin = extrapolate_to_zero_dt(dts, 2.0 - 3.0 * dts, [0.1, 0.2, 0.3])
    quad = extrapolate_to_zero_dt(dts, 2.0 - 3.0 * dts + 5.0 * dts**2, [0.1] * 3, order=2)
    assert lin.value == pytest.approx(2.0, abs=1e-12)        # round-off of a 3x2 solve
    assert quad.value == pytest.approx(2.0, abs=1e-12)
    assert np.isnan(quad.reduced_chi2)                       # no degrees of freedom left
    # Two points with equal errors s: intercept variance s^2 (t1^2 + t2^2) / (t2 - t1)^2.
    two = extrapolate_to_zero_dt([0.1, 0.3], [1.0, 1.0], [0.05, 0.05])
    assert two.stderr == pytest.approx(0.05 * np.sqrt(0.1**2 + 0.3**2) / 0.2, rel=1e-12)
    assert two.ci[0] < two.value < two.ci[1]


@pytest.mark.parametrize("args, kwargs, name", [
    (([0.1], [1.0], [0.1]), {}, "dts"),
    (([0.1, 0.1], [1.0, 1.0], [0.1, 0.1]), {}, "dts"),
    (([0.1, -0.2], [1.0, 1.0], [0.1, 0.1]), {}, "dts"),
    (([0.1, 0.2], [1.0, 1.0], [0.1, 0.0]), {}, "stderrs"),
    (([0.1, 0.2], [1.0, np.nan], [0.1, 0.1]), {}, "values"),
    (([0.1, 0.2], [1.0], [0.1, 0.1]), {}, "values"),
    (([0.1, 0.2, 0.3], [1.0] * 3, [0.1] * 3), {"order": 1.5}, "order"),
])
def test_extrapolation_rejects_bad_input(args, kwargs, name):
    with pytest.raises(FpsolveError, match=rf"^{name}:"):
        extrapolate_to_zero_dt(*args, **kwargs)


def test_dt_must_match_the_recorded_spacing_of_a_result():
    x = ou_paths(2, 6, 0.1, np.random.default_rng(3))
    traj = types.SimpleNamespace(positions=x, times=0.5 * np.arange(7))   # record_every = 5
    with pytest.raises(FpsolveError, match="^dt: 0.1 differs"):
        stochastic_entropy_production(traj, dt=0.1, p_ss=OU.stationary_density, force=ou_force)
    res = stochastic_entropy_production(traj, dt=0.5, p_ss=OU.stationary_density, force=ou_force)
    with pytest.raises(FpsolveError, match="^confidence:"):
        res.rate(confidence=1.5)
    with pytest.raises(FpsolveError, match="^confidence:"):
        extrapolate_to_zero_dt([0.1, 0.2], [1.0, 1.0], [0.1, 0.1], confidence=0.0)
