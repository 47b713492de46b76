"""Exact posteriors, stationary moments of the samplers, first-order theory and Fokker-Planck
models of the samplers.

For N = 6 samples in batches of B = 2 every WR batch (15) and every WOR epoch order (720) can be
enumerated, so the second-moment maps are computed *exactly* by brute force and compared with
the solvers of fpsolve.learning.posteriors.  Statistical tests are seeded; each states its
false-failure rate over random seeds.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import fpsolve as fp
from fpsolve.errors import FpsolveError, FpsolveWarning, ModelError
from fpsolve.learning import LinearRegression
from fpsolve.learning.theory import _kernels as ks
from fpsolve.learning.diagnostics import gaussian_kl
from fpsolve.learning.posteriors import (
    first_order_bias,
    gaussian_posterior,
    grid_posterior,
    linearize,
    moment_errors,
    sampler_fokker_planck_model,
    stationary_moments,
)
from fpsolve.learning.dynamics.samplers import sample
from fpsolve import derive_key
from fpsolve.learning.theory import minibatch_diffusion
from fpsolve.learning.theory.wor import wor_effective_loss

EPS = np.finfo(float).eps


def regression(N=6, d=2, seed=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, d)) * rng.uniform(0.3, 2.0, size=(N, 1))
    return (x, x @ np.linspace(1, -1, d) + rng.normal(size=N)), LinearRegression(d, s=1.0)


def kron_second_moment(maps, affine, noise):
    """Stationary (m, cov) of x' = Phi x + u + N(0, Q) with (Phi, u, Q) uniform over ``maps``."""
    Phi, u, Q = (np.array(v) for v in (maps, affine, noise))
    d = Phi.shape[1]
    m = np.linalg.solve(np.eye(d) - Phi.mean(0), u.mean(0))
    K = np.mean([np.kron(P, P) for P in Phi], axis=0)
    rhs = (np.einsum("nab,b,nc->ac", Phi, m, u) / len(u))
    rhs = rhs + rhs.T + np.einsum("na,nb->ab", u, u) / len(u) + Q.mean(0)
    S2 = np.linalg.solve(np.eye(d * d) - K, rhs.reshape(-1)).reshape(d, d)
    return m, S2 - np.outer(m, m)


def epoch_enumeration(lin, eta, b):
    """Epoch maps of all N! orders (the exact SGWORLD epoch-end law)."""
    N, d = lin.q.shape
    maps, aff, noise = [], [], []
    for perm in itertools.permutations(range(N)):
        Phi, u, Q = np.eye(d), np.zeros(d), np.zeros((d, d))
        for k in range(N // b):
            idx = list(perm[k * b:(k + 1) * b])
            A = np.eye(d) - eta * lin.h[idx].mean(0)
            Phi, u, Q = A @ Phi, A @ u - eta * lin.q[idx].mean(0), A @ Q @ A.T + 2 * eta * np.eye(d)
        maps.append(Phi)
        aff.append(u)
        noise.append(Q)
    return maps, aff, noise


# --------------------------------------------------------------------------- exact moments
def test_ula_is_sgld_with_full_batches_and_matches_closed_form():
    data, model = regression()
    post = gaussian_posterior(model, data)
    ula = stationary_moments("ula", model, data, eta=1e-3)
    full = stationary_moments("sgld", model, data, eta=1e-3, batch_size=6)     # kappa = 0
    H = post.precision
    np.testing.assert_allclose(ula.cov, np.linalg.inv(H - 0.5e-3 * H @ H), rtol=1e-12)
    np.testing.assert_allclose(full.cov, ula.cov, rtol=1e-10)
    assert ula.method == "closed form" and full.method == "exact"


@pytest.mark.parametrize("name", ["sgld", "sgldcv"])
def test_wr_moments_equal_batch_enumeration(name):
    """All 15 batches of 2 out of 6: E[A (x) A] and the noise exactly; solve; compare."""
    data, model = regression()
    lin = linearize(name, model, data)
    eta, d = 0.02 / np.linalg.eigvalsh(lin.H)[-1], 2
    maps, aff, noise = [], [], []
    for idx in itertools.combinations(range(6), 2):
        idx = list(idx)
        maps.append(np.eye(d) - eta * lin.h[idx].mean(0))
        aff.append(-eta * lin.q[idx].mean(0))
        noise.append(2 * eta * np.eye(d))
    m, cov = kron_second_moment(maps, aff, noise)
    got = stationary_moments(name, model, data, eta=eta, batch_size=2)
    np.testing.assert_allclose(got.mean - lin.w, m, atol=1e-12 * np.abs(lin.w).max())
    # brute force solves for the full covariance (not the deviation): 1e-12 relative
    np.testing.assert_allclose(got.cov, cov, rtol=1e-9, atol=1e-12 * np.abs(cov).max())
    assert name != "sgldcv" or np.abs(lin.q).max() < 1e-9 * np.abs(lin.h).max()


def test_epoch_map_kernel_equals_numpy_product():
    data, model = regression()
    lin = linearize("sgworld", model, data)
    key, eta, N, d = derive_key(4), 0.01, 6, 2
    out = [np.empty((3, d, d)) for _ in range(4)]
    ups, S = np.empty((3, d)), np.empty((3, d))
    ks.epoch_maps(lin.h.reshape(N, d * d).copy(), lin.q.copy(), lin.H.reshape(-1).copy(), eta, 2,
                  key, 5, out[0], ups, out[1], out[2], out[3], S)
    pool = np.empty(N, dtype=np.int64)
    for j in range(3):
        ks.wor_shuffle(key, 0, 5 + j, N, pool)
        maps, aff, noise = epoch_enumeration_one(lin, eta, 2, pool)
        # O(1) quantities after three steps: a few ulp
        np.testing.assert_allclose(out[0][j], maps, rtol=0, atol=1e-14)
        np.testing.assert_allclose(ups[j], aff, rtol=0, atol=1e-14 * np.abs(lin.q).max())
        np.testing.assert_allclose(out[1][j], noise, rtol=1e-13)


def test_phase_moment_kernel_equals_numpy_recursion():
    data, model = regression()
    lin = linearize("sgworld", model, data)
    key, eta, N, d = derive_key(8), 0.01, 6, 2
    m, s0 = np.array([0.1, -0.2]), np.array([[0.3, 0.05], [0.05, 0.2]])
    mu_sum, m_sum = np.empty((2, d)), np.empty((2, d, d))
    ks.phase_moments(lin.h.reshape(N, d * d).copy(), lin.q.copy(), eta, 2, key, 3, m, s0, mu_sum,
                     m_sum)
    pool = np.empty(N, dtype=np.int64)
    for j in range(2):
        ks.wor_shuffle(key, 0, 3 + j, N, pool)
        mu, M, sums = m.copy(), s0.copy(), [np.zeros(d), np.zeros((d, d))]
        for k in range(3):
            sums[0], sums[1] = sums[0] + mu, sums[1] + M
            idx = list(pool[2 * k:2 * k + 2])
            A, u = np.eye(d) - eta * lin.h[idx].mean(0), -eta * lin.q[idx].mean(0)
            M = A @ M @ A.T + np.outer(A @ mu, u) + np.outer(u, A @ mu) + np.outer(u, u) \
                + 2 * eta * np.eye(d)
            mu = A @ mu + u
        # O(1) sums of three steps: a few ulp
        np.testing.assert_allclose(mu_sum[j], sums[0], rtol=1e-13)
        np.testing.assert_allclose(m_sum[j], sums[1], rtol=1e-13)


def epoch_enumeration_one(lin, eta, b, perm):
    d = lin.q.shape[1]
    Phi, u, Q = np.eye(d), np.zeros(d), np.zeros((d, d))
    for k in range(len(perm) // b):
        idx = list(perm[k * b:(k + 1) * b])
        A = np.eye(d) - eta * lin.h[idx].mean(0)
        Phi, u, Q = A @ Phi, A @ u - eta * lin.q[idx].mean(0), A @ Q @ A.T + 2 * eta * np.eye(d)
    return Phi, u, Q


def test_sgworld_monte_carlo_agrees_with_all_720_orders():
    data, model = regression()
    lin = linearize("sgworld", model, data)
    eta = 0.03 / np.linalg.eigvalsh(lin.H)[-1]
    m, cov = kron_second_moment(*epoch_enumeration(lin, eta, 2))
    se = {}
    for cv in (False, True):
        got = stationary_moments("sgworld", model, data, eta=eta, batch_size=2, n_perm=4096,
                                 rng=2, control_variates=cv)
        mc, cc = got.replicates
        se[cv] = np.sqrt(7 / 8 * ((cc - cc.mean(0))**2).sum(0))
        ms = np.sqrt(7 / 8 * ((mc - mc.mean(0))**2).sum(0))
        # jackknife errors (8 groups: the SE itself is uncertain by ~25 %): |z| < 5 fails
        # with probability < 1e-4 per entry
        assert np.all(np.abs(got.cov - cov) <= 5 * se[cv] + 1e-14)
        assert np.all(np.abs(got.mean - lin.w - m) <= 5 * ms + 1e-14)
    # the control variates remove the O(eta^2) fluctuations (here a factor ~ 20)
    assert np.all(se[True] < 0.2 * se[False])


def test_first_order_theory_is_the_small_eta_limit():
    """(P - Sigma) / eta -> X and (m - w*) / eta -> m1 at O(eta): the error halves with eta."""
    data, model = regression()
    lin = linearize("sgworld", model, data)
    lam = np.linalg.eigvalsh(lin.H)[-1]
    for name in ("ula", "sgld", "sgldcv", "sgworld"):
        m1, X = first_order_bias(name, model, data, batch_size=2)
        errs = []
        for r in (1e-3, 5e-4):
            eta = r / lam
            if name == "sgworld":
                m, cov = kron_second_moment(*epoch_enumeration(lin, eta, 2))
                m = m + lin.w
            else:
                mo = stationary_moments(name, model, data, eta=eta, batch_size=2)
                m, cov = mo.mean, mo.cov
            errs.append(np.abs((cov - lin.cov) / eta - X).max() / np.abs(X).max()
                        + np.abs((m - lin.w) / eta - m1).max() / (np.abs(m1).max() + 1e-300))
        # O(eta) remainder: halving eta halves it (ratio 2 up to O(eta) itself)
        assert errs[0] < 0.01 and 1.8 < errs[0] / errs[1] < 2.2, (name, errs)


def test_sgworld_lowers_the_multiplicative_bias_in_one_dimension():
    """d = 1: X = 1/2 -+ kappa Var(h) / (2 H^2) for SGLDCV (+) and SGWORLD (-)."""
    data, model = regression(N=8, d=1, seed=1)
    lin = linearize("sgworld", model, data)
    v = (lin.h[:, 0, 0] ** 2).mean() - lin.H[0, 0] ** 2
    k = (8 - 2) / (2 * 7)
    assert first_order_bias("sgworld", model, data, batch_size=2)[1][0, 0] == pytest.approx(
        0.5 - k * v / (2 * lin.H[0, 0] ** 2), rel=1e-10)
    assert first_order_bias("sgldcv", model, data, batch_size=2)[1][0, 0] == pytest.approx(
        0.5 + k * v / (2 * lin.H[0, 0] ** 2), rel=1e-10)


def test_simulated_chains_match_the_exact_moments():
    """SGLD and SGWORLD (both records) simulated: sample covariance vs stationary_moments.

    N = 20, d = 2, eta lambda_max = 0.1 (R eta lambda = 0.5); 4 chains of 6e4 epochs give
    ESS ~ 4e4 (measured), a relative standard error ~ 0.7 % on variances: 4 % (~5.7 SE) fails
    with probability < 1e-7 per entry.
    """
    data, model = regression(N=20, seed=5)
    lam = np.linalg.eigvalsh(gaussian_posterior(model, data).precision)[-1]
    eta = 0.1 / lam
    for name, record in (("sgld", "epoch"), ("sgworld", "epoch"), ("sgworld", "step")):
        mo = stationary_moments(name, model, data, eta=eta, batch_size=4, record=record,
                                n_perm=2048, rng=3)
        res = sample(name, model, data, eta=eta, batch_size=4, n_epochs=60000, burn_in=100,
                     n_chains=4, rng=11, record=record, thin=1 if record == "epoch" else 3,
                     warn=False)
        assert res.ess.min() > 3e4
        C = res.cov()
        assert np.all(np.abs(np.diag(C) / np.diag(mo.cov) - 1) < 0.04), (name, record, C,
                                                                         mo.cov)
    # the epoch-end covariance of SGWORLD is much closer to the posterior than SGLD's
    post = gaussian_posterior(model, data)
    errs = {n: moment_errors(stationary_moments(n, model, data, eta=eta, batch_size=4, rng=1),
                             post)["rel_cov_error"] for n in ("sgld", "sgworld")}
    assert errs["sgworld"] < errs["sgld"] / 2


def test_moment_errors_and_bad_input():
    data, model = regression()
    post = gaussian_posterior(model, data)
    mo = stationary_moments("sgld", model, data, eta=1e-3, batch_size=2)
    e = moment_errors(mo, post)
    assert e["kl"] == pytest.approx(gaussian_kl(mo.mean, mo.cov, post.mean, post.cov))
    assert e["kl_se"] == 0.0 and e["mean_error"] < 1e-9
    lam = np.linalg.eigvalsh(post.precision)[-1]
    with pytest.raises(FpsolveError, match="eta.*diverge"):
        stationary_moments("ula", model, data, eta=2.5 / lam)
    with pytest.raises(FpsolveError, match="second moments"):
        stationary_moments("sgld", model, data, eta=1.99 / lam, batch_size=1)
    with pytest.raises(FpsolveError, match="n_perm"):
        stationary_moments("sgworld", model, data, eta=1e-3, batch_size=2, n_perm=8)
    with pytest.raises(FpsolveError, match="record"):
        stationary_moments("sgld", model, data, eta=1e-3, batch_size=2, record="epochs")
    with pytest.raises(ModelError, match="divide"), pytest.warns(FpsolveWarning, match="drop"):
        first_order_bias("sgworld", model, data, batch_size=4)


# --------------------------------------------------------------------------- grids
def test_grid_posterior_of_a_gaussian_is_exact_to_quadrature_error():
    data, model = regression(N=20)
    post = gaussian_posterior(model, data)
    sd = np.sqrt(np.diag(post.cov))
    errs = []
    for n in (24, 48):
        grid = fp.CartesianGrid([(m - 7 * s, m + 7 * s) for m, s in zip(post.mean, sd)], (n, n))
        p = grid_posterior(model, data, grid)
        x = np.moveaxis(grid.cell_centers(), 0, -1) - post.mean
        exact = np.exp(-0.5 * np.einsum("...i,ij,...j->...", x, post.precision, x)) / (
            2 * np.pi * np.sqrt(np.linalg.det(post.cov)))
        assert p.sum() * grid.cell_volume == pytest.approx(1.0, abs=1e-12)
        errs.append(np.abs(p - exact).sum() * grid.cell_volume)
    # the midpoint rule on a smooth integrand decaying to e^-24 at the walls converges
    # faster than any power of h: both grids are exact to ~1e-11
    assert max(errs) < 1e-9


def test_sampler_fokker_planck_models():
    data, model = regression(N=20)
    post = gaussian_posterior(model, data)
    sd, B = np.sqrt(np.diag(post.cov)), 4
    eta = 0.05 / np.linalg.eigvalsh(post.precision)[-1]
    grid = fp.CartesianGrid([(m - 6 * s, m + 6 * s) for m, s in zip(post.mean, sd)], (40, 40))
    # ULA's model: drift -eta grad L, D = eta I: exactly the Boltzmann density, zero current
    res = fp.solve_stationary(fp.FokkerPlanckOperator(
        grid, sampler_fokker_planck_model("ula", model, data, grid, eta=eta)))
    p = grid_posterior(model, data, grid)
    assert np.abs(res.p - p).max() < 1e-9 * p.max()
    # SGLD's diffusion is eta I + minibatch_diffusion at every cell
    sgld = sampler_fokker_planck_model("sgld", model, data, grid, eta=eta, batch_size=B)
    x = grid.cell_centers()
    D = sgld.diffusion_tensor(x)
    w = x[:, 7, 11]
    np.testing.assert_allclose(D[:, :, 7, 11], eta * np.eye(2) + minibatch_diffusion(
        model, data, w, eta=eta, batch_size=B), rtol=1e-12)
    with pytest.raises(ModelError, match="tabulated"):
        sgld.diffusion_tensor(x[:, :3])
    # SGWORLD's drift is -eta grad L_eff (grid differences of tr Sigma_g: O(h^2), quadratic
    # in w here, so exact up to round-off of the O(eta) correction)
    wor = sampler_fokker_planck_model("sgworld", model, data, grid, eta=eta, batch_size=B)
    h = 1e-5 * sd
    g = [(wor_effective_loss(model, data, w + h[a] * np.eye(2)[a], eta=eta, batch_size=B)
          - wor_effective_loss(model, data, w - h[a] * np.eye(2)[a], eta=eta, batch_size=B))
         / (2 * h[a]) for a in range(2)]
    np.testing.assert_allclose(wor.drift[:, 7, 11], -eta * np.array(g), rtol=1e-6)
    # stationary states: SGLD carries a current, SGWORLD is at equilibrium to O(eta^4)
    epr = {}
    for name, fpm in (("sgld", sgld), ("sgworld", wor)):
        epr[name] = fp.entropy_production_rate(
            fp.solve_stationary(fp.FokkerPlanckOperator(grid, fpm)))
    assert epr["sgld"] > 0 and epr["sgworld"] < 1e-2 * epr["sgld"]
