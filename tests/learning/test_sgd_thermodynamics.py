"""Stochastic thermodynamics of stationary SGD: the pipeline of fpsolve.learning.studies.

A tiny version of the validation cases ``regression-wr``/``regression-wor`` on linear regression
with heterogeneous inputs (N = 40, d = 3, B = 10): per-sample Hessians differ, so H and D do
not commute and the stationary state carries a current.  The Gaussian theory is exact here up
to the multiplicative noise ``(H_B - H) x`` and the non-Gaussian minibatch noise.  Measured
at ``eta lambda_max = 0.05`` with B = 5: the first moves the mean entropy production by 0.2 %,
the second biases the single-step IFT by 5 % of <dS> and tilts the single-step DFT slope to
0.85; the IFT bias scales like eta^2, so at the ``eta lambda_max = 0.0125`` (and B = 10) used
here both are far below the standard errors.

Stochastic tests are seeded; each states its standard error and false-failure rate.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from fpsolve.errors import FpsolveError
from fpsolve.learning import Dataset, LinearRegression
from fpsolve.learning.theory.estimators import area_velocity, entropy_production_windows
from fpsolve.learning.studies import (
    RegressionProblem,
    diffusion_agreement,
    loglog_slope,
    stationary_chunks,
    stationary_run,
    step_entropy_forms,
    wr_stationary_shift,
)
from fpsolve.learning.theory import find_minimum, gaussian_theory
from fpsolve.stochastic.fluctuation import fluctuation_test
from linear_chains import chain

ETA_LAMBDA = 0.0125       # eta * largest Hessian eigenvalue
CHUNK, N_CHUNKS, N_CHAINS = 2**14, 4, 64


def linear_problem(N=40, d=3, B=10, seed=1) -> RegressionProblem:
    """``l_i = (N/2)[(a_i . w - y_i)^2 + lam |w|^2]`` with input scales uniform in [0.3, 2]."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, d)) * rng.uniform(0.3, 2.0, size=(N, 1))
    data = Dataset(x, x @ rng.normal(size=d) + 0.5 * rng.normal(size=N))
    model = LinearRegression(d, s=1.0)
    return RegressionProblem(model, data, find_minimum(model, data, np.zeros(d)), B)


@pytest.fixture(scope="module")
def stationary():
    """4.2e6 stationary SGD steps (64 chains from the minimum after 10 relaxation times)."""
    problem = linear_problem()
    lam = np.linalg.eigvalsh(problem.H)
    eta = ETA_LAMBDA / lam[-1]
    th = problem.theory(eta)
    forms = step_entropy_forms(th)
    long_window = int(2 ** np.round(np.log2(1 / th.entropy_production)))   # <dS> ~ 1
    entropy = {"exact": (*forms["exact"], (1, 2, 3, long_window), None),
               "midpoint": (*forms["midpoint"], (1,), 1)}
    chunks = stationary_chunks(problem, eta=eta, n_chains=N_CHAINS, chunk=CHUNK, rng=7,
                               burn_in=int(10 / (eta * lam[0])), n_steps=N_CHUNKS * CHUNK)
    run = stationary_run(problem, chunks, n_chunks=N_CHUNKS, entropy=entropy,
                         max_samples=10**6)
    return problem, th, forms, run, long_window


# ----------------------------------------------------------------------------- exact identities


H2 = np.array([[1.0, 0.3], [0.3, 2.0]])
D2 = np.array([[1.0, -0.4], [-0.4, 0.5]]) * 1e-3


@pytest.mark.parametrize("form", ["exact", "midpoint", "prepoint"])
def test_step_forms_reproduce_the_estimator(form):
    th = gaussian_theory(H2, D2, 0.05)
    K, c = step_entropy_forms(th)[form]
    X = chain(th, 50, 3, seed=0) + 0.7            # any center: the forms see x = w - center
    ref = entropy_production_windows(X, th, window=1, form=form, center=[0.7, 0.7])
    x, dx = X[:-1] - 0.7, np.diff(X, axis=0)
    u = np.concatenate([x, dx], axis=-1)
    mine = np.einsum("tci,ij,tcj->tc", u, K, u) + c
    # polarization and the quadratic form lose a few digits to cancellation (values ~ 1)
    np.testing.assert_allclose(mine, ref, rtol=0, atol=1e-9)


def test_stationary_run_agrees_with_direct_estimators():
    """Moments and windows accumulated over chunks equal the estimators on the whole path."""
    th = gaussian_theory(H2, D2, 0.05)
    X = chain(th, 600, 4, seed=1)
    problem = SimpleNamespace(w=np.zeros(2))        # stationary_run reads the center only
    forms = step_entropy_forms(th, forms=("exact",))
    chunks = [X[:301], X[300:]]                      # chunks share their end points
    run = stationary_run(problem, chunks, n_chunks=2,
                         entropy={"exact": (*forms["exact"], (1, 3), None)}, max_samples=10**9)
    np.testing.assert_allclose(run.area_velocity()[0], area_velocity(X, center=[0, 0]),
                               rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose(run.mean()[0], X[:-1].reshape(-1, 2).mean(axis=0), rtol=1e-12)
    for k in (1, 3):
        ref = np.concatenate([entropy_production_windows(c, th, window=k) for c in chunks])
        w = run.windows[("exact", k)]
        assert w.n == ref.size
        np.testing.assert_allclose(np.sort(w.samples), np.sort(ref.ravel()), atol=1e-9)
        assert np.isclose(w.ift, np.exp(-ref).mean(), rtol=1e-9)
    m, _ = run.mean_quadratic(*forms["exact"])
    assert abs(m - entropy_production_windows(X, th, window=1).mean()) < 1e-9


def test_wr_shift_vanishes_for_quadratic_losses():
    """Constant Hessian: the WR stationary mean stays at the minimum exactly."""
    problem = linear_problem()
    shift = wr_stationary_shift(problem, np.eye(3) * 1e-4)
    np.testing.assert_array_equal(shift, 0.0)


def test_loglog_slope_and_bad_chunks():
    x = np.array([1.0, 2.0, 4.0, 8.0])
    slope, se = loglog_slope(x, 3 * x**2.5)
    assert np.isclose(slope, 2.5, rtol=1e-12) and se < 1e-10
    with pytest.raises(FpsolveError, match="chunk"):
        next(stationary_chunks(linear_problem(), eta=1e-4, n_chains=1, burn_in=0, n_steps=10,
                               chunk=3))


def test_diffusion_agreement_standard_errors():
    problem = linear_problem()
    r = diffusion_agreement(problem, 1e-4, n=20_000, rng=3)
    z = (r["D_emp"] - r["D"]) / r["stderr"]
    # 6 independent entries, each |z| > 4.5 with probability 7e-6
    assert np.abs(z).max() < 4.5
    assert np.allclose(np.diag(r["corr"]), 1.0)


# ----------------------------------------------------------------------------- stationary SGD
def test_mean_entropy_production_matches_theory(stationary):
    _problem, th, forms, run, _ = stationary
    for form in ("exact", "midpoint"):
        m, se = run.mean_quadratic(*forms[form])
        # se ~ 3.5 % of the mean (between-chain spread of 64 chains); |z| > 4: 6e-5
        assert abs(m - th.entropy_production_exact) < 4 * se, (form, m, se)
        assert se < 0.05 * m
    # the window sums give the same mean (windows of one step pool every step)
    assert np.isclose(run.windows[("exact", 1)].mean, run.mean_quadratic(*forms["exact"])[0],
                      rtol=1e-9)


def test_covariance_and_area_velocity_match_theory(stationary):
    _problem, th, _forms, run, _ = stationary
    S, S_se = run.covariance()
    A, A_se = run.area_velocity()
    # between-chain standard errors; 6 + 3 entries, |z| > 4.5 each with probability 7e-6
    assert np.abs((S - th.Sigma_disc) / S_se).max() < 4.5
    off = ~np.eye(3, dtype=bool)
    assert np.abs((A - th.C_disc)[off] / A_se[off]).max() < 4.5
    assert np.linalg.norm(th.C_disc) > 0.05 * np.linalg.norm(
        0.5 * th.eta * (th.H @ th.Sigma_disc + th.Sigma_disc @ th.H))   # a real circulation
    mean, mean_se = run.mean()
    assert np.abs(mean / mean_se).max() < 4.5   # quadratic loss: no WR mean shift


def test_fluctuation_theorems_hold(stationary):
    _problem, _th, _forms, run, long_window = stationary
    for k in (1, 2, 3):
        w = run.windows[("exact", k)]
        # E[exp(-sigma_n) | x_n] = 1: the plain standard error is right; |z| > 4: 6e-5
        assert abs(w.ift - 1) < 4 * w.ift_stderr, (k, w.ift, w.ift_stderr)
        res = fluctuation_test(w.samples, n_bootstrap=0)
        assert abs(res.ift_z) < 4
    w = run.windows[("exact", long_window)]
    assert 0.5 < w.mean < 2                          # windows with <dS> ~ 1
    res = fluctuation_test(w.samples, n_bootstrap=0)
    assert abs(res.ift_z) < 4
    # DFT slope of ~4000 windows has stderr ~0.06: |slope - 1| > 4 stderr with probability 6e-5
    assert abs(res.dft_slope.value - 1) < 4 * res.dft_slope.stderr
    assert res.dft_slope.stderr < 0.1
    mid = run.windows[("midpoint", 1)]
    assert abs(mid.ift - 1) < 4 * mid.ift_stderr + 0.03 * mid.mean   # midpoint IFT: O(eta)
