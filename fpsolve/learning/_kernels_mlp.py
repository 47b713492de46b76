"""Numba kernels of the one-hidden-layer tanh classifier (:mod:`fpsolve.learning.mlp`).

Parameters ``w`` are ``W1 (nh, nf)`` row-major, ``b1 (nh,)``, ``W2 (kc, nh)`` row-major,
``b2 (kc,)``; inputs ``x (N, nf)``, integer labels ``y (N,)``.  Hidden units
``h = tanh(W1 x + b1)``, logits ``z = W2 h + b2``, per-sample loss
``l_i = a [CE_i + c |w|^2]`` with ``CE_i = logsumexp(z) - z_{y_i}``.  ``tmp`` is a scratch
vector of ``2 nh + kc`` floats (hidden values, logits, hidden deltas).

The SGD loop reuses the schedules and the update of :mod:`fpsolve.learning._kernels`, so a
chain draws exactly the batches and noise of :func:`fpsolve.learning.sgd` for the same key.
"""

from __future__ import annotations

import math

import numpy as np

from .._numba import jit_parallel, jit_serial, prange
from ._kernels import BAD_LOSS, BAD_PARAMS, fast_tanh, release_batch, select_batch, sgd_update

__all__ = [
    "add_sample_gradient",
    "batch_gradient",
    "forward",
    "sample_gradients",
    "sgd_chain",
    "sgd_chunk",
    "stacked_sample_gradients",
    "step_gradient",
]


@jit_serial
def forward(w, xi, nh, kc, tmp):
    """Hidden values into ``tmp[:nh]``, logits into ``tmp[nh:nh + kc]``; return logsumexp(z)."""
    nf = xi.size
    for j in range(nh):
        s = w[nh * nf + j]
        for f in range(nf):
            s += w[j * nf + f] * xi[f]
        tmp[j] = fast_tanh(s)
    o2 = nh * nf + nh
    zmax = -math.inf
    for k in range(kc):
        z = w[o2 + kc * nh + k]
        for j in range(nh):
            z += w[o2 + k * nh + j] * tmp[j]
        tmp[nh + k] = z
        zmax = max(zmax, z)
    se = 0.0
    for k in range(kc):
        se += math.exp(tmp[nh + k] - zmax)
    return zmax + math.log(se)


@jit_serial
def add_sample_gradient(w, xi, lab, nh, kc, tmp, out):
    """Add ``grad CE`` of one sample to ``out`` (backpropagation); return ``CE``."""
    nf, o2 = xi.size, nh * xi.size + nh
    lse = forward(w, xi, nh, kc, tmp)
    for j in range(nh):
        tmp[nh + kc + j] = 0.0
    for k in range(kc):
        g = math.exp(tmp[nh + k] - lse) - (1.0 if k == lab else 0.0)   # dCE/dz_k
        out[o2 + kc * nh + k] += g
        for j in range(nh):
            out[o2 + k * nh + j] += g * tmp[j]
            tmp[nh + kc + j] += g * w[o2 + k * nh + j]
    for j in range(nh):
        dh = tmp[nh + kc + j] * (1.0 - tmp[j] * tmp[j])                  # dCE/d(W1 x + b1)_j
        out[nh * nf + j] += dh
        for f in range(nf):
            out[j * nf + f] += dh * xi[f]
    return lse - tmp[nh + lab]


@jit_serial
def batch_gradient(w, x, y, idx, start, b, nh, kc, a, c, tmp, out):
    """Gradient of ``mean_j l_{idx[j]}``, ``j in [start, start + b)``, into ``out``; return
    the minibatch loss (as :func:`fpsolve.learning._kernels.batch_gradient`)."""
    out[:] = 0.0
    loss = 0.0
    for j in range(start, start + b):
        loss += add_sample_gradient(w, x[idx[j]], y[idx[j]], nh, kc, tmp, out)
    reg, scale = 0.0, a / b
    for q in range(w.size):
        reg += w[q] * w[q]
        out[q] = scale * out[q] + 2.0 * a * c * w[q]
    return a * (loss / b + (c * reg if c > 0.0 else 0.0))


@jit_serial
def sample_gradients(w, x, y, nh, kc, a, c, tmp, out):
    """Per-sample gradients ``out (N, d)``; return the full loss."""
    idx = np.arange(x.shape[0])
    loss = 0.0
    for i in range(x.shape[0]):
        loss += batch_gradient(w, x, y, idx, i, 1, nh, kc, a, c, tmp, out[i])
    return loss / x.shape[0]


@jit_parallel
def stacked_sample_gradients(ws, x, y, nh, kc, a, c, out):
    """Per-sample gradients ``out (n, N, d)`` at each row of ``ws (n, d)`` (``prange``)."""
    for r in prange(ws.shape[0]):
        sample_gradients(ws[r], x, y, nh, kc, a, c, np.empty(2 * nh + kc), out[r])


@jit_serial
def step_gradient(x, y, nh, kc, a, c, key, wor, b, chain, t, first, w, pool, tmp, grad):
    """Minibatch gradient of step ``t`` (the batch of :func:`fpsolve.learning.sgd`)."""
    start = select_batch(key, wor, chain, t, first, x.shape[0], b, pool)
    loss = batch_gradient(w, x, y, pool, start, b, nh, kc, a, c, tmp, grad)
    release_batch(wor, x.shape[0], b, pool)
    return loss


@jit_serial
def sgd_chain(x, y, nh, kc, a, c, key, wor, b, eta, amp, max_loss, step0, n_steps, every,
              chain, w, traj, pool, tmp, grad, status):
    """One chain, as :func:`fpsolve.learning._kernels.sgd_chain` (same ``status`` codes)."""
    for t in range(step0, step0 + n_steps):
        loss = step_gradient(x, y, nh, kc, a, c, key, wor, b, chain, t, t == step0, w, pool,
                             tmp, grad)
        if not loss <= max_loss:
            status[0], status[1], status[2] = BAD_LOSS, t, loss
            return
        if not sgd_update(key, chain, t, eta, amp, grad, w):
            status[0], status[1], status[2] = BAD_PARAMS, t + 1, loss
            return
        if (t + 1) % every == 0:
            traj[(t + 1) // every, :] = w


@jit_parallel
def sgd_chunk(x, y, nh, kc, a, c, key, wor, b, eta, amp, max_loss, step0, n_steps, every, w,
              traj, pool, tmp, grad, status):
    """All chains (``prange``) of one chunk: ``w (C, d)``, ``traj (n_saved, C, d)``."""
    for ch in prange(w.shape[0]):
        sgd_chain(x, y, nh, kc, a, c, key, wor, b, eta, amp, max_loss, step0, n_steps, every,
                  ch, w[ch], traj[:, ch], pool[ch], tmp[ch], grad[ch], status[ch])
