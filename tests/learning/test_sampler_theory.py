"""Theory of the step rules beyond Euler (fpsolve.learning.theory.sampler_schemes).

For N = 6 samples in batches of B = 2 all 720 epoch orders are enumerated with the serial kernel
``scheme_epoch_map`` (explicit permutations, independent of the random-number layout), so the
stationary moments of every rule are computed *exactly*; they check the closed forms, the
control-variate means, the first-order theory, the fitted bias orders and the Monte Carlo of
``stationary_moments``.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from fpsolve.errors import FpsolveError, ModelError
from fpsolve.learning import LinearRegression
from fpsolve.learning.theory import _kernels as ks
from fpsolve.learning import sampler_schemes as sch
from fpsolve.learning.posteriors import first_order_bias, linearize, stationary_moments
from fpsolve.learning.dynamics.samplers import SGWORLD

PERMS = np.array(list(itertools.permutations(range(6))), dtype=np.int64)
RULES = {"lm": sch.StepRule("wor", noise="lm"), "pal": sch.StepRule("wor-palindromic"),
         "mp": sch.StepRule("wor", step="midpoint"),
         "mp-pal": sch.StepRule("wor-palindromic", step="midpoint")}


def regression(N=6, d=2, seed=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, d)) * rng.uniform(0.3, 2.0, size=(N, 1))
    return (x, x @ np.linspace(1, -1, d) + rng.normal(size=N)), LinearRegression(d, s=1.0)


def enumerate_sums(lin, eta, b, rule, order):
    """``_sums`` of sampler_schemes over all 720 orders, from the serial kernel."""
    N, d = lin.q.shape
    h, q, hb = lin.h.reshape(N, d * d).copy(), lin.q.copy(), lin.H.reshape(-1).copy()
    n = len(PERMS)
    out = {k: np.empty((n, d, d)) for k in ("phi", "Q", "T", "J")}
    out.update(ups=np.empty((n, d)), S=np.empty((n, d)))
    coef = np.array(rule.coefficients)
    for j, pool in enumerate(PERMS):
        ks.scheme_epoch_map(h, q, hb, eta, b, pool, order, coef, out["phi"][j], out["ups"][j],
                            out["Q"][j], out["T"][j], out["J"][j], out["S"][j])
    sums = {k: v.sum(axis=0) for k, v in out.items()}
    phi, ups = out["phi"], out["ups"]
    sums.update(K=np.einsum("nij,nkl->ikjl", phi, phi).reshape(d * d, d * d),
                UU=ups.T @ ups, PU=np.einsum("nab,nc->abc", phi, ups), n=n)
    return sums


def exact_moments(lin, eta, rule, b=2):
    """Epoch-end deviation mean and covariance of ``rule`` over all orders (no Monte Carlo)."""
    order = rule.order(lin.q.shape[0] // b)
    pal = rule.schedule == "wor-palindromic"
    pair = enumerate_sums(lin, eta, b, rule, order)
    fwd = enumerate_sums(lin, eta, b, rule, order[: order.size // 2]) if pal else None
    return sch._estimate(pair, fwd, (None, None), eta, False, rule)


def test_kernel_equals_numpy_products():
    data, model = regression()
    lin = linearize("sgworld", model, data)
    eta, d, rule = 0.05, 2, RULES["mp-pal"]
    alpha, gamma, beta, zeta = rule.coefficients
    pool, order = PERMS[100], rule.order(3)
    got = [np.empty((d, d)), np.empty(d), np.empty((d, d)), np.empty((d, d)), np.empty((d, d)),
           np.empty(d)]
    ks.scheme_epoch_map(lin.h.reshape(6, 4).copy(), lin.q.copy(), lin.H.reshape(-1).copy(), eta,
                        2, pool, order, np.array(rule.coefficients), *got)
    Phi, u, Q, I = np.eye(d), np.zeros(d), np.zeros((d, d)), np.eye(d)
    for k in order:
        Hk, qk = lin.h[pool[2 * k:2 * k + 2]].mean(0), lin.q[pool[2 * k:2 * k + 2]].mean(0)
        A, G = I - eta * Hk + alpha * eta**2 * Hk @ Hk, I - 0.25 * beta * eta * Hk
        Phi, u = A @ Phi, A @ u - eta * qk + gamma * eta**2 * Hk @ qk
        Q = A @ Q @ A.T + 2 * eta * G @ G.T + 0.5 * zeta * eta**3 * Hk @ Hk
    # O(1) products of six steps: a few ulp
    for a, b in zip(got[:3], (Phi, u, Q)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-14 * max(1.0, np.abs(b).max()))


@pytest.mark.parametrize("rule", [sch.StepRule("wor"), RULES["mp"], RULES["mp-pal"]])
def test_control_variate_means_equal_enumeration(rule):
    """The pair formulas of sampling without replacement give E t and E s exactly."""
    data, model = regression()
    lin = linearize("sgworld", model, data)
    order = rule.order(3)
    sums = enumerate_sums(lin, 0.01, 2, rule, order)
    exp = sch.cv_expectations(lin, rule, 2, order)
    # averages of 720 O(|h|^2) terms: round-off ~ 1e-13 relative
    scale = np.abs(lin.h).max() ** 2
    np.testing.assert_allclose(sums["T"] / 720, exp["T"], rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(sums["S"] / 720, exp["S"], rtol=0,
                               atol=1e-12 * scale * np.abs(lin.q).max())
    np.testing.assert_allclose(sums["J"] / 720, 0, atol=1e-12 * scale)


def test_full_gradient_closed_forms():
    """LM noise is exact for a Gaussian target; the midpoint step is third order; both equal
    the fixed point of the moment recursion ``P = A P A^T + Q`` solved by brute force."""
    H = np.array([[2.0, 0.6], [0.6, 0.5]])
    I, Sigma = np.eye(2), np.linalg.inv(H)
    lm, mp = sch.StepRule("full", noise="lm"), sch.StepRule("full", step="midpoint")
    errs = []
    for eta in (0.05, 0.1):
        np.testing.assert_allclose(sch.full_gradient_covariance(H, eta, lm), Sigma, rtol=1e-12)
        A = I - eta * H + 0.5 * eta**2 * H @ H
        Q = 2 * eta * (I - 0.5 * eta * H) @ (I - 0.5 * eta * H) + 0.5 * eta**3 * H @ H
        P = np.linalg.solve(np.eye(4) - np.kron(A, A), Q.reshape(-1)).reshape(2, 2)
        got = sch.full_gradient_covariance(H, eta, mp)
        # a 4 x 4 solve of condition ~ 1 / (eta lambda_min) ~ 100: 1e-12 relative
        np.testing.assert_allclose(got, P, rtol=1e-12)
        errs.append(np.abs(got - Sigma).max())
    # p = (1 + u^3 / 8 + O(u^4)) / lambda: halving eta divides the error by 8 (+- O(u) = 20 %)
    assert 6.5 < errs[1] / errs[0] < 9.5


@pytest.mark.parametrize("name", ["lm", "pal", "mp", "mp-pal"])
def test_first_order_theory_is_the_small_eta_limit(name):
    """(P - Sigma) / eta -> X and (m - w*) / eta -> m1: the remainder halves with eta."""
    data, model = regression()
    lin, rule = linearize("sgworld", model, data), RULES[name]
    lam = np.linalg.eigvalsh(lin.H)[-1]
    m1, X = first_order_bias("sgworld", model, data, batch_size=2, rule=rule)
    if rule.step == "midpoint":
        assert np.abs(X).max() == 0 and np.abs(m1).max() == 0
    errs = []
    for r in (2e-3, 1e-3):
        eta = r / lam
        m, cov = exact_moments(lin, eta, rule)
        errs.append(np.abs((cov - lin.cov) / eta - X).max() + np.abs(m / eta - m1).max())
    # an O(eta) remainder: ratio 2 up to its own O(eta) correction (10 % margin)
    assert 1.8 < errs[0] / errs[1] < 2.2, errs


def test_fitted_bias_orders():
    """Covariance error slope in eta: 1 for SGWORLD and LM noise, 2 for the midpoint step."""
    data, model = regression()
    lin = linearize("sgworld", model, data)
    lam = np.linalg.eigvalsh(lin.H)[-1]
    etas = np.array([0.005, 0.01, 0.02]) / lam
    for rule, order in ((sch.StepRule("wor"), 1), (RULES["lm"], 1), (RULES["mp"], 2),
                        (RULES["mp-pal"], 2)):
        err = [np.linalg.norm(exact_moments(lin, e, rule)[1] - lin.cov) for e in etas]
        slope = np.polyfit(np.log(etas), np.log(err), 1)[0]
        # next order enters at relative O(eta lambda R) <= 0.06: +- 0.1 on the slope
        assert abs(slope - order) < 0.1, (rule, slope)


@pytest.mark.parametrize("name", ["lm", "mp-pal"])
def test_monte_carlo_agrees_with_all_720_orders(name):
    data, model = regression()
    lin, rule = linearize("sgworld", model, data), RULES[name]
    eta = 0.03 / np.linalg.eigvalsh(lin.H)[-1]
    m, cov = exact_moments(lin, eta, rule)
    got = stationary_moments("sgworld", model, data, eta=eta, batch_size=2, n_perm=2048, rng=2,
                             rule=rule)
    mc, cc = got.replicates
    se_c = np.sqrt(7 / 8 * ((cc - cc.mean(0)) ** 2).sum(0))
    se_m = np.sqrt(7 / 8 * ((mc - mc.mean(0)) ** 2).sum(0))
    # jackknife errors of 8 groups (the SE itself uncertain by ~25 %): |z| < 5 fails with
    # probability < 1e-4 per entry; 1e-14 absorbs entries whose SE is round-off
    assert np.all(np.abs(got.cov - cov) <= 5 * se_c + 1e-14)
    assert np.all(np.abs(got.mean - lin.w - m) <= 5 * se_m + 1e-14)


def test_sampler_attributes_select_the_rule_and_bad_input():
    class Midpoint(SGWORLD):
        name, step = "SGWORLD-MP", "midpoint"

    data, model = regression()
    eta = 1e-3
    a = stationary_moments(Midpoint(), model, data, eta=eta, batch_size=2, n_perm=64)
    b = stationary_moments("sgworld", model, data, eta=eta, batch_size=2, n_perm=64,
                           rule={"step": "midpoint"})
    assert np.array_equal(a.cov, b.cov) and "midpoint" in a.sampler
    assert sch.step_rule(Midpoint()) == RULES["mp"]
    with pytest.raises(FpsolveError, match="noise"):
        sch.StepRule("wor", noise="lm", step="midpoint")
    with pytest.raises(FpsolveError, match="schedule"):
        sch.step_rule("sgworld", rule={"schedule": "palindrome"})
    with pytest.raises(FpsolveError, match="record"):
        stationary_moments(Midpoint(), model, data, eta=eta, batch_size=2, record="step")
    with pytest.raises(FpsolveError, match="rule"):
        stationary_moments("sgld", model, data, eta=eta, batch_size=2, rule={"noise": "lm"})
    with pytest.raises(ModelError, match="divide"):
        stationary_moments(Midpoint(), model, data, eta=eta, batch_size=4)
