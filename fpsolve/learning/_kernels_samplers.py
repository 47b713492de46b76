"""Numba kernels of the posterior samplers (epoch maps: :mod:`fpsolve.learning._kernels_moments`).

Samplers (:mod:`fpsolve.learning.samplers`).  One step of chain ``c`` is the SGD step of
:mod:`fpsolve.learning._kernels` with temperature 1,

    w_{t+1} = w_t - eta g_t + sqrt(2 eta) zeta_t,

where ``g_t`` is the full gradient (``FULL``, ULA), the gradient of a WR or WOR minibatch
(``WR``: SGLD, ``WOR``: SGWORLD), or a control-variate estimate around ``w_ref`` (``cv``:
``g = grad L(w_ref) + mean_batch [grad l_i(w) - grad l_i(w_ref)]``, SGLDCV).  Batches and normals
come from the same counter-based Philox streams as :func:`~fpsolve.learning.sgd`, so SGLD and
SGWORLD chains equal ``sgd(..., noise=1)`` chains of the same key bit for bit.

"""

from __future__ import annotations


from .._numba import jit_parallel, jit_serial, prange
from ._kernels import (
    BAD_LOSS,
    BAD_PARAMS,
    batch_gradient,
    release_batch,
    select_batch,
    sgd_update,
)

__all__ = [
    "FULL",
    "WOR",
    "WR",
    "cv_correction",
    "sampler_chain",
    "sampler_chains",
    "sampler_gradient",
]

WR, WOR, FULL = 0, 1, 2


# ----------------------------------------------------------------------------- samplers
@jit_serial
def cv_correction(gref, gbar, idx, start, b, grad):
    """``grad += gbar - mean_{j in [start, start + b)} gref[idx[j]]`` (control variate)."""
    for q in range(grad.size):
        s = 0.0
        for j in range(start, start + b):
            s += gref[idx[j], q]
        grad[q] += gbar[q] - s / b


@jit_serial
def sampler_gradient(kind, x, y, a, c, m, key, mode, b, chain, t, first, w, pool, tmp, gref,
                     gbar, cv, grad):
    """Gradient estimate of step ``t`` into ``grad``; return the (minibatch) loss at ``w``.

    ``FULL`` sums over ``pool[:N]``, which must hold the identity (it is never shuffled).
    """
    n = x.shape[0]
    if mode == FULL:
        return batch_gradient(kind, w, x, y, pool, 0, n, a, c, m, tmp, grad)
    wor = mode == WOR
    start = select_batch(key, wor, chain, t, first, n, b, pool)
    loss = batch_gradient(kind, w, x, y, pool, start, b, a, c, m, tmp, grad)
    if cv:
        cv_correction(gref, gbar, pool, start, b, grad)
    release_batch(wor, n, b, pool)
    return loss


@jit_serial
def sampler_chain(kind, x, y, a, c, m, key, mode, b, eta, amp, max_loss, step0, n_steps, every,
                  skip, chain, w, out, pool, tmp, gref, gbar, cv, grad, status):
    """Advance one chain ``n_steps`` steps from global step ``step0``; stop at divergence.

    After global step ``s = k every`` with ``k > skip``, ``out[k - skip - 1] = w``.  A run cut
    into chunks (consecutive ``step0``) equals one call bit for bit: batches and normals are
    pure functions of the global step.  ``status`` is ``(code, step, loss)`` as in
    :func:`fpsolve.learning._kernels.sgd_chain`.
    """
    for t in range(step0, step0 + n_steps):
        loss = sampler_gradient(kind, x, y, a, c, m, key, mode, b, chain, t, t == step0, w,
                                pool, tmp, gref, gbar, cv, grad)
        if not loss <= max_loss:
            status[0], status[1], status[2] = BAD_LOSS, t, loss
            return
        if not sgd_update(key, chain, t, eta, amp, grad, w):
            status[0], status[1], status[2] = BAD_PARAMS, t + 1, loss
            return
        k = (t + 1) // every
        if (t + 1) % every == 0 and k > skip:
            out[k - skip - 1, :] = w


@jit_parallel
def sampler_chains(kind, x, y, a, c, m, key, mode, b, eta, amp, max_loss, step0, n_steps,
                   every, skip, w, out, pool, tmp, gref, gbar, cv, grad, status):
    """All chains (``prange``) of one chunk: ``w (C, d)``, ``out (n_records, C, d)``,
    ``status (C, 3)``."""
    for ch in prange(w.shape[0]):
        sampler_chain(kind, x, y, a, c, m, key, mode, b, eta, amp, max_loss, step0, n_steps,
                      every, skip, ch, w[ch], out[:, ch], pool[ch], tmp[ch], gref, gbar, cv,
                      grad[ch], status[ch])
