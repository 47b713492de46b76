"""Numba kernels of the posterior samplers and of the epoch maps of their linearized chains.

Samplers (:mod:`fpsolve.learning.samplers`).  One step of chain ``c`` is the SGD step of
:mod:`fpsolve.learning._kernels` with temperature 1,

    w_{t+1} = w_t - eta g_t + sqrt(2 eta) zeta_t,

where ``g_t`` is the full gradient (``FULL``, ULA), the gradient of a WR or WOR minibatch
(``WR``: SGLD, ``WOR``: SGWORLD), or a control-variate estimate around ``w_ref`` (``cv``:
``g = grad L(w_ref) + mean_batch [grad l_i(w) - grad l_i(w_ref)]``, SGLDCV).  Batches and normals
come from the same counter-based Philox streams as :func:`~fpsolve.learning.sgd`, so SGLD and
SGWORLD chains equal ``sgd(..., noise=1)`` chains of the same key bit for bit.

Epoch maps (:mod:`fpsolve.learning.sampler_moments`).  For a quadratic loss with per-sample Hessians
``h_i`` and per-sample gradients ``q_i`` at the minimum (``mean_i q_i = 0``), the deviation
``x = w - w*`` after one WOR epoch of permutation ``pi`` is ``x_R = Phi x_0 + ups + nu`` with
``Phi = A_{R-1} ... A_0``, ``A_k = I - eta H_k``, ``ups = sum_k Pi_k (-eta q_k)`` and Gaussian
``nu`` of covariance ``Q = 2 eta sum_k Pi_k Pi_k^T`` (``Pi_k = A_{R-1} ... A_{k+1}``; ``H_k``,
``q_k`` the batch means).  :func:`epoch_maps` returns these per permutation together with the
control variates ``T = sum_{j<k} H_k H_j``, ``J = sum_k k (H_k - H)`` and
``S = sum_{j<k} H_k q_j``, whose expectations are known in closed form.  The permutation of index
``j`` is the WOR shuffle of epoch ``perm0 + j`` of chain 0 under ``key``.
"""

from __future__ import annotations

import numpy as np

from .._numba import jit_parallel, jit_serial, prange
from ._kernels import (
    BAD_LOSS,
    BAD_PARAMS,
    batch_gradient,
    release_batch,
    select_batch,
    sgd_update,
    wor_shuffle,
)

__all__ = [
    "FULL",
    "WOR",
    "WR",
    "batch_mean",
    "cv_correction",
    "epoch_map",
    "epoch_maps",
    "matmul_add",
    "noise_step",
    "phase_moments",
    "phase_sums",
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


# ----------------------------------------------------------------------------- epoch maps
@jit_serial
def batch_mean(h, idx, start, b, out):
    """``out = mean_{j in [start, start + b)} h[idx[j]]`` for ``h (N, k)``, ``out (k,)``."""
    out[:] = 0.0
    for j in range(start, start + b):
        out += h[idx[j]]
    out /= b


@jit_serial
def matmul_add(a, b, alpha, out):
    """``out += alpha a @ b`` for square matrices (explicit loops: no allocation)."""
    d = a.shape[0]
    for i in range(d):
        for k in range(d):
            aik = alpha * a[i, k]
            if aik != 0.0:
                for j in range(d):
                    out[i, j] += aik * b[k, j]


@jit_serial
def noise_step(hm, eta, qn, work):
    """``qn <- A qn A^T + 2 eta I`` with ``A = I - eta hm`` (``hm`` symmetric)."""
    d = hm.shape[0]
    work[:, :] = 0.0
    matmul_add(hm, qn, 1.0, work)                 # work = hm qn
    for i in range(d):
        for j in range(d):
            qn[i, j] -= eta * (work[i, j] + work[j, i])
        qn[i, i] += 2.0 * eta
    matmul_add(work, hm, eta * eta, qn)           # + eta^2 hm qn hm


@jit_serial
def epoch_map(h, q, hbar, eta, b, pool, phi, ups, qn, t, jc, s):
    """Epoch map of the permutation ``pool`` (see the module docstring) into the outputs.

    ``h (N, d*d)`` and ``hbar (d*d,)`` hold the per-sample and mean Hessians row-major.
    """
    d = q.shape[1]
    hk, qk, work = np.empty(d * d), np.empty(d), np.empty((d, d))
    hsum, qsum, old = np.zeros((d, d)), np.zeros(d), np.empty((d, d))
    phi[:, :], ups[:], qn[:, :], t[:, :], jc[:, :], s[:] = np.eye(d), 0.0, 0.0, 0.0, 0.0, 0.0
    for k in range(h.shape[0] // b):
        batch_mean(h, pool, k * b, b, hk)
        batch_mean(q, pool, k * b, b, qk)
        hm = hk.reshape(d, d)
        matmul_add(hm, hsum, 1.0, t)
        s += hm @ qsum
        jc += k * (hm - hbar.reshape(d, d))
        old[:, :] = phi
        matmul_add(hm, old, -eta, phi)
        ups += -eta * (hm @ ups + qk)
        noise_step(hm, eta, qn, work)
        hsum += hm
        qsum += qk


@jit_parallel
def epoch_maps(h, q, hbar, eta, b, key, perm0, phi, ups, qn, t, jc, s):
    """:func:`epoch_map` of the permutations ``perm0 .. perm0 + n - 1`` (``prange``)."""
    n = h.shape[0]
    for j in prange(phi.shape[0]):
        pool = np.empty(n, dtype=np.int64)
        wor_shuffle(key, 0, perm0 + j, n, pool)
        epoch_map(h, q, hbar, eta, b, pool, phi[j], ups[j], qn[j], t[j], jc[j], s[j])


@jit_serial
def phase_sums(h, q, eta, b, pool, m, s0, mu_sum, m_sum):
    """Sums over the phases ``k = 0 .. R-1`` of an epoch of the conditional moments.

    Given ``E x_0 = m`` and ``E x_0 x_0^T = s0`` (``x_0`` independent of the permutation), the
    mean ``mu_k`` and second moment ``M_k`` after ``k`` steps follow ``mu' = A mu + u``,
    ``M' = A M A^T + A mu u^T + u (A mu)^T + u u^T + 2 eta I``, ``u = -eta q_k``.
    """
    d = q.shape[1]
    hk, u, work = np.empty(d * d), np.empty(d), np.empty((d, d))
    mu, M = m.copy(), s0.copy()
    mu_sum[:], m_sum[:, :] = 0.0, 0.0
    for k in range(h.shape[0] // b):
        mu_sum += mu
        m_sum += M
        batch_mean(h, pool, k * b, b, hk)
        batch_mean(q, pool, k * b, b, u)
        u *= -eta
        hm = hk.reshape(d, d)
        amu = mu - eta * (hm @ mu)
        noise_step(hm, eta, M, work)
        for i in range(d):
            for j in range(d):
                M[i, j] += amu[i] * u[j] + u[i] * amu[j] + u[i] * u[j]
        mu = amu + u


@jit_parallel
def phase_moments(h, q, eta, b, key, perm0, m, s0, mu_sum, m_sum):
    """:func:`phase_sums` of the permutations of :func:`epoch_maps` (``prange``)."""
    n = h.shape[0]
    for j in prange(mu_sum.shape[0]):
        pool = np.empty(n, dtype=np.int64)
        wor_shuffle(key, 0, perm0 + j, n, pool)
        phase_sums(h, q, eta, b, pool, m, s0, mu_sum[j], m_sum[j])
