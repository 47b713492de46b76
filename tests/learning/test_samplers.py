"""Samplers (ULA, SGLD, SGWORLD, SGLDCV) against NumPy references, diagnostics against closed
forms, and bad input.

References are plain NumPy loops over the same batches (``minibatch_indices``) and normals
(:func:`fpsolve.stochastic.standard_normal`, the one normal stream).  Statistical
tests are seeded; each states its false-failure rate over random seeds.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from fpsolve.errors import FpsolveError, FpsolveWarning
from fpsolve import derive_key
from fpsolve.learning import (
    LinearRegression,
    SoftmaxRegression,
    minibatch_indices,
    sgd,
)
from fpsolve.learning.dynamics import _kernels as ks
from fpsolve.stochastic import standard_normal
from fpsolve.learning.diagnostics import (
    MixingWarning,
    check_mixing,
    effective_sample_size,
    gaussian_kl,
    gaussian_w2,
    histogram_distances,
    relative_covariance_error,
    rhat,
)
from fpsolve.learning.dynamics.samplers import (SGLD, SGLDCV, SGWORLD, ULA, MidpointSGWORLD,
                                               as_sampler, sample)
from fpsolve.learning.posteriors import gaussian_posterior, stationary_moments
from fpsolve.learning.theory import find_minimum

EPS = np.finfo(float).eps


def regression(N=40, d=2, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, d)) * rng.uniform(0.3, 2.0, size=(N, 1))
    return (x, x @ np.linspace(1, -1, d) + rng.normal(size=N)), LinearRegression(d, s=1.0)


def normals(key, chain, t, d):
    return standard_normal(key, 1, 1, d, traj0=chain, step0=t)[0, 0]


def ref_chain(model, data, w0, eta, n_steps, key, *, batches=None, w_ref=None, chain=0):
    """``w <- w - eta g + sqrt(2 eta) z`` with the full, batch or control-variate gradient."""
    w = np.array(w0, dtype=float)
    g_ref = None if w_ref is None else model.per_sample_gradients(w_ref, data)
    out = []
    for t in range(n_steps):
        if batches is None:
            g = model.gradient(w, data)
        else:
            g = model.minibatch_gradient(w, data, batches[t])
            if g_ref is not None:
                g = g - g_ref[batches[t]].mean(axis=0) + g_ref.mean(axis=0)
        w = w - eta * g + np.sqrt(2 * eta) * normals(key, chain, t, w.size)
        out.append(w)
    return np.array(out)


# --------------------------------------------------------------------------- kernels vs NumPy
@pytest.mark.parametrize("name", ["ula", "sgld", "sgworld", "sgldcv"])
def test_chains_match_numpy_reference(name):
    data, model = regression()
    key, eta, b, n = derive_key(3), 1e-3, 8, 13          # 13 steps cross two WOR epochs of 5
    w0 = np.array([[0.5, -0.2], [1.0, 0.3]])
    res = sample(name, model, data, eta=eta, batch_size=None if name == "ula" else b,
                 n_epochs=n if name == "ula" else 3, n_chains=2, rng=key, record="step",
                 w0=w0, warn=False)
    w_ref = find_minimum(model, data, np.zeros(2)).w if name == "sgldcv" else None
    for c in range(2):
        schedule = "wor" if name == "sgworld" else "wr"
        batches = (None if name == "ula" else
                   minibatch_indices(40, b, n, schedule=schedule, rng=key, chain=c))
        ref = ref_chain(model, data, w0[c], eta, n, key, batches=batches, w_ref=w_ref, chain=c)
        # summation order of the batch gradients differs: ~10 ulp of |eta g| ~ 1 per step,
        # accumulated over 13 contracting steps
        np.testing.assert_allclose(res.samples[:n, c], ref, rtol=0, atol=1e-12)


def ref_midpoint_chain(model, data, w0, eta, n_steps, key, batches, chain=0):
    """``w~ = w - eta/2 g(w) + sqrt(eta/2) (z + z')``, ``w' = w - eta g(w~) + sqrt(2 eta) z`` on
    the same batch; ``z, z'`` the normals ``0..d-1`` and ``d..2d-1`` of the step."""
    w, out, d = np.array(w0, dtype=float), [], len(w0)
    for t in range(n_steps):
        z = normals(key, chain, t, 2 * d)
        wt = w - 0.5 * eta * model.minibatch_gradient(w, data, batches[t]) \
            + np.sqrt(eta / 2) * (z[:d] + z[d:])
        w = w - eta * model.minibatch_gradient(wt, data, batches[t]) + np.sqrt(2 * eta) * z[:d]
        out.append(w)
    return np.array(out)


def test_midpoint_sgworld_matches_numpy_reference():
    data, model = regression()
    key, eta, b, n = derive_key(4), 1e-3, 8, 20          # two palindromic pairs of 5-step epochs
    w0 = np.array([[0.5, -0.2], [1.0, 0.3]])
    res = sample(MidpointSGWORLD(), model, data, eta=eta, batch_size=b, n_epochs=4, n_chains=2,
                 rng=key, record="step", w0=w0, warn=False)
    for c in range(2):
        batches = minibatch_indices(40, b, n, schedule="wor-palindromic", rng=key, chain=c)
        ref = ref_midpoint_chain(model, data, w0[c], eta, n, key, batches, chain=c)
        # as test_chains_match_numpy_reference, two gradients per step: 1e-12 absolute
        np.testing.assert_allclose(res.samples[:, c], ref, rtol=0, atol=1e-12)


def test_palindromic_epochs_walk_the_same_shuffle_back():
    b = minibatch_indices(12, 3, 16, schedule="wor-palindromic", rng=9, chain=1).reshape(4, 4, 3)
    np.testing.assert_array_equal(b[1], b[0][::-1])            # epoch 1 = epoch 0 reversed
    np.testing.assert_array_equal(b[3], b[2][::-1])
    assert not np.array_equal(b[2], b[0])                     # a fresh shuffle per pair
    for e in range(4):                                         # every epoch uses every sample
        assert sorted(b[e].ravel().tolist()) == list(range(12))


def test_midpoint_chains_agree_with_their_exact_moments():
    # Heterogeneous, correlated 2-D design at R eta lambda_max = 0.3: chain second moments
    # about the posterior mean against the exact stationary moments of the same rule.  The
    # spread over 64 independent chains gives the standard error; |z| < 4.5 for each of the
    # 3 distinct entries: false-failure rate < 3 * 7e-6 (normal approximation of 64 chains).
    # A consistency check of the chain kernel against the independent exact-moment code (the
    # bit-level check is test_midpoint_sgworld_matches_numpy_reference); its power is modest:
    # SGWORLD's moments differ from these by ~1 standard error here.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2)) * rng.lognormal(0, 1.0, size=(40, 2))
    data, model = (x, x @ [1.0, -0.5] + rng.normal(size=40)), LinearRegression(2, s=1.0)
    post = gaussian_posterior(model, data)
    eta = 0.3 / (10 * np.linalg.eigvalsh(post.precision).max())
    res = sample(MidpointSGWORLD(), model, data, eta=eta, batch_size=4, n_epochs=20000,
                 burn_in=500, n_chains=64, rng=1, warn=False)
    X = res.samples - post.mean
    per_chain = np.einsum("nci,ncj->cij", X, X) / X.shape[0]
    exact = stationary_moments(MidpointSGWORLD(), model, data, eta=eta, batch_size=4)
    second = exact.cov + np.outer(exact.mean - post.mean, exact.mean - post.mean)
    z = (per_chain.mean(0) - second) / (per_chain.std(0, ddof=1) / np.sqrt(64))
    assert np.all(np.abs(z[np.triu_indices(2)]) < 4.5), z


def test_sgld_and_sgworld_equal_sgd_with_unit_temperature():
    data, model = regression()
    w0 = np.array([0.4, 0.1])
    for name, schedule in (("sgld", "wr"), ("sgworld", "wor")):
        res = sample(name, model, data, eta=1e-3, batch_size=8, n_epochs=4, n_chains=3, rng=5,
                     record="step", w0=w0, warn=False)
        ref = sgd(model, data, w0, eta=1e-3, batch_size=8, n_steps=20, schedule=schedule,
                  noise=1.0, n_chains=3, rng=5, record_every=1)
        assert np.array_equal(res.samples, ref.w[1:])        # same streams, same arithmetic


def test_cv_correction_kernel_matches_numpy():
    rng = np.random.default_rng(1)
    gref, gbar, idx = rng.normal(size=(9, 3)), rng.normal(size=3), rng.permutation(9)
    grad = rng.normal(size=3)
    expected = grad + gbar - gref[idx[2:6]].mean(axis=0)
    ks.cv_correction(gref, gbar, idx, 2, 4, grad)
    np.testing.assert_allclose(grad, expected, rtol=0, atol=10 * EPS)


def test_cv_is_exact_for_identical_per_sample_hessians_at_any_w():
    """Linear regression with one shared input: every l_i has the same Hessian, so the control
    variate removes all minibatch noise: SGLDCV steps equal ULA steps."""
    x = np.ones((20, 1))
    data = (x, np.random.default_rng(0).normal(size=20))
    model = LinearRegression(1, s=1.0)
    a = sample("sgldcv", model, data, eta=1e-3, batch_size=4, n_epochs=3, rng=2, n_chains=1,
               record="step", w0=[3.0], warn=False)
    b = ref_chain(model, data, [3.0], 1e-3, 15, a.key)
    np.testing.assert_allclose(a.samples[:, 0], b, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- records
@pytest.mark.parametrize("record, thin, burn_in, n_rec, first", [
    ("epoch", 1, 0, 6, 5), ("epoch", 2, 1, 3, 10), ("step", 1, 0, 30, 1),
    ("step", 4, 2, 5, 12)])
def test_record_layout(record, thin, burn_in, n_rec, first):
    data, model = regression()
    res = sample(SGWORLD(), model, data, eta=1e-4, batch_size=8, n_epochs=6, burn_in=burn_in,
                 thin=thin, n_chains=2, rng=0, record=record, warn=False)
    every = (5 if record == "epoch" else 1) * thin
    assert res.samples.shape == (n_rec, 2, 2)
    assert res.steps[0] == first and np.all(np.diff(res.steps) == every)
    full = sample(SGWORLD(), model, data, eta=1e-4, batch_size=8, n_epochs=6, n_chains=2,
                  rng=0, record="step", warn=False)
    assert np.array_equal(res.samples, full.samples[res.steps - 1])
    assert np.array_equal(res.w_final, full.w_final)
    assert not res.samples.flags.writeable


def test_reproducible_and_independent_chains():
    data, model = regression()
    a = sample("sgld", model, data, eta=1e-3, batch_size=8, n_epochs=5, rng=9, warn=False)
    b = sample("sgld", model, data, eta=1e-3, batch_size=8, n_epochs=5, rng=a.key, warn=False)
    assert np.array_equal(a.samples, b.samples)
    assert not np.array_equal(a.samples[:, 0], a.samples[:, 1])


def test_sampler_names_and_classes():
    assert as_sampler("SGWorld") == SGWORLD() and as_sampler(SGLD) == SGLD()
    assert SGLDCV([1.0, 2.0]) != SGLDCV() and repr(SGLDCV()) == "SGLDCV()"
    assert ULA().schedule == "full" and SGWORLD().schedule == "wor"
    assert as_sampler("midpoint-SGWORLD") == MidpointSGWORLD()
    assert (MidpointSGWORLD().schedule, MidpointSGWORLD().step) == ("wor-palindromic", "midpoint")


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, match", [
    (dict(eta=0.0), "eta"), (dict(eta=-1e-3), "eta"), (dict(eta=float("nan")), "eta"),
    (dict(batch_size=None), "batch_size"), (dict(batch_size=41), "batch_size"),
    (dict(n_epochs=0), "n_epochs"), (dict(burn_in=5), "burn_in"), (dict(thin=0), "thin"),
    (dict(record="every"), "record"), (dict(n_chains=0), "n_chains"), (dict(thin=9), "thin"),
    (dict(w0=[np.nan, 0.0]), "w0"), (dict(w0=np.zeros(3)), "w0")])
def test_bad_input_names_the_argument(kwargs, match):
    data, model = regression()
    args = dict(eta=1e-3, batch_size=8, n_epochs=5, rng=0) | kwargs
    with pytest.raises(FpsolveError, match=match):
        sample("sgld", model, data, **args)
    with pytest.raises(FpsolveError, match="sampler"):
        sample("sgd", model, data, eta=1e-3, batch_size=8, n_epochs=1)


def test_sgworld_warns_when_batch_size_does_not_divide_n():
    data, model = regression(N=42)
    with pytest.warns(FpsolveWarning, match="drop_last|does not divide"):
        res = sample("sgworld", model, data, eta=1e-4, batch_size=8, n_epochs=2, rng=0,
                     warn=False)
    assert res.steps_per_epoch == 5
    with warnings.catch_warnings():
        warnings.simplefilter("error")                    # SGLD: nothing to warn about
        sample("sgld", model, data, eta=1e-4, batch_size=8, n_epochs=2, rng=0, warn=False)


def test_divergence_stops_with_step_and_value():
    data, model = regression()
    with pytest.raises(FpsolveError, match=r"SGLD diverged at step \d+ of chain \d+.*eta"):
        sample("sgld", model, data, eta=1.0, batch_size=8, n_epochs=50, rng=0)
    x = np.array([[1.0], [2.0]])
    with pytest.raises(FpsolveError, match="SGLDCV diverged.*non-finite|SGLDCV diverged.*loss"):
        sample(SGLDCV([0.0]), LinearRegression(1, s=1.0), (x, [1.0, 2.0]), eta=1e300,
               batch_size=1, n_epochs=3, rng=0, max_loss=np.inf)


def test_unmixed_chains_warn():
    data, model = regression()
    w0 = np.array([[-20.0, -20.0], [20.0, 20.0]])        # far apart, tiny steps: no mixing
    with pytest.warns(MixingWarning, match="R-hat"):
        res = sample("sgld", model, data, eta=1e-7, batch_size=8, n_epochs=20, n_chains=2,
                     rng=0, w0=w0)
    assert np.all(res.rhat > 1.05) and np.all(np.isfinite(res.samples))


# --------------------------------------------------------------------------- diagnostics
def ar1(n, chains, rho, rng):
    x = np.empty((n, chains))
    x[0] = rng.normal(size=chains)
    z = rng.normal(size=(n, chains)) * np.sqrt(1 - rho**2)
    for t in range(1, n):
        x[t] = rho * x[t - 1] + z[t]
    return x


def test_ess_of_ar1_chains():
    # tau = (1 + rho) / (1 - rho) = 9; the ESS estimator's relative spread at n C / tau ~ 900
    # is ~ 10 %, so 30 % fails with probability < 1e-3
    x = ar1(4000, 2, 0.8, np.random.default_rng(4))
    assert abs(effective_sample_size(x)[0] / (8000 / 9) - 1) < 0.3
    assert effective_sample_size(np.ones((10, 2)))[0] == 20


def test_rhat_detects_shifted_chains():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(1000, 4))
    assert abs(rhat(x)[0] - 1) < 0.01                    # sd of R-hat - 1 here ~ 1e-3
    x[:, 0] += 1.0
    assert rhat(x)[0] > 1.05
    assert rhat(np.ones((8, 2)))[0] == 1.0
    with pytest.warns(MixingWarning):
        assert not check_mixing([1.0, 1.2])
    with pytest.raises(FpsolveError, match="samples"):
        rhat(np.ones((3, 2)))


def test_gaussian_distances_against_closed_forms():
    rng = np.random.default_rng(6)
    A = rng.normal(size=(3, 3))
    S0, S = A @ A.T + np.eye(3), np.diag([1.0, 2.0, 3.0])
    m = rng.normal(size=3)
    kl = 0.5 * (np.trace(np.linalg.solve(S0, S)) - 3 + m @ np.linalg.solve(S0, m)
                + np.linalg.slogdet(S0)[1] - np.linalg.slogdet(S)[1])
    assert abs(gaussian_kl(m, S, np.zeros(3), S0) - kl) < 1e-12 * max(1, kl)
    from scipy.linalg import sqrtm
    r0 = np.real(sqrtm(S0))
    w2 = np.sqrt(m @ m + np.trace(S + S0 - 2 * np.real(sqrtm(r0 @ S @ r0))))
    assert abs(gaussian_w2(m, S, np.zeros(3), S0) - w2) < 1e-10
    # tiny differences keep their digits: KL ~ |D|^2 / 4, W2 ~ |D| / 2 for S = (1 + eps) I
    e = 1e-7
    assert abs(gaussian_kl([0.0], [[1 + e]], [0.0], [[1.0]]) / (e**2 / 4) - 1) < 1e-6
    assert abs(gaussian_w2([0.0], [[(1 + e)**2]], [0.0], [[1.0]]) / e - 1) < 1e-6
    assert relative_covariance_error(S0, S0) == 0.0
    assert gaussian_kl([0.0], [[0.0]], [0.0], [[1.0]]) == np.inf


def test_w2_of_far_apart_covariances_takes_the_direct_root_without_overflow():
    # A covariance 1e4 x the reference: the fixed-point iteration would diverge and overflow
    # (a RuntimeWarning, an error under this suite's filter); the direct square root gives
    # W2 = sqrt(tr(S + S0 - 2 (S0^1/2 S S0^1/2)^1/2)) = (100 - 1) sqrt(tr S0) for S = 1e4 S0.
    rng = np.random.default_rng(0)
    A = rng.normal(size=(10, 10))
    S0 = A @ A.T / 10 + np.diag(np.logspace(-4, 0, 10))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        w2 = gaussian_w2(np.zeros(10), 1e4 * S0, np.zeros(10), S0)
    # sqrtm of a matrix with condition ~1e5: ~1e-10 relative
    assert w2 == pytest.approx(99.0 * np.sqrt(np.trace(S0)), rel=1e-8)


def test_histogram_distances():
    edges = [np.array([0.0, 0.5, 1.0]), np.array([0.0, 1.0])]
    pts = np.array([[0.2, 0.5], [0.3, 0.5], [0.7, 0.5], [2.0, 0.5]])   # one outside the box
    out = histogram_distances(pts, edges, np.array([[0.5], [0.5]]))
    # p_hat = (1/2, 1/4) and 1/4 outside: TV = (0 + 1/4 + 1/4) / 2
    assert out["tv"] == pytest.approx(0.25) and out["n"] == 4
    assert out["kl"] == pytest.approx(0.5 * np.log(1.0) + 0.25 * np.log(0.5))
    with pytest.raises(FpsolveError, match="probs"):
        histogram_distances(pts, edges, np.ones(3))


def test_sgldcv_reference_point_and_softmax_model_run():
    """SGLDCV on a softmax model (the kernel's third model kind) gives finite samples."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(30, 1))
    data = (x, (x[:, 0] > 0).astype(int))
    res = sample(SGLDCV(), SoftmaxRegression(1, 2, lam=0.1), data, eta=1e-3, batch_size=5,
                 n_epochs=4, n_chains=2, rng=1, warn=False)
    assert res.w_ref.shape == (4,) and np.all(np.isfinite(res.samples))
    with pytest.raises(FpsolveError, match="w_ref"):
        sample(SGLDCV([0.0]), SoftmaxRegression(1, 2), data, eta=1e-3, batch_size=5,
               n_epochs=1)


# --------------------------------------------------------------------------- without the JIT
def nojit_values() -> dict:
    """Samples of every sampler and SGWORLD moments of a tiny problem (JIT on or off)."""
    from fpsolve.learning.posteriors import stationary_moments

    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 2)) * rng.uniform(0.3, 2.0, size=(6, 1))
    data, model = (x, x @ [1.0, -1.0] + rng.normal(size=6)), LinearRegression(2, s=1.0)
    out = {}
    for name in ("ula", "sgld", "sgworld", "sgldcv"):
        res = sample(name, model, data, eta=1e-3, batch_size=None if name == "ula" else 2,
                     n_epochs=4, n_chains=2, rng=1, record="step", warn=False)
        out[name] = res.samples.ravel().tolist()
    for record in ("epoch", "step"):
        mo = stationary_moments("sgworld", model, data, eta=1e-3, batch_size=2, n_perm=8,
                                n_groups=2, record=record)
        out[record] = mo.cov.ravel().tolist() + mo.mean.tolist()
    return out


def test_pure_python_kernels_give_the_same_answer():
    """DESIGN.md section 4, rule 4: the sampler and epoch-map kernels run as plain Python."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = (f"import json, sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
              f"from test_samplers import nojit_values; print(json.dumps(nojit_values()))")
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, check=True, timeout=300)
    plain = json.loads(out.stdout.strip().splitlines()[-1])
    for key, value in nojit_values().items():                 # the compiled kernels
        # same arithmetic; libm vs numpy transcendental functions differ by an ulp or two
        np.testing.assert_allclose(plain[key], value, rtol=1e-11, atol=1e-13)


def test_sample_resumes_from_a_checkpoint_bit_identically(tmp_path, monkeypatch):
    from fpsolve.learning.dynamics import _kernels as chain_kernels
    data, model = regression()
    kw = dict(eta=1e-3, batch_size=8, n_epochs=2000, burn_in=100, n_chains=2, rng=3, warn=False)
    whole = sample("sgworld", model, data, **kw)
    real, calls = chain_kernels.run_chains, []

    def flaky(*args):
        calls.append(args[15])                     # step0 of the call
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args)

    ck = tmp_path / "run.npz"
    monkeypatch.setattr(chain_kernels, "run_chains", flaky)
    with pytest.raises(KeyboardInterrupt):
        sample("sgworld", model, data, checkpoint=ck, **kw)
    monkeypatch.setattr(chain_kernels, "run_chains", real)
    with np.load(ck) as f:
        assert int(f["step"]) == calls[2] > 0      # the two finished calls were kept
    resumed = sample("sgworld", model, data, checkpoint=ck, **kw)
    assert np.array_equal(resumed.samples, whole.samples)
    assert np.array_equal(resumed.w_final, whole.w_final)
    with pytest.raises(FpsolveError, match="checkpoint"):
        sample("sgworld", model, data, checkpoint=ck, **dict(kw, eta=2e-3))
