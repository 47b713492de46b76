"""User models (a numba per-sample gradient or a Python batch function) and LogisticRegression
against the built-in models, finite differences and the samplers' exact moments; bad input.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

from fpsolve.errors import FpsolveError, ModelError
from fpsolve.learning import (LinearRegression, LogisticRegression, UserModel, find_minimum,
                              gaussian_posterior, sample, sgd)
from fpsolve.learning.posteriors import stationary_moments

EPS = np.finfo(float).eps
RNG = np.random.default_rng(3)
X = RNG.normal(size=(40, 2)) * RNG.uniform(0.3, 2.0, size=(40, 1))
Y = X @ [1.0, -0.5] + RNG.normal(size=40)
# LinearRegression(2, s=1, lam=0): l_i = N / 2 (y_i - w . x_i)^2


@numba.njit
def linear_per_sample(w, x, y, g):
    r = y - (w[0] * x[0] + w[1] * x[1])
    g[0], g[1] = -40.0 * r * x[0], -40.0 * r * x[1]
    return 20.0 * r * r


def linear_batch(w, xb, yb):
    r = yb - xb @ w
    return 20.0 * np.mean(r * r), -40.0 * (r[:, None] * xb).mean(axis=0)


BUILTIN = LinearRegression(2, s=1.0, lam=0.0)


@pytest.mark.parametrize("model", [UserModel(linear_per_sample, 2),
                                   UserModel(batch=linear_batch, n_params=2)])
def test_user_model_equals_the_builtin_one(model):
    w = np.array([0.3, -0.2])
    # same sums in another order: a few ulp of the largest term (|g_i| ~ 1e2)
    np.testing.assert_allclose(model.gradient(w, (X, Y)), BUILTIN.gradient(w, (X, Y)),
                               rtol=1e-13, atol=1e-11)
    np.testing.assert_allclose(model.per_sample_gradients(w, (X, Y)),
                               BUILTIN.per_sample_gradients(w, (X, Y)), rtol=1e-13, atol=1e-11)
    kw = dict(eta=1e-4, batch_size=5, n_steps=200, n_chains=3, rng=7, noise=1.0,
              schedule="wor")
    mine, ref = sgd(model, (X, Y), w, **kw), sgd(BUILTIN, (X, Y), w, **kw)
    # the same batches and normals; rounding of each step's gradient accumulates over 200
    # contracting steps: 1e-12 absolute on O(1) parameters
    np.testing.assert_allclose(mine.w, ref.w, rtol=0, atol=1e-12)


def test_finite_difference_hessians_match_the_exact_ones():
    model, w = UserModel(linear_per_sample, 2), np.array([0.3, -0.2])
    H, h = BUILTIN.hessian(w, (X, Y)), BUILTIN.per_sample_hessians(w, (X, Y))
    # central differences of a linear gradient: only round-off, eps |g| / h ~ 1e-10 relative
    np.testing.assert_allclose(model.hessian(w, (X, Y)), H, rtol=1e-8, atol=1e-8 * abs(H).max())
    np.testing.assert_allclose(model.per_sample_hessians(w, (X, Y)), h, rtol=0,
                               atol=1e-8 * abs(h).max())
    given = UserModel(linear_per_sample, 2, hessian=lambda v, data: H)
    assert np.array_equal(given.hessian(w, (X, Y)), H)


def test_exact_sampler_moments_of_a_user_model():
    model = UserModel(linear_per_sample, 2)
    eta = 0.05 / (8 * np.linalg.eigvalsh(BUILTIN.hessian(np.zeros(2), (X, Y))).max())
    mine = stationary_moments("sgworld", model, (X, Y), eta=eta, batch_size=5, rng=1)
    ref = stationary_moments("sgworld", BUILTIN, (X, Y), eta=eta, batch_size=5, rng=1)
    # finite-difference Hessians (1e-10 relative) enter the moments linearly
    np.testing.assert_allclose(mine.cov, ref.cov, rtol=1e-6)


def test_logistic_regression_derivatives_against_finite_differences():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 3))
    y = (x @ [1.0, -1.0, 0.5] + 0.5 * rng.normal(size=30) > 0).astype(int)
    model, w = LogisticRegression(3, lam=0.01), np.array([0.4, -0.3, 0.2, 0.1])
    fd = UserModel(batch=lambda v, xb, yb: (model.loss(v, (xb, yb.astype(int))),
                                            model.gradient(v, (xb, yb.astype(int)))),
                   n_params=4)
    # the gradient is the derivative of the loss: central differences, h = eps^(1/3)
    g_fd = np.array([(model.loss(w + e, (x, y)) - model.loss(w - e, (x, y))) / 2e-5
                     for e in 1e-5 * np.eye(4)])
    np.testing.assert_allclose(model.gradient(w, (x, y)), g_fd, rtol=1e-6, atol=1e-8)
    # exact Hessian against differences of the exact gradient (truncation h^2 ~ 1e-10)
    np.testing.assert_allclose(model.hessian(w, (x, y)), fd.hessian(w, (x, y)), rtol=1e-7,
                               atol=1e-7)
    np.testing.assert_allclose(model.per_sample_hessians(w, (x, y)).mean(0),
                               model.hessian(w, (x, y)), rtol=1e-12, atol=1e-12)
    m = find_minimum(model, (x, y), np.zeros(4))
    assert m.converged and np.all(np.linalg.eigvalsh(m.H) > 0)
    p = model.predict(m.w, x)
    assert p.shape == (30,) and np.all((p > 0) & (p < 1))


def test_logistic_samplers_run_and_agree_with_the_laplace_posterior_roughly():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(200, 2))
    y = (x @ [1.0, -1.0] + rng.normal(size=200) > 0).astype(int)
    model = LogisticRegression(2, lam=0.01)
    post = gaussian_posterior(model, (x, y))       # Laplace approximation at the minimum
    res = sample("midpoint-sgworld", model, (x, y), eta=2e-3, batch_size=20, n_epochs=3000,
                 burn_in=200, n_chains=4, rng=3)
    # a non-Gaussian posterior: the Laplace mean is off by O(1/N) of the spread; 0.2 sd bound
    sd = np.sqrt(np.diag(post.cov))
    assert np.all(np.abs(res.mean() - post.mean) < 0.2 * sd)


@pytest.mark.parametrize("make, message", [
    (lambda: UserModel(None, 2), "exactly one"),
    (lambda: UserModel(linear_per_sample, 2, batch=linear_batch), "exactly one"),
    (lambda: UserModel(linear_per_sample, 0), "n_params"),
    (lambda: UserModel(linear_per_sample, 3).loss(np.zeros(3), (X, Y)),
     r"per_sample \(linear_per_sample\).*shape \(3,\)"),
    (lambda: UserModel(batch=lambda w, xb, yb: (0.0, np.zeros(3)), n_params=2).loss(
        np.zeros(2), (X, Y)), r"batch \(<lambda>\): the gradient has shape \(3,\)"),
    (lambda: UserModel(batch=lambda w, xb, yb: 0.0, n_params=2).loss(np.zeros(2), (X, Y)),
     "expected \\(loss, gradient\\)"),
    (lambda: LogisticRegression(2).loss(np.zeros(3), (X, np.full(40, 2))), "labels"),
])
def test_bad_input_names_the_function_and_the_shape(make, message):
    with pytest.raises((FpsolveError, ModelError), match=message):
        make()


@numba.njit
def writes_too_far(w, x, y, g):
    for q in range(3):
        g[q] = 1.0
    return 0.0


def test_a_write_outside_the_gradient_is_caught_before_the_kernel_runs():
    with pytest.raises(ModelError, match=r"writes_too_far\): wrote outside grad of shape"):
        sgd(UserModel(writes_too_far, 2), (X, Y), np.zeros(2), eta=1e-3, batch_size=4,
            n_steps=3)
