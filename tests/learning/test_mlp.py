"""The tanh classifier: kernels against a NumPy reference, derivatives against finite differences,
exact Hessian-vector products, its SGD loop against a NumPy loop on the same batches.

The reference below is plain NumPy backpropagation with ``np.tanh`` (the kernels use the one-exp
tanh of :func:`fpsolve.learning.models._kernels.fast_tanh`, a few ulp off).  Finite differences use
findiff's 4th-order central stencil, as in test_models.py.
"""

from __future__ import annotations

import findiff
import numpy as np
import pytest

from fpsolve.errors import FpsolveError
from fpsolve import derive_key
from fpsolve.learning import minibatch_indices, mlp_sgd, sgd
from fpsolve.learning.models import _kernels_mlp
from fpsolve.stochastic import standard_normal
from fpsolve.learning.models.mlp import MLPClassifier

EPS = np.finfo(float).eps
STENCIL = findiff.coefficients(deriv=1, acc=4)["center"]
H_FD = 1e-3
# 4th-order stencil on O(1) inputs and weights: truncation ~ h^4 |d^5 l| / 30 ~ 1e-13 of the
# derivative scale, round-off ~ eps |l| / h ~ 1e-13 |l| (the losses here are O(10)); 1e-9 of the
# largest component leaves a wide margin and still fails on any wrong term.
FD_RTOL = 1e-9


def make_case(n=9, nf=3, nh=4, kc=3, lam=0.05, seed=3):
    rng = np.random.default_rng(seed)
    model = MLPClassifier(nf, nh, kc, lam=lam)
    x, y = rng.normal(size=(n, nf)), rng.integers(0, kc, n)
    w = model.initial_weights(seed) + 0.5 * rng.normal(size=model.n_params)
    return model, (x, y), w


MODEL, DATA, W = make_case()


def fd_gradient(fun, w):
    cols = []
    for j in range(w.size):
        e = np.zeros_like(w)
        e[j] = H_FD
        cols.append(sum(c * np.asarray(fun(w + o * e)) for c, o in
                        zip(STENCIL["coefficients"], STENCIL["offsets"], strict=True)) / H_FD)
    return np.stack(cols, axis=-1)


def ref_forward(model, w, x):
    W1, b1, W2, b2 = model.unpack(w)
    t = np.tanh(x @ W1.T + b1)
    z = t @ W2.T + b2
    return t, z


def ref_sample_losses(model, w, data):
    x, y = data
    _, z = ref_forward(model, w, x)
    lse = z.max(1) + np.log(np.exp(z - z.max(1, keepdims=True)).sum(1))
    return x.shape[0] * (lse - z[np.arange(y.size), y] + 0.5 * model.lam * (w @ w))


def ref_sample_gradients(model, w, data):
    """Backpropagation in NumPy: rows (W1, b1, W2, b2) of N [grad CE_i + lam w]."""
    x, y = data
    _W1, _b1, W2, _b2 = model.unpack(w)
    t, z = ref_forward(model, w, x)
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    dz = p - np.eye(model.width)[y]
    dh = (dz @ W2) * (1 - t**2)
    g = np.hstack([(dh[:, :, None] * x[:, None, :]).reshape(x.shape[0], -1), dh,
                   (dz[:, :, None] * t[:, None, :]).reshape(x.shape[0], -1), dz])
    return x.shape[0] * (g + model.lam * w)


def test_layout_and_parameter_count():
    model = MLPClassifier(64, 16, 10)
    assert model.n_params == 16 * 64 + 16 + 10 * 16 + 10 == 1210
    W1, b1, W2, b2 = MODEL.unpack(W)
    assert (W1.shape, b1.shape, W2.shape, b2.shape) == ((4, 3), (4,), (3, 4), (3,))
    assert np.array_equal(np.r_[W1.ravel(), b1, W2.ravel(), b2], W)
    # the augmented layout is a permutation of the parameters
    assert np.array_equal(np.sort(MODEL._perm), np.arange(MODEL.n_params))


def test_per_sample_gradients_match_numpy_reference_and_fd():
    G = MODEL.per_sample_gradients(W, DATA)
    G_ref = ref_sample_gradients(MODEL, W, DATA)
    # same formulas, one-exp tanh and other association: a few hundred ulp of the largest entry
    assert np.allclose(G, G_ref, rtol=0, atol=200 * EPS * np.abs(G_ref).max())
    G_fd = fd_gradient(lambda v: ref_sample_losses(MODEL, v, DATA), W)
    assert np.allclose(G, G_fd, rtol=0, atol=FD_RTOL * np.abs(G).max())
    # the loss: N terms summed in another order, ~500 eps relative
    assert np.isclose(MODEL.loss(W, DATA), ref_sample_losses(MODEL, W, DATA).mean(),
                      rtol=1e-13, atol=0)
    assert np.allclose(G.mean(0), MODEL.gradient(W, DATA), rtol=0,
                       atol=50 * EPS * np.abs(G).max())


def test_minibatch_gradient_and_stacks():
    batch = np.array([4, 0, 4, 8])
    G = MODEL.per_sample_gradients(W, DATA)
    assert np.allclose(MODEL.minibatch_gradient(W, DATA, batch), G[batch].mean(0), rtol=0,
                       atol=50 * EPS * np.abs(G).max())
    ws = np.stack([W, -W, 0.5 * W])
    Gs = MODEL.per_sample_gradients(ws, DATA)
    assert Gs.shape == (3, 9, MODEL.n_params)
    assert all(np.array_equal(Gs[k], MODEL.per_sample_gradients(v, DATA))   # same kernel
               for k, v in enumerate(ws))


def test_hessian_matches_finite_differences_of_gradient():
    H = MODEL.hessian(W, DATA)
    H_fd = fd_gradient(lambda v: MODEL.gradient(v, DATA), W)
    assert np.array_equal(H, H.T)
    assert np.allclose(H, H_fd, rtol=0, atol=FD_RTOL * np.abs(H).max())


def test_hessian_is_chunked_consistently(monkeypatch):
    """The Hessian summed over sample chunks of 1 equals the one-chunk sum (a few ulp)."""
    model, data, w = make_case(n=7, nf=2, nh=3, kc=4, seed=5)
    H = model.hessian(w, data)
    monkeypatch.setattr("fpsolve.learning.models.mlp._CHUNK", 1)
    assert np.allclose(model.hessian(w, data), H, rtol=0, atol=50 * EPS * np.abs(H).max())


def test_hessian_vector_product_is_exact():
    H = MODEL.hessian(W, DATA)
    for v in np.random.default_rng(0).normal(size=(3, MODEL.n_params)):
        Hv = MODEL.hessian_vector_product(W, DATA, v)
        # one product reassociated: round-off of |H| |v| times a few hundred ulp
        assert np.allclose(Hv, H @ v, rtol=0, atol=200 * EPS * np.abs(H).max()
                           * np.abs(v).sum())


def test_per_sample_hessians():
    h = MODEL.per_sample_hessians(W, DATA)
    h_fd = fd_gradient(lambda v: MODEL.per_sample_gradients(v, DATA), W)
    assert h.shape == (9, MODEL.n_params, MODEL.n_params)
    assert np.allclose(h, h_fd, rtol=0, atol=FD_RTOL * np.abs(h).max())
    assert np.allclose(h.mean(0), MODEL.hessian(W, DATA), rtol=0,
                       atol=50 * EPS * np.abs(h).max())


def test_predict_and_loss_at_zero():
    p = MODEL.predict(W, DATA[0])
    assert p.shape == (9, 3) and np.allclose(p.sum(1), 1.0, rtol=0, atol=4 * EPS)
    # CE = log K exactly up to rounding of log and exp at zero weights
    assert np.isclose(MODEL.loss(np.zeros(MODEL.n_params), DATA), 9 * np.log(3), rtol=10 * EPS)


def test_kernel_runs_as_plain_python():
    x, y, a, c = MODEL.arrays(DATA)
    idx = np.arange(9)
    g1, g2 = np.empty(W.size), np.empty(W.size)
    tmp = MODEL._tmp()
    l1 = _kernels_mlp.batch_gradient(W, x, y, idx, 2, 5, 4, 3, a, c, tmp, g1)
    l2 = getattr(_kernels_mlp.batch_gradient, "py_func", _kernels_mlp.batch_gradient)(
        W, x, y, idx, 2, 5, 4, 3, a, c, tmp.copy(), g2)
    # LLVM may contract a*b+c into fma: a few ulp
    assert np.isclose(l1, l2, rtol=20 * EPS, atol=0)
    assert np.allclose(g1, g2, rtol=0, atol=20 * EPS * np.abs(g1).max())


@pytest.mark.parametrize("schedule", ["wr", "wor"])
def test_sgd_matches_numpy_loop_on_the_same_batches(schedule):
    eta, b, n = 1e-3, 4, 12
    res = sgd(MODEL, DATA, W, eta=eta, batch_size=b, n_steps=n, schedule=schedule,
                  record_every=1, rng=11)
    batches = minibatch_indices(9, b, n, schedule=schedule, rng=res.key)
    w = W.copy()
    for t in range(n):
        w = w - eta * ref_sample_gradients(MODEL, w, DATA)[batches[t]].mean(0)
        # 12 steps of O(eta |g|) updates, each a few hundred ulp off: 1e-12 absolute
        assert np.allclose(res.w[t + 1, 0], w, rtol=0, atol=1e-12)


def test_sgd_noise_is_the_one_normal_stream():
    # The Langevin noise of chain c at step t is standard_normal's trajectory c, step t.
    eta, T = 1e-3, 0.7
    plain = sgd(MODEL, DATA, W, eta=eta, batch_size=3, n_steps=1, rng=5)
    noisy = sgd(MODEL, DATA, W, eta=eta, batch_size=3, n_steps=1, rng=5, noise=T)
    z = standard_normal(noisy.key, 1, 1, W.size)[0, 0]
    assert np.array_equal(noisy.key, derive_key(5))
    # the two runs differ by the noise only: rounding of w - eta g + amp z, a few ulp of |w|
    assert np.allclose(noisy.w_final - plain.w_final, np.sqrt(2 * eta * T) * z,
                       rtol=0, atol=1e-14)


def test_mlp_sgd_is_a_deprecated_alias():
    kw = {"eta": 1e-3, "batch_size": 3, "n_steps": 5, "rng": 2}
    with pytest.warns(DeprecationWarning, match="mlp_sgd"):
        old = mlp_sgd(MODEL, DATA, W, **kw)
    assert np.array_equal(old.w_final, sgd(MODEL, DATA, W, **kw).w_final)


def test_sgd_reproducible_independent_of_chunks():
    kw = {"eta": 1e-3, "batch_size": 3, "n_steps": 40, "n_chains": 3, "rng": 2, "record_every": 10}
    a = sgd(MODEL, DATA, W, **kw)
    b = sgd(MODEL, DATA, W, chunk_size=7, **kw)
    assert np.array_equal(a.w, b.w) and not np.array_equal(a.w_final[0], a.w_final[1])


@pytest.mark.parametrize("make, message", [
    (lambda: MLPClassifier(0), "n_features"),
    (lambda: MLPClassifier(3, 0), "hidden"),
    (lambda: MLPClassifier(3, 2, 1), "n_classes"),
    (lambda: MLPClassifier(3, 2, 2, lam=-1.0), "lam"),
    (lambda: MODEL.loss(W[:-1], DATA), "w:"),
    (lambda: MODEL.loss(W, (np.zeros((9, 2)), DATA[1])), "data"),
    (lambda: MODEL.loss(W, (DATA[0], np.full(9, 3))), "labels"),
    (lambda: MODEL.minibatch_gradient(W, DATA, [9]), "batch"),
    (lambda: MODEL.hessian_vector_product(W, DATA, W[:-1]), "v:"),
    (lambda: MODEL.kernel_arguments(DATA), "chain_kernel"),
    (lambda: sgd(MODEL, DATA, W, eta=0.0, batch_size=2, n_steps=1), "eta"),
    (lambda: sgd(MODEL, DATA, W, eta=1e-3, batch_size=10, n_steps=1), "batch_size"),
    (lambda: sgd(MODEL, DATA, np.zeros((2, W.size)), eta=1e-3, batch_size=2, n_steps=1),
     "w0"),
    (lambda: sgd(MODEL, DATA, W, eta=1e6, batch_size=2, n_steps=50), "diverged"),
])
def test_bad_input(make, message):
    with pytest.raises(FpsolveError, match=message):
        make()


def test_per_sample_hessians_refuse_huge_requests(monkeypatch):
    monkeypatch.setattr("fpsolve.learning.models.mlp._MAX_SAMPLE_HESSIANS", 100)
    with pytest.raises(FpsolveError, match="hessian_vector_product"):
        MODEL.per_sample_hessians(W, DATA)
