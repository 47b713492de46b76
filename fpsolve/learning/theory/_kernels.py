"""Numba kernels of the epoch maps of linearized sampler chains
(:mod:`fpsolve.learning.theory.sampler_moments`).

For a quadratic loss with per-sample Hessians
``h_i`` and per-sample gradients ``q_i`` at the minimum (``mean_i q_i = 0``), the deviation
``x = w - w*`` after one WOR epoch of permutation ``pi`` is ``x_R = Phi x_0 + ups + nu`` with
``Phi = A_{R-1} ... A_0``, ``A_k = I - eta H_k``, ``ups = sum_k Pi_k (-eta q_k)`` and Gaussian
``nu`` of covariance ``Q = 2 eta sum_k Pi_k Pi_k^T`` (``Pi_k = A_{R-1} ... A_{k+1}``; ``H_k``,
``q_k`` the batch means).  :func:`epoch_maps` returns these per permutation together with the
control variates ``T = sum_{j<k} H_k H_j``, ``J = sum_k k (H_k - H)`` and
``S = sum_{j<k} H_k q_j``, whose expectations are known in closed form.  The permutation of index
``j`` is the WOR shuffle of epoch ``perm0 + j`` of chain 0 under ``key``.

:func:`scheme_epoch_maps` generalizes the map to the step rules of
:mod:`fpsolve.learning.theory.sampler_schemes`: ``A_k = I - eta H_k + alpha eta^2 H_k^2``,
``u_k = -eta q_k + gamma eta^2 H_k q_k``, noise
``2 eta (I - beta eta H_k / 4)^2 + zeta eta^3 H_k^2 / 2``, batches
visited in a given ``order`` (palindromic schedules visit ``0 .. R-1, R-1 .. 0``).
"""

from __future__ import annotations

import numpy as np

from ..._numba import jit_parallel, jit_serial, prange
from ..dynamics._kernels import wor_shuffle

__all__ = ["batch_mean", "epoch_map", "epoch_maps", "matmul_add", "noise_step", "phase_moments",
           "phase_sums", "scheme_epoch_map", "scheme_epoch_maps"]


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


# ----------------------------------------------------------------------------- step rules
@jit_serial
def scheme_epoch_map(h, q, hbar, eta, b, pool, order, coef, phi, ups, qn, t, jc, s):
    """Map of the batch sequence ``order`` (batch ``k`` = ``pool[k b:(k + 1) b]``) under the
    step rule ``coef = (alpha, gamma, beta, zeta)`` (module docstring).  Control variates:
    ``t = sum_{a<c} H_c H_a + alpha sum_a H_a^2``, ``jc = sum_a a (H_a - H)``,
    ``s = sum_{a<c} H_c q_a + gamma sum_a H_a q_a`` (``a``, ``c`` positions in ``order``).
    """
    d = q.shape[1]
    alpha, gamma, beta = coef[0], coef[1], coef[2]
    hk, qk, eye = np.empty(d * d), np.empty(d), np.eye(d)
    hsum, qsum, hb = np.zeros((d, d)), np.zeros(d), hbar.reshape(d, d)
    phi[:, :], ups[:], qn[:, :], t[:, :], jc[:, :], s[:] = eye, 0.0, 0.0, 0.0, 0.0, 0.0
    for a in range(order.size):
        batch_mean(h, pool, order[a] * b, b, hk)
        batch_mean(q, pool, order[a] * b, b, qk)
        hm = hk.reshape(d, d)
        hh, hq = hm @ hm, hm @ qk
        t += hm @ hsum + alpha * hh
        s += hm @ qsum + gamma * hq
        jc += a * (hm - hb)
        A = eye - eta * hm + alpha * eta * eta * hh
        G = eye - 0.25 * beta * eta * hm
        phi[:, :] = A @ phi
        ups[:] = A @ ups - eta * qk + gamma * eta * eta * hq
        qn[:, :] = A @ qn @ A.T + 2.0 * eta * (G @ G.T) + 0.5 * coef[3] * eta**3 * hh
        hsum += hm
        qsum += qk


@jit_parallel
def scheme_epoch_maps(h, q, hbar, eta, b, key, perm0, order, coef, phi, ups, qn, t, jc, s):
    """:func:`scheme_epoch_map` of the permutations of :func:`epoch_maps` (``prange``)."""
    n = h.shape[0]
    for j in prange(phi.shape[0]):
        pool = np.empty(n, dtype=np.int64)
        wor_shuffle(key, 0, perm0 + j, n, pool)
        scheme_epoch_map(h, q, hbar, eta, b, pool, order, coef, phi[j], ups[j], qn[j], t[j],
                         jc[j], s[j])
