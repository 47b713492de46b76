"""The one chain loop of SGD, the samplers and the slice runs, with the minibatch schedules.

A step of chain ``c`` at global step ``t`` is

    w <- w - eta g_t + amp zeta_t        (on the parameters ``free``),

where ``g_t`` is the gradient estimate of the schedule ``mode`` (``WR``: ``B`` distinct indices
drawn afresh; ``WOR``: one shuffle per epoch of ``R = N // B`` disjoint batches; ``PALINDROME``:
WOR epochs in pairs, the second walking the batches of the first in reverse order; ``FULL``:
all ``N`` samples), optionally with a control variate (``cv``: ``g + gbar - mean_batch
gref``), computed by the model's batch function ``grad_fn``
(:mod:`fpsolve.learning.models.dispatch`).  ``zeta_t`` are the normals of
``(key, c, t)`` (:mod:`fpsolve._random`); with ``lm`` the noise is
``amp (zeta_t + zeta_{t+1}) / 2`` (Leimkuhler-Matthews); with ``midpoint`` the gradient is
taken at ``w - (eta / 2) g + (amp / 2) (zeta_t + zeta'_t)`` on the same batch (the midpoint
sampler of docs/sgworld.md).  Every draw is a pure function of
``(key, chain, step)``, so nothing depends on threads, chunks or resuming.
"""

from __future__ import annotations

import math

from ..._numba import jit_serial, jit_typed, prange, types
from ..._random import INDEX_TAG, SHUFFLE_TAG, index_block, index_draw, normal_pair
from ..models import _kernels as builtin
from ..models import _kernels_mlp as mlp
from ..models.dispatch import BATCH_TYPE, DATA_X, DATA_Y, MLP

__all__ = ["BAD_LOSS", "BAD_PARAMS", "FULL", "OK", "PALINDROME", "WOR", "WR", "cv_correction",
           "draw_normals", "fill_batches", "langevin_update", "midpoint_state", "model_batch",
           "release_batch", "run_chain", "run_chains", "select_batch", "step_normals",
           "wor_shuffle", "wr_select"]

WR, WOR, FULL, PALINDROME = 0, 1, 2, 3
OK, BAD_LOSS, BAD_PARAMS = 0, 1, 2


# ----------------------------------------------------------------------------- schedules
@jit_serial
def wr_select(key, chain, step, n, b, pool):
    """WR batch of ``step``: partial Fisher-Yates on the identity ``pool[:n]`` -> ``pool[:b]``;
    the swap partners go to ``pool[n:n + b]`` for :func:`release_batch`."""
    words = index_block(key, INDEX_TAG, 0, chain, step)
    for j in range(b):
        if j % 4 == 0 and j > 0:
            words = index_block(key, INDEX_TAG, j // 4, chain, step)
        r = j + index_draw(words[j % 4], n - j)
        pool[n + j] = r
        pool[j], pool[r] = pool[r], pool[j]


@jit_serial
def wor_shuffle(key, chain, epoch, n, pool):
    """Uniform permutation of epoch ``epoch`` in ``pool[:n]`` (Fisher-Yates of the identity)."""
    for i in range(n):
        pool[i] = i
    words = index_block(key, SHUFFLE_TAG, 0, chain, epoch)
    for j in range(n - 1):
        if j % 4 == 0 and j > 0:
            words = index_block(key, SHUFFLE_TAG, j // 4, chain, epoch)
        r = j + index_draw(words[j % 4], n - j)
        pool[j], pool[r] = pool[r], pool[j]


@jit_serial
def select_batch(key, mode, chain, t, first, n, b, pool):
    """Put the batch of step ``t`` in ``pool``; return where it starts (``pool[start:start+b]``).

    WOR reshuffles at each epoch start and at the ``first`` step of a call (a permutation is a
    pure function of its epoch); PALINDROME epochs ``2e`` and ``2e + 1`` share permutation ``e``,
    the second in reverse batch order; FULL uses the identity; WR needs :func:`release_batch`.
    """
    if mode == WR:
        wr_select(key, chain, t, n, b, pool)
        return 0
    if mode == FULL:
        return 0
    nb = n // b
    k, epoch = t % nb, t // nb
    if mode == WOR:
        if k == 0 or first:
            wor_shuffle(key, chain, epoch, n, pool)
        return k * b
    if (k == 0 and epoch % 2 == 0) or first:
        wor_shuffle(key, chain, epoch // 2, n, pool)
    return (k if epoch % 2 == 0 else nb - 1 - k) * b


@jit_serial
def release_batch(mode, n, b, pool):
    """Undo :func:`wr_select` (WR): ``pool[:n]`` is the identity again; nothing otherwise."""
    for j in range(b - 1 if mode == WR else -1, -1, -1):
        r = pool[n + j]
        pool[j], pool[r] = pool[r], pool[j]


@jit_serial
def fill_batches(key, mode, chain, step0, n, b, pool, out):
    """``out[s]`` = the batch of step ``step0 + s``, exactly as :func:`run_chain` draws it."""
    for s in range(out.shape[0]):
        start = select_batch(key, mode, chain, step0 + s, s == 0, n, b, pool)
        out[s, :] = pool[start:start + b]
        release_batch(mode, n, b, pool)


# ----------------------------------------------------------------------------- one step
@jit_serial
def model_batch(kind, grad_fn, w, x, y, idx, start, b, theta, tmp, out):
    """The model's minibatch gradient into ``out``, its loss returned: built-in models (``kind``
    >= 0) by a direct call the compiler can inline, others through ``grad_fn``."""
    if kind == MLP:
        return mlp.batch_gradient(w, x, y, idx, start, b, int(theta[2]), int(theta[3]),
                                  theta[0], theta[1], tmp, out)
    if kind >= 0:
        return builtin.batch_gradient(kind, w, x, y, idx, start, b, theta[0], theta[1],
                                      int(theta[2]), tmp, out)
    return grad_fn(w, x, y, idx, start, b, theta, tmp, out)


@jit_serial
def cv_correction(gref, gbar, idx, start, b, grad):
    """``grad += gbar - mean_{j in [start, start + b)} gref[idx[j]]`` (control variate)."""
    for q in range(grad.size):
        s = 0.0
        for j in range(start, start + b):
            s += gref[idx[j], q]
        grad[q] += gbar[q] - s / b


@jit_serial
def draw_normals(key, zt, chain, t, first, scratch, out):
    """``out[k]`` = normal ``first + k`` of ``(chain, t)`` (the values of ``normal_pair``)."""
    k = 0
    while k < out.size:
        n = first + k
        z0, z1 = normal_pair(key, zt, chain, t, n // 2, scratch)
        out[k] = z0 if n % 2 == 0 else z1
        if n % 2 == 0 and k + 1 < out.size:
            out[k + 1] = z1
            k += 1
        k += 1


@jit_serial
def step_normals(key, zt, chain, t, lm, midpoint, scratch, z):
    """The normals of step ``t``, each drawn once, into ``z (2d,)``: ``zeta_t`` in ``z[:d]``;
    ``zeta'_t`` (normals ``d .. 2d - 1`` of the step, midpoint) or ``zeta_{t+1}`` (LM) in
    ``z[d:]``."""
    d = z.size // 2
    draw_normals(key, zt, chain, t, 0, scratch, z[:d])
    if midpoint:
        draw_normals(key, zt, chain, t, d, scratch, z[d:])
    elif lm:
        draw_normals(key, zt, chain, t + 1, 0, scratch, z[d:])


@jit_serial
def langevin_update(eta, amp, lm, free, grad, w, z):
    """``w[free] -= eta grad[free]`` (every parameter when ``free`` is empty: contiguous loops
    that vectorize), plus ``amp zeta_t`` (``lm``: ``amp (zeta_t + zeta_{t+1}) / 2``) on every
    parameter when ``amp > 0`` (normals from :func:`step_normals`); False if a moving
    parameter is not finite."""
    d = w.size
    if free.size == 0:
        for q in range(d):
            w[q] -= eta * grad[q]
    else:
        for q in free:
            w[q] -= eta * grad[q]
    for q in range(d if amp > 0.0 else 0):
        w[q] += amp * (0.5 * (z[q] + z[d + q]) if lm else z[q])
    ok = True
    if free.size == 0:
        for q in range(d):
            ok &= math.isfinite(w[q])
    else:
        for q in free:
            ok &= math.isfinite(w[q])
    return ok


@jit_serial
def midpoint_state(eta, amp, grad, w, z, wmid):
    """``wmid = w - (eta / 2) grad + (amp / 2) (zeta_t + zeta'_t)``: the midpoint of a step
    (normals from :func:`step_normals`)."""
    d = w.size
    for q in range(d):
        wmid[q] = w[q] - 0.5 * eta * grad[q] + 0.5 * amp * (z[q] + z[d + q])


@jit_serial
def run_chain(kind, grad_fn, x, y, theta, key, zt, mode, b, eta, amp, lm, midpoint, free,
              max_loss, step0, n_steps, every, row0, chain, w, out, pool, tmp, gref, gbar, cv,
              grad, work, scratch, status):
    """Advance one chain from global step ``step0``; stop at divergence.

    ``midpoint``: the gradient is taken again, on the same batch, at :func:`midpoint_state`.
    ``work (3d,)``: the step's normals (:func:`step_normals`), then the midpoint state.
    After global step ``s = k every``, ``out[k - row0] = w`` when that row exists.
    ``status = (code, step, loss)``: ``BAD_LOSS`` when the minibatch loss at ``w_step`` is not
    ``<= max_loss``, ``BAD_PARAMS`` when ``w_{step+1}`` is not finite.
    """
    n, nb, d = x.shape[0], x.shape[0] if mode == FULL else b, w.size
    z, wmid = work[:2 * d], work[2 * d:]
    for t in range(step0, step0 + n_steps):
        start = select_batch(key, mode, chain, t, t == step0, n, b, pool)
        loss = model_batch(kind, grad_fn, w, x, y, pool, start, nb, theta, tmp, grad)
        if cv:
            cv_correction(gref, gbar, pool, start, b, grad)
        if amp > 0.0:
            step_normals(key, zt, chain, t, lm, midpoint, scratch, z)
        if midpoint:
            midpoint_state(eta, amp, grad, w, z, wmid)
            model_batch(kind, grad_fn, wmid, x, y, pool, start, nb, theta, tmp, grad)
            if cv:
                cv_correction(gref, gbar, pool, start, b, grad)
        release_batch(mode, n, b, pool)
        if not loss <= max_loss:
            status[0], status[1], status[2] = BAD_LOSS, t, loss
            return
        if not langevin_update(eta, amp, lm, free, grad, w, z):
            status[0], status[1], status[2] = BAD_PARAMS, t + 1, loss
            return
        if (t + 1) % every == 0 and 0 <= (t + 1) // every - row0 < out.shape[0]:
            out[(t + 1) // every - row0, :] = w


_F1, _F2, _F3 = types.float64[::1], types.float64[:, ::1], types.float64[:, :, ::1]
_I8, _F8, _B = types.int64, types.float64, types.boolean
_CHAINS = types.void(_I8, BATCH_TYPE, DATA_X, DATA_Y, _F1, types.uint64[::1], _F2, _I8, _I8, _F8,
                     _F8, _B, _B, types.int64[::1], _F8, _I8, _I8, _I8, _I8, _I8, _F2, _F1, _B, _F2,
                     _F3, types.int64[:, ::1], _F2, _F2, _F2, types.uint64[:, :, ::1], _F2)


def _run_chains(kind, grad_fn, x, y, theta, key, zt, mode, b, eta, amp, lm, midpoint, free,
                max_loss, step0, n_steps, every, row0, chain0, gref, gbar, cv, w, out, pool, tmp,
                grad, work, scratch, status):
    """All chains (``prange``): ``w (C, d)``, ``out (n_rows, C, d)``, ``status (C, 3)``; row
    ``ch`` is chain ``chain0 + ch`` (its random stream), so a shard of chains ``[c0, c1)`` run
    with ``chain0 = c0`` draws exactly what those chains draw in one run of all."""
    for ch in prange(w.shape[0]):
        run_chain(kind, grad_fn, x, y, theta, key, zt, mode, b, eta, amp, lm, midpoint, free,
                  max_loss, step0, n_steps, every, row0, chain0 + ch, w[ch], out[:, ch], pool[ch],
                  tmp[ch], gref, gbar, cv, grad[ch], work[ch], scratch[ch], status[ch])


_compiled = []


def run_chains(*args):
    """:func:`_run_chains` compiled for its explicit signature on first use (a model function
    typed by signature keeps it cacheable; see :mod:`fpsolve.learning.models.dispatch`)."""
    if not _compiled:
        _compiled.append(jit_typed(_CHAINS, parallel=True)(_run_chains))
    _compiled[0](*args)
