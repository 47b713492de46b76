"""Numba kernels of the built-in learning models: minibatch gradients and exact Hessians.

``kind`` selects the model (``NET``, ``LINEAR``, ``SOFTMAX``); ``m`` is its width (hidden units
of the network, classes of the softmax).  Data are ``x (N, F)`` floats and ``y (N,)`` floats
(class labels stored as exact floats).  The per-sample loss is ``l_i = a [r_i(w) + c |w|^2]``
with ``r_i = (y_i - f_i)^2`` (regression) or the cross-entropy (softmax); the model classes in
:mod:`fpsolve.learning.models` choose ``a`` and ``c``.

The chain kernels of :mod:`fpsolve.learning.dynamics` call a model through one function of the
signature :data:`fpsolve.learning.models.dispatch.BATCH_SIGNATURE`,
``batch(w, x, y, idx, start, b, theta, tmp, out) -> loss`` with ``theta = (a, c, m, ...)``:
:func:`net_batch`, :func:`linear_batch` and :func:`softmax_batch` here.
"""

from __future__ import annotations

import math

import numpy as np

from ..._numba import jit_serial

__all__ = ["fast_tanh", "batch_gradient", "sample_gradients", "stacked_sample_gradients",
           "hessian_row", "loss_hessian", "sample_hessians", "net_batch", "linear_batch",
           "softmax_batch", "logistic_batch"]

NET, LINEAR, SOFTMAX, LOGISTIC = 0, 1, 2, 3


# ----------------------------------------------------------------------------- models
@jit_serial
def fast_tanh(z):
    """``tanh z = sign(z) (1 - e) / (1 + e)``, ``e = exp(-2|z|)``: one ``exp``, no overflow.

    About 3x faster than libm ``tanh`` (the network spends its time here).  The absolute error
    is a few ulp of 1 -- the accuracy that matters, since ``tanh z`` enters ``f`` and its
    derivatives next to O(1) terms; the relative error grows only for ``|z| << 1``.
    """
    e = math.exp(-2.0 * abs(z))
    return math.copysign((1.0 - e) / (1.0 + e), z)


@jit_serial
def _net_batch(w, x, y, idx, start, b, h, tmp, out):
    """``out = sum_j r_j grad f_j`` and ``sum_j r_j^2`` over the batch (tanh network)."""
    loss = 0.0
    for j in range(start, start + b):
        i = idx[j]
        xi = x[i, 0]
        f = w[3 * h]
        for k in range(h):
            tmp[k] = fast_tanh(w[k] * xi + w[h + k])
            f += w[2 * h + k] * tmp[k]
        r = y[i] - f
        loss += r * r
        for k in range(h):
            s = w[2 * h + k] * (1.0 - tmp[k] * tmp[k]) * r
            out[k] += s * xi
            out[h + k] += s
            out[2 * h + k] += r * tmp[k]
        out[3 * h] += r
    return loss


@jit_serial
def _linear_batch(w, x, y, idx, start, b, out):
    """``out = sum_j r_j x_j`` and ``sum_j r_j^2`` over the batch (linear model)."""
    loss = 0.0
    for j in range(start, start + b):
        i = idx[j]
        r = y[i]
        for q in range(w.size):
            r -= w[q] * x[i, q]
        loss += r * r
        for q in range(w.size):
            out[q] += r * x[i, q]
    return loss


@jit_serial
def _softmax_probs(w, xi, kc, tmp):
    """Logits into ``tmp[:kc]`` and their log-sum-exp."""
    nf = xi.size
    zmax = -math.inf
    for k in range(kc):
        z = w[kc * nf + k]
        for j in range(nf):
            z += w[k * nf + j] * xi[j]
        tmp[k] = z
        zmax = max(zmax, z)
    se = 0.0
    for k in range(kc):
        se += math.exp(tmp[k] - zmax)
    return zmax + math.log(se)


@jit_serial
def _softmax_batch(w, x, y, idx, start, b, kc, tmp, out):
    """``out = sum_j grad CE_j`` (weights ``(kc, F)`` row-major, then biases), ``sum_j CE_j``."""
    nf = x.shape[1]
    loss = 0.0
    for j in range(start, start + b):
        i, lab = idx[j], int(y[idx[j]])
        lse = _softmax_probs(w, x[i], kc, tmp)
        loss += lse - tmp[lab]
        for k in range(kc):
            g = math.exp(tmp[k] - lse) - (1.0 if k == lab else 0.0)
            for q in range(nf):
                out[k * nf + q] += g * x[i, q]
            out[kc * nf + k] += g
    return loss


@jit_serial
def _logistic_batch(w, x, y, idx, start, b, out):
    """``out = sum_j (sigma(z_j) - y_j) (x_j, 1)``, ``z = w[:F] . x + w[F]``; ``sum_j CE_j``
    with ``CE = log(1 + e^z) - y z`` (evaluated without overflow)."""
    nf = x.shape[1]
    loss = 0.0
    for j in range(start, start + b):
        i = idx[j]
        z = w[nf]
        for q in range(nf):
            z += w[q] * x[i, q]
        e = math.exp(-abs(z))
        loss += max(z, 0.0) + math.log1p(e) - y[i] * z
        g = (1.0 if z >= 0 else e) / (1.0 + e) - y[i]             # sigma(z) - y
        for q in range(nf):
            out[q] += g * x[i, q]
        out[nf] += g
    return loss


@jit_serial
def batch_gradient(kind, w, x, y, idx, start, b, a, c, m, tmp, out):
    """Gradient of ``mean_{j} l_{idx[j]}``, ``j in [start, start + b)``, into ``out``.

    Returns the minibatch loss.  The data terms are summed unscaled and scaled once (the
    regression residual sums carry the factor ``-2 a / b`` of ``d(a r^2)/dw``).
    """
    out[:] = 0.0
    if kind == NET:
        loss, scale = _net_batch(w, x, y, idx, start, b, m, tmp, out), -2.0 * a / b
    elif kind == LINEAR:
        loss, scale = _linear_batch(w, x, y, idx, start, b, out), -2.0 * a / b
    elif kind == LOGISTIC:
        loss, scale = _logistic_batch(w, x, y, idx, start, b, out), a / b
    else:
        loss, scale = _softmax_batch(w, x, y, idx, start, b, m, tmp, out), a / b
    reg = 0.0
    for j in range(w.size):
        reg += w[j] * w[j]
        out[j] = scale * out[j] + 2.0 * a * c * w[j]
    return a * (loss / b + (c * reg if c > 0.0 else 0.0))   # lam = 0: no 0 * inf = nan


@jit_serial
def sample_gradients(kind, w, x, y, a, c, m, tmp, out):
    """Per-sample gradients ``out (N, d)`` (batches of one); return the full loss."""
    n = x.shape[0]
    idx = np.arange(n)
    loss = 0.0
    for i in range(n):
        loss += batch_gradient(kind, w, x, y, idx, i, 1, a, c, m, tmp, out[i])
    return loss / n


@jit_serial
def _net_hess_row(w, xi, yi, a, h, coef, gf, out):
    """Add ``coef a (2 grad f grad f^T - 2 r hess f)`` of the tanh network to ``out``."""
    f = w[3 * h]
    gf[3 * h] = 1.0
    for k in range(h):
        t = fast_tanh(w[k] * xi + w[h + k])
        v, s = w[2 * h + k], 1.0 - t * t
        gf[k], gf[h + k], gf[2 * h + k] = v * s * xi, v * s, t
        f += v * t
    out += (2.0 * a * coef) * np.outer(gf, gf)
    q = -2.0 * a * coef * (yi - f)
    for k in range(h):
        t = fast_tanh(w[k] * xi + w[h + k])
        s, v = 1.0 - t * t, w[2 * h + k]
        u, b, o = k, h + k, 2 * h + k               # indices of u_k, c_k, v_k
        tt = -2.0 * v * t * s                        # v d^2 tanh(z) / dz^2
        out[u, u] += q * tt * xi * xi
        out[b, b] += q * tt
        out[u, b] += q * tt * xi
        out[b, u] += q * tt * xi
        out[u, o] += q * s * xi
        out[o, u] += q * s * xi
        out[b, o] += q * s
        out[o, b] += q * s


@jit_serial
def _softmax_hess_row(w, xi, a, kc, coef, tmp, out):
    """Add ``coef a (diag p - p p^T) (x) xt xt^T`` with ``xt = (x, 1)`` to ``out``."""
    nf = xi.size
    lse = _softmax_probs(w, xi, kc, tmp)
    for k in range(kc):
        tmp[k] = math.exp(tmp[k] - lse)
    for k in range(kc):
        for k2 in range(kc):
            pk = a * coef * tmp[k] * ((1.0 if k == k2 else 0.0) - tmp[k2])
            for j in range(nf + 1):
                pj = k * nf + j if j < nf else kc * nf + k
                xj = xi[j] if j < nf else 1.0
                for q in range(nf + 1):
                    pq = k2 * nf + q if q < nf else kc * nf + k2
                    out[pj, pq] += pk * xj * (xi[q] if q < nf else 1.0)


@jit_serial
def _logistic_hess_row(w, xi, a, coef, out):
    """Add ``coef a sigma (1 - sigma) xt xt^T`` with ``xt = (x, 1)`` to ``out``."""
    nf = xi.size
    z = w[nf]
    for q in range(nf):
        z += w[q] * xi[q]
    s = 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
    k = coef * a * s * (1.0 - s)
    for p in range(nf + 1):
        xp = xi[p] if p < nf else 1.0
        for q in range(nf + 1):
            out[p, q] += k * xp * (xi[q] if q < nf else 1.0)


@jit_serial
def hessian_row(kind, w, x, y, i, a, m, coef, tmp, gf, out):
    """Add ``coef`` times the Hessian of the data term ``a r_i`` to ``out (d, d)``."""
    if kind == NET:
        _net_hess_row(w, x[i, 0], y[i], a, m, coef, gf, out)
    elif kind == LINEAR:
        out += (2.0 * a * coef) * np.outer(x[i], x[i])
    elif kind == LOGISTIC:
        _logistic_hess_row(w, x[i], a, coef, out)
    else:
        _softmax_hess_row(w, x[i], a, m, coef, tmp, out)


@jit_serial
def loss_hessian(kind, w, x, y, a, c, m, tmp, gf, out):
    """Exact Hessian ``(d, d)`` of the full loss ``L = mean_i l_i`` into ``out``."""
    out[:, :] = 0.0
    for i in range(x.shape[0]):
        hessian_row(kind, w, x, y, i, a, m, 1.0 / x.shape[0], tmp, gf, out)
    for j in range(w.size):
        out[j, j] += 2.0 * a * c


@jit_serial
def sample_hessians(kind, w, x, y, a, c, m, tmp, gf, out):
    """Exact per-sample Hessians ``out (N, d, d)`` of the ``l_i``."""
    out[:] = 0.0
    for i in range(x.shape[0]):
        hessian_row(kind, w, x, y, i, a, m, 1.0, tmp, gf, out[i])
        for j in range(w.size):
            out[i, j, j] += 2.0 * a * c


@jit_serial
def stacked_sample_gradients(kind, ws, x, y, a, c, m, tmp, out):
    """Per-sample gradients ``out (n, N, d)`` at each row of ``ws (n, d)``."""
    for r in range(ws.shape[0]):
        sample_gradients(kind, ws[r], x, y, a, c, m, tmp, out[r])


# ----------------------------------------------------------------------------- chain entry points
# Plain functions, compiled with the explicit signature of the model dispatch on first use
# (fpsolve.learning.models.dispatch): a constant ``kind`` that LLVM folds into batch_gradient.
def net_batch(w, x, y, idx, start, b, theta, tmp, out):
    """:func:`batch_gradient` of the tanh network, ``theta = (a, c, hidden)``."""
    return batch_gradient(NET, w, x, y, idx, start, b, theta[0], theta[1], int(theta[2]), tmp,
                          out)


def linear_batch(w, x, y, idx, start, b, theta, tmp, out):
    """:func:`batch_gradient` of the linear model, ``theta = (a, c, 1)``."""
    return batch_gradient(LINEAR, w, x, y, idx, start, b, theta[0], theta[1], 1, tmp, out)


def logistic_batch(w, x, y, idx, start, b, theta, tmp, out):
    """:func:`batch_gradient` of logistic regression, ``theta = (a, c, 1)``."""
    return batch_gradient(LOGISTIC, w, x, y, idx, start, b, theta[0], theta[1], 1, tmp, out)


def softmax_batch(w, x, y, idx, start, b, theta, tmp, out):
    """:func:`batch_gradient` of softmax regression, ``theta = (a, c, n_classes)``."""
    return batch_gradient(SOFTMAX, w, x, y, idx, start, b, theta[0], theta[1], int(theta[2]),
                          tmp, out)
