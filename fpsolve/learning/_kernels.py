"""Numba kernels of the learning models, the minibatch schedules and the SGD loop.

Models.  ``kind`` selects the model (``NET``, ``LINEAR``, ``SOFTMAX``); ``m`` is its width (hidden
units of the network, classes of the softmax).  Data are ``x (N, F)`` floats and ``y (N,)``
floats (class labels stored as exact floats).  The per-sample loss is
``l_i = a [r_i(w) + c |w|^2]`` with ``r_i = (y_i - f_i)^2`` (regression) or the cross-entropy
(softmax); the drivers in :mod:`fpsolve.learning.models` choose ``a`` and ``c``.

Random numbers.  Every draw is a pure function of ``(key, block, chain, t)``: Philox4x32-10
(Salmon et al., SC'11) of the counter ``(block, chain, t_lo, t_hi)`` under the 64-bit key gives
four 32-bit words.  ``t`` is the step (WR batches, noise) or the epoch (WOR shuffles); blocks
``j // 4`` hold the index draws, ``SHUFFLE + j // 4`` the shuffle draws and ``NOISE + j`` the
normals ``2j, 2j + 1`` (Box-Muller).  An index in ``[0, n)`` is ``(u32 * n) >> 32`` (bias below
``n / 2^32``).  No state is carried, so results do not depend on threads or chunking.
"""

from __future__ import annotations

import math

import numpy as np

from .._numba import jit_parallel, jit_serial, philox4x32, prange

__all__ = ["philox4x32", "index_draw", "normal_pair", "wr_select", "wor_shuffle",
           "fast_tanh", "batch_gradient", "sample_gradients", "stacked_sample_gradients",
           "hessian_row", "loss_hessian", "sample_hessians", "select_batch",
           "release_batch", "fill_batches", "step_gradient", "sgd_update", "sgd_chain", "sgd_chunk"]

NET, LINEAR, SOFTMAX = 0, 1, 2
SHUFFLE = 0x40000000
NOISE = 0x80000000
OK, BAD_LOSS, BAD_PARAMS = 0, 1, 2

_MASK32 = np.uint64(0xFFFFFFFF)
_U11, _U32 = np.uint64(11), np.uint64(32)
_TWO53 = 9007199254740992.0


# ----------------------------------------------------------------------------- random numbers
@jit_serial
def _block(key, block, chain, t):
    """The four 32-bit words of counter ``(block, chain, t)``."""
    tt = np.uint64(t)
    return philox4x32(np.uint64(block), np.uint64(chain), tt & _MASK32, tt >> _U32,
                      key[0], key[1])


@jit_serial
def index_draw(word, n):
    """An integer in ``[0, n)`` from a 32-bit ``word``: ``(word n) >> 32``."""
    return int((word * np.uint64(n)) >> _U32)


@jit_serial
def normal_pair(key, chain, t, j):
    """Standard normals ``2j`` and ``2j + 1`` of step ``t`` (Box-Muller on two 53-bit words)."""
    c0, c1, c2, c3 = _block(key, NOISE + j, chain, t)
    u1 = (float(((c0 << _U32) | c1) >> _U11) + 0.5) / _TWO53    # in (0, 1): log is finite
    u2 = float(((c2 << _U32) | c3) >> _U11) / _TWO53
    rad = math.sqrt(-2.0 * math.log(u1))
    return rad * math.cos(2.0 * math.pi * u2), rad * math.sin(2.0 * math.pi * u2)


# ----------------------------------------------------------------------------- schedules
@jit_serial
def wr_select(key, chain, step, n, b, pool):
    """WR batch of ``step``: partial Fisher-Yates on the identity ``pool[:n]`` -> ``pool[:b]``.

    The swap partners are kept in ``pool[n:n + b]`` for :func:`release_batch`.
    """
    words = _block(key, 0, chain, step)
    for j in range(b):
        if j % 4 == 0 and j > 0:
            words = _block(key, j // 4, chain, step)
        r = j + index_draw(words[j % 4], n - j)
        pool[n + j] = r
        pool[j], pool[r] = pool[r], pool[j]


@jit_serial
def wor_shuffle(key, chain, epoch, n, pool):
    """Uniform permutation of epoch ``epoch`` in ``pool[:n]`` (Fisher-Yates of the identity)."""
    for i in range(n):
        pool[i] = i
    words = _block(key, SHUFFLE, chain, epoch)
    for j in range(n - 1):
        if j % 4 == 0 and j > 0:
            words = _block(key, SHUFFLE + j // 4, chain, epoch)
        r = j + index_draw(words[j % 4], n - j)
        pool[j], pool[r] = pool[r], pool[j]


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
def hessian_row(kind, w, x, y, i, a, m, coef, tmp, gf, out):
    """Add ``coef`` times the Hessian of the data term ``a r_i`` to ``out (d, d)``."""
    if kind == NET:
        _net_hess_row(w, x[i, 0], y[i], a, m, coef, gf, out)
    elif kind == LINEAR:
        out += (2.0 * a * coef) * np.outer(x[i], x[i])
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


# ----------------------------------------------------------------------------- SGD
@jit_serial
def select_batch(key, wor, chain, t, first, n, b, pool):
    """Put the batch of step ``t`` in ``pool``; return where it starts (``pool[start:start+b]``).

    WOR reshuffles at each epoch start and at the ``first`` step of a run or chunk (the
    permutation of an epoch is a pure function of the epoch); WR must be followed by
    :func:`release_batch`.
    """
    if wor:
        nb = n // b
        if t % nb == 0 or first:
            wor_shuffle(key, chain, t // nb, n, pool)
        return (t % nb) * b
    wr_select(key, chain, t, n, b, pool)
    return 0


@jit_serial
def release_batch(wor, n, b, pool):
    """Undo :func:`wr_select` (WR): ``pool[:n]`` is the identity again; nothing for WOR."""
    for j in range(b - 1 if not wor else -1, -1, -1):
        r = pool[n + j]
        pool[j], pool[r] = pool[r], pool[j]


@jit_serial
def fill_batches(key, wor, chain, step0, n, b, pool, out):
    """``out[s]`` = the batch of step ``step0 + s``, exactly as :func:`sgd_chain` draws it."""
    for s in range(out.shape[0]):
        start = select_batch(key, wor, chain, step0 + s, s == 0, n, b, pool)
        out[s, :] = pool[start:start + b]
        release_batch(wor, n, b, pool)


@jit_serial
def step_gradient(kind, x, y, a, c, m, key, wor, b, chain, t, first, w, pool, tmp, grad):
    """Minibatch gradient of step ``t`` into ``grad``; return the minibatch loss."""
    n = x.shape[0]
    start = select_batch(key, wor, chain, t, first, n, b, pool)
    loss = batch_gradient(kind, w, x, y, pool, start, b, a, c, m, tmp, grad)
    release_batch(wor, n, b, pool)
    return loss


@jit_serial
def sgd_update(key, chain, t, eta, amp, grad, w):
    """``w <- w - eta grad + amp zeta_t`` (``amp = 0``: no noise); False if ``w`` is not finite."""
    d = w.size
    for j in range(d):
        w[j] -= eta * grad[j]
    for j in range((d + 1) // 2 if amp > 0.0 else 0):
        z0, z1 = normal_pair(key, chain, t, j)
        w[2 * j] += amp * z0
        if 2 * j + 1 < d:
            w[2 * j + 1] += amp * z1
    for j in range(d):
        if not math.isfinite(w[j]):
            return False
    return True


@jit_serial
def sgd_chain(kind, x, y, a, c, m, key, wor, b, eta, amp, max_loss, step0, n_steps, every,
              chain, w, traj, pool, tmp, grad, status):
    """Advance one chain ``n_steps`` steps from global step ``step0``; stop at divergence.

    ``traj[k] = w`` after step ``k every``.  ``status = (code, step, loss)``: ``BAD_LOSS`` when
    the minibatch loss at ``w_step`` is not ``<= max_loss``, ``BAD_PARAMS`` when ``w_{step+1}``
    is not finite.
    """
    for t in range(step0, step0 + n_steps):
        loss = step_gradient(kind, x, y, a, c, m, key, wor, b, chain, t, t == step0, w, pool,
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
def sgd_chunk(kind, x, y, a, c, m, key, wor, b, eta, amp, max_loss, step0, n_steps, every,
              w, traj, pool, tmp, grad, status):
    """All chains (``prange``) of one chunk: ``w (C, d)``, ``traj (n_saved, C, d)``."""
    for ch in prange(w.shape[0]):
        sgd_chain(kind, x, y, a, c, m, key, wor, b, eta, amp, max_loss, step0, n_steps, every,
                  ch, w[ch], traj[:, ch], pool[ch], tmp[ch], grad[ch], status[ch])
