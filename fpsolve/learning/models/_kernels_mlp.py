"""Numba kernels of the one-hidden-layer tanh classifier (:mod:`fpsolve.learning.models.mlp`).

Parameters ``w`` are ``W1 (nh, nf)`` row-major, ``b1 (nh,)``, ``W2 (kc, nh)`` row-major,
``b2 (kc,)``; inputs ``x (N, nf)``, integer labels ``y (N,)``.  Hidden units
``h = tanh(W1 x + b1)``, logits ``z = W2 h + b2``, per-sample loss
``l_i = a [CE_i + c |w|^2]`` with ``CE_i = logsumexp(z) - z_{y_i}``.  ``tmp`` is a scratch
vector of ``2 nh + kc`` floats (hidden values, logits, hidden deltas).

SGD, the samplers and the slice runs call :func:`mlp_batch` from the one chain loop of
:mod:`fpsolve.learning.dynamics._kernels`; labels may be integers or exact floats.
"""

from __future__ import annotations

import math

import numpy as np

from ..._numba import jit_parallel, jit_serial, prange
from ._kernels import fast_tanh

__all__ = [
    "add_sample_gradient",
    "batch_gradient",
    "forward",
    "sample_gradients",
    "mlp_batch",
    "stacked_sample_gradients",
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
    the minibatch loss (as :func:`fpsolve.learning.models._kernels.batch_gradient`)."""
    out[:] = 0.0
    loss = 0.0
    for j in range(start, start + b):
        loss += add_sample_gradient(w, x[idx[j]], int(y[idx[j]]), nh, kc, tmp, out)
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


# Compiled with the signature of the model dispatch on first use (models.dispatch).
def mlp_batch(w, x, y, idx, start, b, theta, tmp, out):
    """:func:`batch_gradient` with ``theta = (a, c, hidden, n_classes)`` and float labels."""
    return batch_gradient(w, x, y, idx, start, b, int(theta[2]), int(theta[3]), theta[0],
                          theta[1], tmp, out)
