"""Trajectory estimators (learning.theory.estimators): the regrouped entropy production against
a direct computation from Gaussian log densities, streaming over chunks, strides (SGDResult and
bare arrays) and the expansion point."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from fpsolve.errors import SolverError
from fpsolve.learning import Dataset, LinearRegression, sgd
from fpsolve.learning.theory.estimators import (EntropyProductionStream, area_velocity,
                                         entropy_production_windows)
from fpsolve.learning.theory import (find_minimum, gaussian_theory, minibatch_diffusion,
                                     reduced_gaussian_theory)
from fpsolve.linear import symmetric_chain_entropy_production
from linear_chains import chain

H2 = np.array([[1.0, 0.3], [0.3, 2.0]])
D2 = np.array([[1.0, -0.4], [-0.4, 0.5]])
ETA = 0.1


def thinned_kernel(th, s):
    """``M^s`` and ``Q_s = sum_{k<s} M^k (2D) M^k`` by direct summation."""
    M = np.eye(th.H.shape[0]) - th.eta * th.H
    Qs = sum(np.linalg.matrix_power(M, k) @ (2 * th.D) @ np.linalg.matrix_power(M, k)
             for k in range(s))
    return np.linalg.matrix_power(M, s), Qs


def direct(X, th, s, window):
    """``ln p(x_0) - ln p(x_end) + sum ln P(x'|x) / P(x|x')`` from scipy's Gaussian logpdf."""
    Ms, Qs = thinned_kernel(th, s)
    logp = multivariate_normal(np.zeros(2), th.Sigma_disc).logpdf
    kern = multivariate_normal(np.zeros(2), Qs).logpdf
    out = []
    for w0 in range(0, X.shape[0] - window, window):
        seg = X[w0:w0 + window + 1]
        med = sum(kern(seg[t + 1] - seg[t] @ Ms) - kern(seg[t] - seg[t + 1] @ Ms)
                  for t in range(window))
        out.append(logp(seg[0]) - logp(seg[-1]) + med)
    return np.array(out)


@pytest.mark.parametrize("stride, window", [(1, 1), (1, 4), (5, 1), (5, 3)])
def test_regrouped_exact_form_equals_the_direct_log_ratio(stride, window):
    th = gaussian_theory(H2, ETA**2 * D2, ETA)
    X = chain(th, 60 * stride, 3, seed=stride)[::stride]
    got = entropy_production_windows(X, th, window=window, stride=stride)
    ref = np.stack([direct(X[:, c], th, stride, window) for c in range(3)], axis=-1)
    # values ~ 1 from log densities ~ 1 / (eta lambda) = 10: a few hundred ulps of cancellation
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-11)


def test_stream_equals_the_function_across_chunks():
    th = reduced_gaussian_theory(H2, ETA**2 * D2, ETA, w=[0.5, -1.0])
    W = th.w + th.coordinates(chain(th, 90, 4, seed=3), center=0.0) @ th.basis.T
    acc = EntropyProductionStream(th, windows=(1, 3))
    for a, b in ((0, 30), (30, 60), (60, 90)):        # chunks share their end points
        acc.add(W[a:b + 1])
    for k in (1, 3):
        ref = np.concatenate([entropy_production_windows(W[a:a + 31], th, window=k)
                              for a in (0, 30, 60)])
        np.testing.assert_allclose(acc.window_samples(k), ref, rtol=0, atol=1e-12)  # same ops
    whole = entropy_production_windows(W, th, window=90)[0] / 90
    np.testing.assert_allclose(acc.chain_rates(), whole, rtol=0, atol=1e-13)
    assert acc.steps == 90


def test_thinned_records_are_refused_and_their_stride_is_used():
    """The case that read 0.1155 "per step" against 0.0031: records every 37 steps."""
    th = gaussian_theory(H2, 0.05**2 * D2, 0.05)
    X = chain(th, 37 * 400, 16, seed=4)
    with pytest.raises(SolverError, match="stride: .*thinned"):
        entropy_production_windows(X[::37], th)
    res = SimpleNamespace(w=X[::37], record_every=37, steps=np.arange(0, X.shape[0], 37))
    sigma = entropy_production_windows(res, th, center=np.zeros(2))
    np.testing.assert_array_equal(sigma, entropy_production_windows(X[::37], th, stride=37))
    Ms, Qs = thinned_kernel(th, 37)
    expected = symmetric_chain_entropy_production(Ms, Qs, th.Sigma_disc)
    per_chain = sigma.mean(axis=0)
    se = per_chain.std(ddof=1) / np.sqrt(per_chain.size)
    # 4 standard errors (chains independent): false-failure rate 6e-5
    assert abs(per_chain.mean() - expected) < 4 * se
    # coarse graining loses irreversibility: the thinned chain produces less than 37 steps
    assert expected < 37 * th.entropy_production_exact
    with pytest.raises(SolverError, match="stride: the result records every 37"):
        entropy_production_windows(res, th, stride=1, center=np.zeros(2))
    with pytest.raises(SolverError, match="form: 'midpoint' needs records of every step"):
        entropy_production_windows(X[::37], th, stride=37, form="midpoint")


def test_sgd_result_brings_its_stride_and_needs_a_minimum():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(40, 2)) * rng.uniform(0.3, 2.0, size=(40, 1))
    data = Dataset(x, x @ [1.0, -0.5] + 0.5 * rng.normal(size=40))
    model = LinearRegression(2, s=1.0)
    m = find_minimum(model, data, np.zeros(2))
    eta = 0.05 / np.linalg.eigvalsh(m.H)[-1]
    D = minibatch_diffusion(model, data, m.w, eta=eta, batch_size=10)
    res = sgd(model, data, m.w, eta=eta, batch_size=10, n_steps=4000, record_every=8,
              n_chains=4, rng=2)
    with pytest.raises(SolverError, match="center: an SGDResult"):
        entropy_production_windows(res, gaussian_theory(m.H, D, eta))
    th = gaussian_theory(m.H, D, eta, w=m.w)
    sigma = entropy_production_windows(res, th)          # stride 8 from the result
    assert sigma.shape == (500, 4) and np.all(np.isfinite(sigma))
    with pytest.raises(SolverError, match="stride: .*thinned"):
        entropy_production_windows(res.w, th)             # the bare records look like 1 step
    np.testing.assert_array_equal(area_velocity(res), area_velocity(res.w, stride=8))


def test_center_defaults_to_the_minimum_and_area_velocity_to_the_mean():
    th = gaussian_theory(H2, ETA**2 * D2, ETA)
    X = chain(th, 40, 2, seed=6)
    shifted = gaussian_theory(H2, ETA**2 * D2, ETA, w=[3.0, -2.0])
    np.testing.assert_allclose(entropy_production_windows(X + [3.0, -2.0], shifted),
                               entropy_production_windows(X, th), rtol=0, atol=1e-12)
    A = area_velocity(X)
    m = X.reshape(-1, 2).mean(axis=0)
    np.testing.assert_array_equal(A, area_velocity(X, center=m))
    np.testing.assert_array_equal(area_velocity(X, stride=4), A / 4)
    with pytest.warns(DeprecationWarning, match="mean="):
        old = area_velocity(X, mean=m)
    np.testing.assert_array_equal(old, A)
