"""Without-replacement SGD theory (learning.theory.wor) against exact enumeration and simulation.

For N = 6 samples in batches of B = 2 an epoch is one of 6! = 720 equally likely orders, so the
mean and covariance of the epoch map are computed *exactly* by running all of them (vectorized).
Models: the heterogeneous linear regression of test_theory, a tanh regression (non-quadratic
per-sample losses), and quadratic losses with identical per-sample Hessians.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from fpsolve.errors import FpsolveError, ModelError
from fpsolve.learning.theory import find_minimum, minibatch_diffusion
from fpsolve.learning.theory.wor import (wor_diffusion, wor_effective_loss, wor_epoch_statistics,
                                  wor_leading_diffusion, wor_stationary_mean)
from test_theory import Quadratic, regression_data


class Tanh:
    """``f(x; w) = w_0 tanh(w_1 x) + w_2``, ``l_i = (N/2)[(f(x_i) - y_i)^2 + lam |w|^2]``."""

    def __init__(self, lam=0.01):
        self.lam = lam

    def _parts(self, w, data):
        x, y = data
        w = np.asarray(w)
        t = np.tanh(w[..., 1, None] * x)
        r = w[..., 0, None] * t + w[..., 2, None] - y
        J = np.stack([t, w[..., 0, None] * x * (1 - t**2), np.ones_like(t)], axis=-1)
        return w, t, r, J

    def loss(self, w, data):
        w, _, r, _ = self._parts(w, data)
        return 0.5 * len(data[1]) * (np.mean(r**2, axis=-1) + self.lam * (w * w).sum(-1))

    def per_sample_gradients(self, w, data):
        w, _, r, J = self._parts(w, data)
        return len(data[1]) * (r[..., None] * J + self.lam * w[..., None, :])

    def gradient(self, w, data):
        return self.per_sample_gradients(w, data).mean(axis=-2)

    def per_sample_hessians(self, w, data):
        (x, _), (w, t, r, J) = data, self._parts(w, data)
        h = J[:, :, None] * J[:, None, :]
        h[:, 0, 1] += r * x * (1 - t**2)
        h[:, 1, 0] += r * x * (1 - t**2)
        h[:, 1, 1] += r * w[0] * x**2 * (-2 * t * (1 - t**2))
        return len(x) * (h + self.lam * np.eye(3))

    def hessian(self, w, data):
        return self.per_sample_hessians(w, data).mean(axis=0)


class Centers(Quadratic):
    """``l_i = (N/2) |w - c_i|_K^2``: every per-sample Hessian is ``N K`` (data = centers)."""

    K = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 3.0]])

    def per_sample_gradients(self, w, data):
        return len(data) * (np.asarray(w)[..., None, :] - data) @ self.K

    def loss(self, w, data):
        diff = np.asarray(w)[..., None, :] - data
        return 0.5 * len(data) * np.einsum("...ni,ij,...nj->...", diff, self.K, diff) / len(data)

    def per_sample_hessians(self, w, data):
        return np.broadcast_to(len(data) * self.K, (len(data), 3, 3))


class Hidden:
    """The model's ``loss``, ``gradient``, ``hessian`` and ``per_sample_gradients`` for one
    ``w`` at a time: no stacks, no per-sample Hessians (the fallback paths)."""

    def __init__(self, model, minibatch=False):
        self.model = model
        if minibatch:
            self.minibatch_gradient = (
                lambda w, data, b: model.per_sample_gradients(w, data)[b].mean(axis=0))

    def per_sample_gradients(self, w, data):
        if np.ndim(w) != 1:
            raise ValueError("one parameter vector at a time")
        return self.model.per_sample_gradients(w, data)

    def __getattr__(self, name):
        if name in ("loss", "gradient", "hessian"):
            return getattr(self.model, name)
        raise AttributeError(name)


def tanh_data(N=6, seed=2):
    rng = np.random.default_rng(seed)
    x = np.linspace(-2.0, 2.0, N)
    return x, 1.5 * np.tanh(1.2 * x) + 0.3 + 0.3 * rng.normal(size=N)


def small_problems():
    return [(Quadratic(), regression_data(N=6), np.zeros(3)),
            (Tanh(), tanh_data(), np.array([1.0, 1.0, 0.0]))]


ORDERS = np.array(list(itertools.permutations(range(6))))  # every epoch order for N = 6


def exact_epoch(model, data, w, eta, B=2):
    """All 720 epochs from ``w``: the displacements, shape (720, d)."""
    W = np.repeat(np.asarray(w, float)[None], len(ORDERS), axis=0)
    for k in range(6 // B):
        G = model.per_sample_gradients(W, data)
        W = W - eta * np.take_along_axis(G, ORDERS[:, k * B:(k + 1) * B, None], 1).mean(1)
    return W - w


def exact_fixed_point(model, data, w, eta, H, R=3):
    """Zero of the exact mean epoch displacement, iterating ``w += (eta R H)^-1 mean``
    (the mean map's Jacobian is ``-eta R H + O(eta^2)``: linear convergence at rate O(eta))."""
    for _ in range(100):
        step = np.linalg.solve(eta * R * H, exact_epoch(model, data, w, eta).mean(axis=0))
        w = w + step
        # round-off of the displacements (~1e-16 |w|) is amplified by 1 / (eta R H) ~ 1e3
        if np.linalg.norm(step) < 1e-11:
            return w
    raise AssertionError("fixed-point iteration did not converge")


# ----------------------------------------------------------------------------- noise
def test_epoch_covariance_scales_as_eta4_without_and_eta2_with_replacement():
    model, data = Quadratic(), regression_data()
    w = find_minimum(model, data, np.zeros(3)).w
    etas = np.array([1e-4, 2e-4, 4e-4])  # eta R max eig(H) <= 0.11: the small-eta regime
    wor, wr = [], []
    for eta in etas:
        for replace, out in ((False, wor), (True, wr)):
            s = wor_epoch_statistics(model, data, w, eta=eta, batch_size=5, n_perm=2000, rng=1,
                                     replace=replace)
            out.append(np.trace(s.cov))
    slope_wor = np.polyfit(np.log(etas), np.log(wor), 1)[0]
    slope_wr = np.polyfit(np.log(etas), np.log(wr), 1)[0]
    # relative standard error of each trace ~ sqrt(2 / 2000) = 3 %, of a slope over a factor 4
    # ~ 0.03 (the same seed at each eta correlates the errors): +-0.3 is a 10-sigma band
    assert abs(slope_wor - 4) < 0.3, f"WOR slope {slope_wor:.3f}"
    assert abs(slope_wr - 2) < 0.3, f"WR slope {slope_wr:.3f}"
    # WR: R independent steps, 2 R D per epoch; 10 % = 3 standard errors + O(eta R H) = 3 %
    D = minibatch_diffusion(model, data, w, eta=etas[0], batch_size=5)
    assert abs(wr[0] / np.trace(2 * 4 * D) - 1) < 0.1


@pytest.mark.parametrize("problem", [0, 1], ids=["quadratic", "tanh"])
def test_wor_leading_diffusion_is_the_exact_eta4_coefficient(problem):
    model, data, w0 = small_problems()[problem]
    w, eta = find_minimum(model, data, w0).w, 1e-3
    cov = np.cov(exact_epoch(model, data, w, eta).T, bias=True)  # exact over all orders
    D = wor_leading_diffusion(model, data, w, eta=eta, batch_size=2, n_perm=20000, rng=5)
    # sampling error of the sampled Cov(S): ~sqrt(2 / 20000) = 1 %; O(eta) terms ~1.2 %
    assert np.allclose(2 * D, cov, rtol=0.05, atol=0.05 * np.abs(cov).max())


def test_deprecated_wor_diffusion_alias_and_epoch_diffusion():
    model = Centers()
    data = np.random.default_rng(4).normal(size=(20, 3))
    w, kwargs = find_minimum(model, data, np.ones(3)).w, dict(eta=1e-3, batch_size=4)
    with pytest.warns(DeprecationWarning, match="wor_leading_diffusion"):
        old = wor_diffusion(model, data, w, method="leading", **kwargs)
    np.testing.assert_array_equal(old, wor_leading_diffusion(model, data, w, method="leading",
                                                             **kwargs))
    stats = wor_epoch_statistics(model, data, w, n_perm=50, rng=1, **kwargs)
    np.testing.assert_array_equal(stats.diffusion, stats.cov / 2)   # a definition: exact


def test_leading_term_and_zero_shift_for_identical_per_sample_hessians():
    model = Centers()
    data = np.random.default_rng(4).normal(size=(20, 3))
    w = find_minimum(model, data, np.ones(3)).w
    kwargs = dict(eta=1e-3, batch_size=4)
    leading = wor_leading_diffusion(model, data, w, method="leading", **kwargs)
    sampled = wor_leading_diffusion(model, data, w, n_perm=20000, rng=6, **kwargs)
    # the closed form is exact when h_i = H; sampling error ~sqrt(2 / 20000) = 1 % (4 % = 4 SE)
    assert np.allclose(sampled, leading, rtol=0.04, atol=0.04 * np.abs(leading).max())
    # Cov(h_i, g_i) = 0: no WOR shift, only Newton's round-off
    assert np.allclose(wor_stationary_mean(model, data, w, **kwargs).w, w, atol=1e-12)


# ----------------------------------------------------------------------------- mean shift
@pytest.mark.parametrize("problem", [0, 1], ids=["quadratic", "tanh"])
def test_stationary_mean_is_the_exact_fixed_point_to_first_order(problem):
    model, data, w0 = small_problems()[problem]
    m = find_minimum(model, data, w0)
    etas = np.array([1e-3, 2e-3, 4e-3])
    rel = []
    for eta in etas:
        theory = wor_stationary_mean(model, data, m.w, eta=eta, batch_size=2)
        exact = exact_fixed_point(model, data, m.w, eta, m.H)
        assert theory.converged and np.linalg.norm(exact - m.w) > 1e-4  # a real O(eta) shift
        rel.append(np.linalg.norm(theory.w - exact) / np.linalg.norm(exact - m.w))
    order = np.polyfit(np.log(etas), np.log(rel), 1)[0]
    # theory error O(eta^2) against a shift O(eta): relative error O(eta) (observed 0.2-4 %)
    assert max(rel) < 0.05 and abs(order - 1) < 0.2, (rel, order)


def test_stationary_mean_of_simulated_chains():
    """End to end: WOR SGD chains (simulated here) settle at wor_stationary_mean, not at w*."""
    model, data = Tanh(), tanh_data()
    m = find_minimum(model, data, np.array([1.0, 1.0, 0.0]))
    eta, B, R, n_chains = 4e-3, 2, 3, 200
    rng = np.random.default_rng(8)
    W, samples = np.repeat(m.w[None], n_chains, axis=0), []
    for epoch in range(2600):  # relaxation time 1 / (eta R min eig H) = 110 epochs
        order = np.argsort(rng.random((n_chains, 6)), axis=1)
        for k in range(R):
            G = model.per_sample_gradients(W, data)
            W = W - eta * np.take_along_axis(G, order[:, k * B:(k + 1) * B, None], 1).mean(1)
        if epoch >= 600:
            samples.append(W)
    mean = np.mean(samples, axis=(0, 1))
    # standard error from the chain averages (independent chains)
    se = np.std(np.mean(samples, axis=0), axis=0, ddof=1) / np.sqrt(n_chains)
    theory = wor_stationary_mean(model, data, m.w, eta=eta, batch_size=B).w
    shift = np.linalg.norm(theory - m.w)
    assert np.all(np.abs(mean - theory) < 4 * se + 0.06 * shift)  # O(eta) = 3.6 % (test above)
    assert np.linalg.norm(mean - m.w) > 0.9 * shift


# ----------------------------------------------------------------------------- plumbing
def test_finite_difference_hessians_match_analytic():
    model, data = Tanh(), tanh_data(N=12)
    w = find_minimum(model, data, np.array([1.0, 1.0, 0.0])).w
    analytic = wor_stationary_mean(model, data, w, eta=2e-3, batch_size=3).w
    fd = wor_stationary_mean(Hidden(model), data, w, eta=2e-3, batch_size=3).w
    # central differences with step eps^(1/3): Hessian error ~eps^(2/3) = 4e-11 relative
    assert np.allclose(fd, analytic, rtol=0, atol=1e-8 * np.linalg.norm(analytic - w))


@pytest.mark.parametrize("minibatch", [False, True], ids=["per-sample", "minibatch_gradient"])
def test_unvectorized_models_give_the_same_epochs(minibatch):
    model, data = Quadratic(), regression_data()
    w, kwargs = np.array([0.2, 0.1, -0.3]), dict(eta=1e-3, batch_size=5, n_perm=50, rng=3)
    fast = wor_epoch_statistics(model, data, w, **kwargs)
    slow = wor_epoch_statistics(Hidden(model, minibatch), data, w, **kwargs)
    # same batches, same arithmetic up to summation order
    assert np.allclose(slow.mean, fast.mean, rtol=1e-10)
    assert np.allclose(slow.cov, fast.cov, rtol=1e-8, atol=1e-14 * np.abs(fast.cov).max())


def test_effective_loss_and_errors():
    model, data = Quadratic(), regression_data()
    w, eta, B, N = np.array([0.2, 0.1, -0.3]), 1e-3, 5, 20
    G = model.per_sample_gradients(w, data)
    trace = np.trace(np.cov(G.T, bias=True))
    expected = model.loss(w, data) + eta / 4 * (N - B) / (B * (N - 1)) * trace
    assert np.isclose(wor_effective_loss(model, data, w, eta=eta, batch_size=B), expected,
                      rtol=1e-13)
    with pytest.raises(ModelError, match="batch_size"):
        wor_effective_loss(model, data, w, eta=eta, batch_size=3)  # 3 does not divide 20
    with pytest.raises(FpsolveError, match="method"):
        wor_leading_diffusion(model, data, w, eta=eta, batch_size=B, method="exact")
    with pytest.raises(FpsolveError, match="n_perm"):
        wor_epoch_statistics(model, data, w, eta=eta, batch_size=B, n_perm=1)
