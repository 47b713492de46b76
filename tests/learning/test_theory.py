"""Linear theory of minibatch SGD (fpsolve.learning.theory) on small models defined here.

The test model is linear regression with heterogeneous inputs, ``l_i = (N/2)[(a_i . w - y_i)^2 +
lam |w|^2]``: per-sample Hessians ``N (a_i a_i^T + lam I)`` differ from sample to sample, the
per-sample gradients are affine in ``w``.  Its methods accept a stack of parameter vectors
``(..., d)`` (the vectorized path of the simulations).  Stochastic tests are seeded; each states
its standard error and false-failure rate.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from fpsolve.errors import ConvergenceWarning, FpsolveError, ModelError
from fpsolve.learning.theory.estimators import area_velocity, entropy_production_windows
from fpsolve.learning.theory import (empirical_diffusion,
                                     find_minimum, gaussian_theory,
                                     minibatch_diffusion)
from fpsolve.linear import stationary_covariance

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "regression-paper-data"


class Quadratic:
    """``l_i = (N/2)[(a_i . w - y_i)^2 + lam |w|^2]`` with ``data = (A (N, d), y (N,))``."""

    def __init__(self, lam=0.05):
        self.lam = lam

    def loss(self, w, data):
        A, y = data
        w = np.asarray(w)
        return 0.5 * len(y) * (np.mean((w @ A.T - y) ** 2, axis=-1) + self.lam * (w * w).sum(-1))

    def per_sample_gradients(self, w, data):
        A, y = data
        w = np.asarray(w)
        return len(y) * ((w @ A.T - y)[..., None] * A + self.lam * w[..., None, :])

    def gradient(self, w, data):
        return self.per_sample_gradients(w, data).mean(axis=-2)

    def per_sample_hessians(self, w, data):
        A, y = data
        return len(y) * (A[:, :, None] * A[:, None, :] + self.lam * np.eye(A.shape[1]))

    def hessian(self, w, data):
        return self.per_sample_hessians(w, data).mean(axis=0)


def regression_data(N=20, d=3, seed=1):
    """Inputs with per-sample scales in [0.3, 2]: strongly heterogeneous curvature."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(N, d)) * rng.uniform(0.3, 2.0, size=(N, 1))
    return A, A @ rng.normal(size=d) + 0.5 * rng.normal(size=N)


def linear_chain(H, D, eta, n_steps, n_chains, rng):
    """Stationary chains ``x' = (I - eta H) x + N(0, 2 D)``, shape (n_steps + 1, n_chains, d)."""
    d = H.shape[0]
    S = gaussian_theory(H, D, eta).Sigma_disc
    X = np.empty((n_steps + 1, n_chains, d))
    X[0] = rng.normal(size=(n_chains, d)) @ np.linalg.cholesky(S).T
    M, L = np.eye(d) - eta * H, np.linalg.cholesky(2 * D)
    for k in range(n_steps):
        X[k + 1] = X[k] @ M.T + rng.normal(size=(n_chains, d)) @ L.T
    return X


# A non-normal 2-D case: H and D do not commute, so the stationary state carries a current.
H2 = np.array([[1.0, 0.3], [0.3, 2.0]])
D2 = np.array([[1.0, -0.4], [-0.4, 0.5]])


# ----------------------------------------------------------------------------- minimum
def test_newton_minimizes_quadratic_in_one_step():
    model, data = Quadratic(), regression_data()
    m = find_minimum(model, data, np.array([3.0, -2.0, 1.0]))
    A, y = data
    w_exact = np.linalg.solve(A.T @ A + len(y) * model.lam * np.eye(3), A.T @ y)
    assert m.converged and m.n_steps == 1
    # one Newton step solves the normal equations up to cond(H) * eps ~ 1e-14 relative
    assert np.allclose(m.w, w_exact, rtol=1e-10, atol=1e-12)
    assert m.grad_norm < 1e-9 * np.abs(model.per_sample_gradients(np.zeros(3), data)).max()
    assert np.allclose(m.H, model.hessian(m.w, data)) and np.all(np.linalg.eigvalsh(m.H) > 0)


def test_newton_line_search_from_far_on_nonconvex_loss():
    # L = (|w|^2 - 1)^2 / 4 + w_0 / 10: negative curvature near 0, minimum near w = (-1, 0)
    class Ring:
        def loss(self, w, _):
            return 0.25 * (w @ w - 1) ** 2 + 0.1 * w[0]

        def gradient(self, w, _):
            return (w @ w - 1) * w + np.array([0.1, 0.0])

        def hessian(self, w, _):
            return (w @ w - 1) * np.eye(2) + 2 * np.outer(w, w)

    m = find_minimum(Ring(), None, np.array([0.05, 0.3]))
    assert m.converged and m.n_steps < 30
    assert m.grad_norm < 1e-12  # quadratic convergence ends at round-off
    assert m.w[0] < -0.9 and np.all(np.linalg.eigvalsh(m.H) > 0)


def test_newton_warns_when_stopped_early():
    model, data = Quadratic(), regression_data()
    with pytest.warns(ConvergenceWarning):
        m = find_minimum(model, data, np.array([3.0, -2.0, 1.0]), maxiter=0)
    assert not m.converged and m.n_steps == 0 and m.grad_norm > 1.0


def test_saddle_is_not_a_minimum():
    saddle = type("Saddle", (), {"loss": lambda self, w, _: w[0] ** 2 - w[1] ** 2,
                                 "gradient": lambda self, w, _: np.array([2 * w[0], -2 * w[1]]),
                                 "hessian": lambda self, w, _: np.diag([2.0, -2.0])})()
    with pytest.raises(ModelError, match="not a minimum"):
        find_minimum(saddle, None, np.zeros(2))  # zero gradient: Newton stops at the saddle
    with pytest.raises(ModelError, match="not a minimum"):
        gaussian_theory(np.diag([1.0, -1.0]), np.eye(2), 0.1)


def test_bad_arguments_name_themselves():
    model, data = Quadratic(), regression_data()
    with pytest.raises(FpsolveError, match="eta"):
        minibatch_diffusion(model, data, np.zeros(3), eta=-1.0, batch_size=5)
    with pytest.raises(FpsolveError, match="batch_size"):
        minibatch_diffusion(model, data, np.zeros(3), eta=0.1, batch_size=21)
    with pytest.raises(FpsolveError, match="eta"):
        gaussian_theory(H2, D2, 1.5)  # eta * max eig(H) > 2: unstable map
    with pytest.raises(FpsolveError, match="form"):
        entropy_production_windows(np.zeros((3, 2)), gaussian_theory(H2, D2, 0.1), form="ito")
    with pytest.raises(FpsolveError, match="window"):
        entropy_production_windows(np.zeros((3, 2)), gaussian_theory(H2, D2, 0.1), window=5)


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="shared reference data absent")
def test_newton_returns_to_the_paper_minimum():
    learning = pytest.importorskip("fpsolve.learning")
    if not hasattr(learning, "RegressionNetwork"):
        pytest.skip("fpsolve.learning.RegressionNetwork not available")
    data = learning.load_regression(REFERENCE / "x_train.txt", REFERENCE / "y_train.txt")
    wmin = np.loadtxt(REFERENCE / "wmin.txt")
    m = find_minimum(learning.RegressionNetwork(), data, wmin + 0.01)
    assert m.converged
    # the published minimum carries ~10 significant digits of its optimizer
    assert np.allclose(m.w, wmin, atol=1e-6)


# ----------------------------------------------------------------------------- diffusion
def test_finite_population_factor_by_enumeration():
    """Exact covariance over all C(N, B) batches equals (N-B)/(B(N-1)) Sigma_g (to round-off)."""
    model, data = Quadratic(), regression_data(N=8)
    w, eta, B = np.array([0.3, -0.2, 0.5]), 0.01, 3
    G = model.per_sample_gradients(w, data)
    batches = np.array(list(itertools.combinations(range(8), B)))
    step = -eta * G[batches].mean(axis=1)
    D_exact = 0.5 * np.cov(step.T, bias=True)  # population covariance over all batches
    D = minibatch_diffusion(model, data, w, eta=eta, batch_size=B)
    assert np.allclose(D, D_exact, rtol=1e-12, atol=1e-15 * np.abs(D).max())
    assert np.allclose(minibatch_diffusion(model, data, w, eta=eta, batch_size=8), 0.0)


def test_empirical_diffusion_matches_theory():
    model, data = Quadratic(), regression_data()
    w, eta, B, n = np.array([0.3, -0.2, 0.5]), 1e-3, 5, 200_000
    D = minibatch_diffusion(model, data, w, eta=eta, batch_size=B)
    D_emp = empirical_diffusion(model, data, w, eta=eta, batch_size=B, n=n, rng=7)
    scale = np.sqrt(np.outer(np.diag(D), np.diag(D)))
    dominant = np.abs(D) >= 0.3 * scale  # diagonal and strongly correlated pairs
    # Relative standard error sqrt((1 + rho^-2) / n) <= 0.8 % for |rho| >= 0.3 (Gaussian
    # displacements, ~1 % with the kurtosis of 5-sample means); 2 % is >= 2.5 standard errors
    # for the worst entry and >= 6 for the diagonal: false-failure rate < 1 % for a fresh seed.
    assert np.all(np.abs(D_emp - D)[dominant] <= 0.02 * np.abs(D)[dominant])


# ----------------------------------------------------------------------------- Gaussian theory
def test_discrete_and_continuous_covariances_agree_to_first_order():
    etas = np.array([0.05, 0.1, 0.2])
    errors, residuals = [], []
    for eta in etas:
        th = gaussian_theory(H2, eta**2 * D2, eta)
        errors.append(np.abs(th.Sigma_disc - th.Sigma).max() / np.abs(th.Sigma).max())
        # first-order term: Sigma_disc = Sigma + eta X with H X + X H = H Sigma H
        X = stationary_covariance(-H2, 0.5 * H2 @ th.Sigma @ H2)
        residuals.append(np.abs(th.Sigma_disc - th.Sigma - eta * X).max()
                         / np.abs(th.Sigma).max())
    order = np.polyfit(np.log(etas), np.log(errors), 1)[0]
    order2 = np.polyfit(np.log(etas), np.log(residuals), 1)[0]
    # exact orders 1 and 2; +-0.15 covers the curvature of the log-log line over a factor 4
    assert abs(order - 1) < 0.15, f"observed order {order:.3f}"
    assert abs(order2 - 2) < 0.15, f"observed order {order2:.3f}"


def test_circulation_antisymmetric_and_zero_for_commuting_H_D():
    th = gaussian_theory(H2, 0.01 * D2, 0.1)
    for C in (th.C, th.C_disc):
        assert np.array_equal(C, -C.T) and np.abs(C).max() > 1e-4
    assert th.entropy_production > 0 and th.entropy_production_exact > 0
    Q, _ = np.linalg.qr(np.random.default_rng(3).normal(size=(3, 3)))
    H, D = Q @ np.diag([1.0, 2.0, 3.0]) @ Q.T, Q @ np.diag([0.01, 0.03, 0.02]) @ Q.T
    th = gaussian_theory(H, D, 0.1)
    # commuting H, D: Sigma commutes with H, C vanishes up to the solvers' round-off
    assert np.abs(th.C).max() < 1e-12 * np.abs(H @ th.Sigma).max()
    assert np.abs(th.C_disc).max() < 1e-12 * np.abs(H @ th.Sigma_disc).max()
    assert th.entropy_production < 1e-20 and abs(th.entropy_production_exact) < 1e-12


def test_entropy_production_formula_against_monte_carlo():
    eta = 0.1
    th = gaussian_theory(H2, eta**2 * D2, eta)
    X = linear_chain(H2, eta**2 * D2, eta, 200, 4000, np.random.default_rng(11))
    # continuous formula: the exact discrete value to first order in eta (6.8 % at eta = 0.1)
    assert abs(th.entropy_production / th.entropy_production_exact - 1) < eta
    bias = 0.5 * eta**3 * np.trace(np.linalg.solve(th.D, H2 @ H2 @ th.Sigma_disc @ H2))
    for form, expected in [("exact", th.entropy_production_exact),
                           ("midpoint", th.entropy_production_exact),
                           ("prepoint", th.entropy_production_exact + bias)]:
        sigma = entropy_production_windows(X, th, window=1, form=form)
        per_chain = sigma.mean(axis=0)  # chains are independent, steps within one are not
        se = per_chain.std(ddof=1) / np.sqrt(per_chain.size)
        # 4 standard errors: false-failure rate 6e-5 per form
        assert abs(per_chain.mean() - expected) < 4 * se, (form, per_chain.mean(), expected, se)


def test_integral_fluctuation_theorem_is_exact_for_the_chain():
    eta = 0.1
    th = gaussian_theory(H2, eta**2 * D2, eta)
    X = linear_chain(H2, eta**2 * D2, eta, 10, 40000, np.random.default_rng(12))
    sigma = entropy_production_windows(X, th, window=10, form="exact")[0]
    e = np.exp(-sigma)
    se = e.std(ddof=1) / np.sqrt(e.size)
    assert abs(e.mean() - 1) < 4 * se  # 4 standard errors: false-failure rate 6e-5
    assert abs(sigma.mean() - 10 * th.entropy_production_exact) < 4 * sigma.std() / 200


def test_area_velocity_estimates_the_circulation():
    eta = 0.1
    th = gaussian_theory(H2, eta**2 * D2, eta)
    X = linear_chain(H2, eta**2 * D2, eta, 200, 4000, np.random.default_rng(13))
    A = area_velocity(X, center=np.zeros(2))
    assert np.array_equal(A, -A.T)
    per_chain = np.array([area_velocity(X[:, c], center=np.zeros(2))[0, 1] for c in range(200)])
    se = per_chain.std(ddof=1) / np.sqrt(per_chain.size * 20)  # 200 of 4000 chains sampled
    # exact relation to C_disc: 4 standard errors (false-failure rate 6e-5)
    assert abs(A[0, 1] - th.C_disc[0, 1]) < 4 * se
    # C (continuous Sigma) agrees to O(eta): 6.8 % here
    assert abs(A[0, 1] / th.C[0, 1] - 1) < eta
    assert np.allclose(area_velocity(X), A, atol=4 * se)  # estimated mean: O(1/n) change
