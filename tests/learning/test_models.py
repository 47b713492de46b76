"""Learning models: kernels against NumPy references, derivatives against finite differences.

The NumPy references below are written from the formulas in the module docstring of
:mod:`fpsolve.learning.models` (explicit ``tanh``, ``log-sum-exp``), independent of the kernels.
Finite differences use findiff's 4th-order central stencil for first derivatives of the loss and
of the analytic gradient (the Hessian check).
"""

from __future__ import annotations

import findiff
import numpy as np
import pytest

from fpsolve.errors import FpsolveError
from fpsolve.learning.models import _kernels
from fpsolve.learning import (
    Dataset,
    LinearRegression,
    RegressionNetwork,
    SoftmaxRegression,
    paper_regression,
)

EPS = np.finfo(float).eps
STENCIL = findiff.coefficients(deriv=1, acc=4)["center"]
H_FD = 1e-3
# 4th-order stencil: truncation ~ h^4 |d^5 L| / 30 ~ 1e-13 x (derivative scale), round-off
# ~ eps |L| sum|c| / h ~ 3e-13 |L|; observed at most 7e-12 relative to the largest |component|
# on these O(1)-curvature cases.  1e-9 leaves a 100x margin and still fails on any wrong term.
FD_RTOL = 1e-9


# --------------------------------------------------------------------------- references
def ref_net_f(w, x, h):
    u, c, v, b = w[:h], w[h:2 * h], w[2 * h:3 * h], w[3 * h]
    return np.tanh(np.outer(x, u) + c) @ v + b


def ref_net_grads(w, x, y, h, a, lam):
    """Per-sample gradients (N, d) of a [(y - f)^2 + lam |w|^2]."""
    u, c, v = w[:h], w[h:2 * h], w[2 * h:3 * h]
    t = np.tanh(np.outer(x, u) + c)
    r = y - (t @ v + w[3 * h])
    df = np.hstack([v * (1 - t**2) * x[:, None], v * (1 - t**2), t, np.ones((x.size, 1))])
    return a * (-2 * r[:, None] * df + 2 * lam * w)


def ref_sample_losses(model, w, data):
    x, y = data
    if isinstance(model, SoftmaxRegression):
        K, F = model.width, model.n_features
        z = x.reshape(-1, F) @ w[:K * F].reshape(K, F).T + w[K * F:]
        zmax = z.max(axis=1)
        lse = zmax + np.log(np.exp(z - zmax[:, None]).sum(axis=1))
        return x.shape[0] * (lse - z[np.arange(len(y)), y] + model.lam * (w @ w) / 2)
    f = (ref_net_f(w, x, model.width) if isinstance(model, RegressionNetwork)
         else x.reshape(len(y), -1) @ w)
    return x.shape[0] / (2 * model.s**2) * ((y - f)**2 + model.lam * (w @ w))


def fd_gradient(fun, w):
    """4th-order central differences of a scalar or vector function along each axis of w."""
    cols = []
    for j in range(w.size):
        e = np.zeros_like(w)
        e[j] = H_FD
        cols.append(sum(c * np.asarray(fun(w + o * e)) for c, o in
                        zip(STENCIL["coefficients"], STENCIL["offsets"], strict=True)) / H_FD)
    return np.stack(cols, axis=-1)


# --------------------------------------------------------------------------- cases
def _cases():
    rng = np.random.default_rng(42)
    n = 12
    x1 = rng.uniform(-2, 2, n)
    xs = rng.normal(size=(n, 3))
    net = (RegressionNetwork(2, s=1.0, lam=0.1), Dataset(x1, np.exp(-x1**2)),
           rng.normal(size=7))
    net3 = (RegressionNetwork(3, s=2.0, lam=0.05), Dataset(x1, np.sin(x1)), rng.normal(size=10))
    lin = (LinearRegression(3, s=1.0, lam=0.2), Dataset(xs, xs @ [1.0, -2.0, 0.5]),
           rng.normal(size=3))
    soft = (SoftmaxRegression(3, 4, lam=0.1), Dataset(xs, rng.integers(0, 4, n)),
            rng.normal(size=16))
    return {"net2": net, "net3": net3, "linear": lin, "softmax": soft}


CASES = _cases()


@pytest.mark.parametrize("name", CASES)
def test_gradient_matches_finite_differences(name):
    model, data, w = CASES[name]
    g_fd = fd_gradient(lambda v: model.loss(v, data), w)
    g = model.gradient(w, data)
    assert np.allclose(g, g_fd, rtol=0, atol=FD_RTOL * np.abs(g).max())


@pytest.mark.parametrize("name", CASES)
def test_per_sample_gradients_match_finite_differences(name):
    model, data, w = CASES[name]
    G = model.per_sample_gradients(w, data)
    G_fd = fd_gradient(lambda v: ref_sample_losses(model, v, data), w)
    assert G.shape == (data.N, model.n_params)
    assert np.allclose(G, G_fd, rtol=0, atol=FD_RTOL * np.abs(G).max())
    # the full gradient is the mean of the rows: same sums, different order (a few ulp)
    assert np.allclose(G.mean(axis=0), model.gradient(w, data), rtol=0,
                       atol=50 * EPS * np.abs(G).max())


@pytest.mark.parametrize("name", CASES)
def test_hessian_matches_finite_differences_of_gradient(name):
    model, data, w = CASES[name]
    H = model.hessian(w, data)
    H_fd = fd_gradient(lambda v: model.gradient(v, data), w)
    assert np.allclose(H, H.T, rtol=0, atol=50 * EPS * np.abs(H).max())   # summation order
    assert np.allclose(H, H_fd, rtol=0, atol=FD_RTOL * np.abs(H).max())


@pytest.mark.parametrize("name", CASES)
def test_per_sample_hessians_match_finite_differences(name):
    model, data, w = CASES[name]
    h = model.per_sample_hessians(w, data)
    h_fd = fd_gradient(lambda v: model.per_sample_gradients(v, data), w)
    assert h.shape == (data.N, w.size, w.size)
    assert np.allclose(h, h_fd, rtol=0, atol=FD_RTOL * np.abs(h).max())
    # the full Hessian is their mean (summation order: a few ulp)
    assert np.allclose(h.mean(axis=0), model.hessian(w, data), rtol=0,
                       atol=50 * EPS * np.abs(h).max())


def test_per_sample_gradients_of_a_stack():
    model, data, w = CASES["net3"]
    ws = np.stack([w, 2 * w, -w])
    G = model.per_sample_gradients(ws, data)
    assert G.shape == (3, data.N, w.size)
    assert all(np.array_equal(G[k], model.per_sample_gradients(v, data))   # same kernel path
               for k, v in enumerate(ws))


@pytest.mark.parametrize("name", CASES)
def test_loss_matches_numpy_reference(name):
    model, data, w = CASES[name]
    # the kernel and the reference add the same N terms in different orders (and the network
    # uses a one-exp tanh, a few ulp off): 1e-13 relative is ~500 eps.
    assert np.isclose(model.loss(w, data), ref_sample_losses(model, w, data).mean(),
                      rtol=1e-13, atol=0)


def test_network_kernel_matches_numpy_reference_gradients():
    model, data, w = CASES["net3"]
    G_ref = ref_net_grads(w, data.x, data.y, 3, 1 / (2 * model.s**2) * data.N, model.lam)
    # same formula, different association and a one-exp tanh: a few ulp of the largest term
    assert np.allclose(model.per_sample_gradients(w, data), G_ref, rtol=0,
                       atol=100 * EPS * np.abs(G_ref).max())


def test_minibatch_gradient_is_batch_mean_of_rows():
    model, data, w = CASES["softmax"]
    batch = np.array([3, 0, 7, 7, 11])
    G = model.per_sample_gradients(w, data)
    # 5 terms re-summed: a few ulp of the largest row entry
    assert np.allclose(model.minibatch_gradient(w, data, batch), G[batch].mean(axis=0),
                       rtol=0, atol=50 * EPS * np.abs(G).max())


def test_paper_parameter_order():
    w = np.array([1.1, -0.7, 0.3, 0.2, 0.9, -1.4, 0.05])
    x = np.linspace(-3, 3, 7)
    f = w[4] * np.tanh(w[0] * x + w[2]) + w[5] * np.tanh(w[1] * x + w[3]) + w[6]
    net = RegressionNetwork()
    assert net.n_params == 7
    # predict uses numpy tanh in another association order: a few ulp
    assert np.allclose(net.predict(w, x), f, rtol=0, atol=10 * EPS)
    data = Dataset(x, np.zeros_like(x))
    expected = x.size / (2 * 0.1**2) * (f**2 + 1e-3 * (w @ w))
    # loss kernel: one-exp tanh and different summation order, a few hundred ulp at most
    assert np.isclose(net.loss(w, data), expected.mean(), rtol=1e-13, atol=0)


def test_fast_tanh_matches_numpy():
    z = np.r_[np.linspace(-30, 30, 2001), 1e-300, -1e-12, 0.0, 400.0, -800.0]
    got = np.array([_kernels.fast_tanh(v) for v in z])
    # documented accuracy: absolute error of a few ulp of 1
    assert np.abs(got - np.tanh(z)).max() <= 4 * EPS
    assert np.all(np.abs(got) <= 1.0)


def test_kernels_run_as_plain_python():
    """The NUMBA_DISABLE_JIT path (``py_func``) gives the compiled results."""
    for name in ("net2", "softmax"):
        model, data, w = CASES[name]
        kind, x, y, a, c, m = model.kernel_arguments(data)
        idx = np.arange(data.N)
        g1, g2 = np.empty(w.size), np.empty(w.size)
        l1 = _kernels.batch_gradient(kind, w, x, y, idx, 2, 5, a, c, m, np.zeros(m), g1)
        l2 = getattr(_kernels.batch_gradient, "py_func", _kernels.batch_gradient)(
            kind, w, x, y, idx, 2, 5, a, c, m, np.zeros(m), g2)
        # LLVM may contract a*b+c into fma: a few ulp
        assert np.isclose(l1, l2, rtol=20 * EPS, atol=0)
        assert np.allclose(g1, g2, rtol=0, atol=20 * EPS * np.abs(g1).max())


def test_softmax_uniform_at_zero_weights():
    model = SoftmaxRegression(2, 3, lam=0.5)
    data = Dataset(np.ones((4, 2)), np.array([0, 1, 2, 2]))
    # CE = log 3 exactly up to rounding of log and exp
    assert np.isclose(model.loss(np.zeros(9), data), 4 * np.log(3), rtol=10 * EPS)
    assert np.allclose(model.predict(np.zeros(9), data.x), 1 / 3, rtol=10 * EPS)


def test_reference_hessian_positive_at_regression_minimum():
    """A local minimum of the paper's loss (found by Newton from a nearby point) has H > 0."""
    net, data = RegressionNetwork(), paper_regression(3)
    w = np.array([1.3, 1.2, 0.7, -0.7, 1.0, -1.0, 0.0])
    for _ in range(30):
        w = w - np.linalg.solve(net.hessian(w, data), net.gradient(w, data))
    g_typ = np.median(np.linalg.norm(net.per_sample_gradients(w, data), axis=1))
    # Newton converges quadratically; 1e-9 of a typical per-sample gradient is far above
    # round-off (eps N |l_i| ~ 1e-10 relative) and far below any non-critical point
    assert np.linalg.norm(net.gradient(w, data)) < 1e-9 * g_typ
    assert np.linalg.eigvalsh(net.hessian(w, data)).min() > 0


@pytest.mark.parametrize("make, message", [
    (lambda: RegressionNetwork(0), "hidden"),
    (lambda: RegressionNetwork(2, s=0.0), "s:"),
    (lambda: RegressionNetwork(2, lam=-1.0), "lam"),
    (lambda: LinearRegression(0), "d:"),
    (lambda: SoftmaxRegression(2, 1), "n_classes"),
    (lambda: RegressionNetwork().loss(np.zeros(6), paper_regression()), "w:"),
    (lambda: RegressionNetwork().loss([np.nan] * 7, paper_regression()), "w:"),
    (lambda: RegressionNetwork().loss(np.zeros(7), (np.zeros((5, 2)), np.zeros(5))), "data"),
    (lambda: LinearRegression(3).gradient(np.zeros(3), (np.zeros((5, 2)), np.zeros(5))),
     "data"),
    (lambda: SoftmaxRegression(2, 3).loss(np.zeros(9), (np.zeros((2, 2)), [0, 3])), "labels"),
    (lambda: SoftmaxRegression(2, 3).loss(np.zeros(9), (np.zeros((2, 2)), [0.0, 1.0])),
     "labels"),
    (lambda: RegressionNetwork().minibatch_gradient(np.zeros(7), paper_regression(), [200]),
     "batch"),
    (lambda: RegressionNetwork().loss(np.zeros(7), np.zeros(3)), "data"),
    (lambda: RegressionNetwork().per_sample_gradients(np.zeros((2, 6)), paper_regression()),
     "w:"),
])
def test_bad_input(make, message):
    with pytest.raises(FpsolveError, match=message):
        make()
