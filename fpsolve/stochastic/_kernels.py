"""Numba kernels of the SDE ensembles: counter-based normals, table interpolation, steps, walls,
and the streaming reductions of the observables.

Every helper works on a *block* of trajectories (rows of ``(B, ...)`` arrays) per call: numba
does not inline one compiled function into another, so per-trajectory calls would cost more
than the arithmetic; per block they cost nothing.  ``live (B,)`` masks the rows still running.

Random numbers.  Every variate is a pure function of ``(key, block, trajectory, step)``: the
Philox4x32-10 block cipher (Salmon et al., SC'11) maps the counter ``(block, traj, step_lo,
step_hi)`` and the 64-bit key ``(key[0], key[1])`` to 128 bits, read as two 64-bit words.
Normals come from a 256-layer ziggurat (Marsaglia & Tsang 2000), one word each; the rare
rejections (about 1 %) draw further words from their own counter blocks.  No state is carried,
so results do not depend on the number of threads or on how trajectories are split.  Counter
blocks: ``m`` (normals ``2m`` and ``2m + 1`` of a step), ``BRIDGE + axis`` (uniforms of the
Brownian-bridge exit test), ``SLOW + component * SLOW_STRIDE + k`` (ziggurat rejections).

Tables are flattened C-ordered cell arrays ``(n_cells, m)`` on a grid given by ``tgeo = [lo; h]``
(float ``(2, d)``) and ``tint = [n; periodic]`` (int ``(2, d)``); a one-row table is a constant.
Walls: ``wall = [lo; hi]`` and ``kind`` per axis (``REFLECTING``, ``PERIODIC``, ``ABSORBING``).
"""

from __future__ import annotations

import math

import numpy as np

from .._numba import jit_parallel, jit_serial, philox4x32_lanes, prange

__all__ = ["advance", "cells_block", "current_update", "fill_normals", "fold_block",
           "histogram_update", "interpolate", "line_integral_update", "locate", "normals_block",
           "philox_words"]

EULER_MARUYAMA, HEUN, MILSTEIN = 0, 1, 2
REFLECTING, PERIODIC, ABSORBING = 0, 1, 2
BRIDGE, SLOW, SLOW_STRIDE = 0x40000000, 0x80000000, 0x20000
BLOCK = 256                                 # trajectories per block of the step kernel

_MASK32, _MASK8 = np.uint64(0xFFFFFFFF), np.uint64(0xFF)
_U1, _U8, _U11, _U32 = np.uint64(1), np.uint64(8), np.uint64(11), np.uint64(32)
_TWO53 = 9007199254740992.0


# ----------------------------------------------------------------------------- random numbers
# Philox4x32-10 over a vector of counters: the shared implementation of fpsolve._numba.
philox_words = philox4x32_lanes


@jit_serial
def _word(key, block, traj, step, scratch, e):
    """64-bit word ``e`` (0 or 1) of the counter ``(block, traj, step)``; ``scratch (5, 1)``."""
    s = np.uint64(step)
    scratch[4, 0] = traj
    philox_words(np.uint64(block), scratch[4], s & _MASK32, s >> _U32, key, scratch)
    return (scratch[2 * e, 0] << _U32) | scratch[2 * e + 1, 0]


@jit_serial
def _unit(w):
    """The top 53 bits of ``w`` as a uniform double in the open interval (0, 1)."""
    return (float(w >> _U11) + 0.5) / _TWO53


@jit_serial
def _ziggurat_slow(w, key, block, traj, step, zt, scratch):
    """Wedge and tail tests; a rejected word is replaced by one from ``block + 2k + 1``."""
    r = zt[1, 1] * _TWO53                   # x_1: start of the tail (layer 0 extends beyond it)
    for k in range(SLOW_STRIDE // 2):
        idx = int(w & _MASK8)
        rabs = float(w >> _U11)
        z = rabs * zt[1, idx]
        sign = -1.0 if (w >> _U8) & _U1 else 1.0
        if rabs < zt[0, idx]:
            return sign * z
        u0 = _unit(_word(key, block + 2 * k, traj, step, scratch, 0))
        u1 = _unit(scratch[2, 0] << _U32 | scratch[3, 0])
        if idx == 0:                        # Marsaglia's tail: r + t, t ~ Exp(r) thinned
            t = -math.log(u0) / r
            if -2.0 * math.log(u1) > t * t:
                return sign * (r + t)
        elif zt[2, idx] + u0 * (zt[2, idx + 1] - zt[2, idx]) < math.exp(-0.5 * z * z):
            return sign * z
        w = _word(key, block + 2 * k + 1, traj, step, scratch, 0)
    return math.nan                         # unreachable: 65536 rejections in a row


@jit_serial
def normals_block(key, zt, rows, step, words, scratch, z):
    """``z[i] =`` the ``d`` standard normals of trajectory ``rows[i]`` at ``step``.

    Ziggurat on one word: 8 bits pick the layer, 1 the sign, 53 the abscissa; ``zt (3, 257)``
    holds the acceptance bounds, the layer widths / 2^53 and ``exp(-x_i^2 / 2)``.
    """
    B, d = z.shape
    s = np.uint64(step)
    for m in range((d + 1) // 2):
        philox_words(np.uint64(m), rows, s & _MASK32, s >> _U32, key, words)
        for i in range(B):
            for e in range(min(2, d - 2 * m)):
                w = (words[2 * e, i] << _U32) | words[2 * e + 1, i]
                idx = int(w & _MASK8)
                rabs = float(w >> _U11)
                if rabs < zt[0, idx]:
                    z[i, 2 * m + e] = -rabs * zt[1, idx] if (w >> _U8) & _U1 else rabs * zt[1, idx]
                else:
                    z[i, 2 * m + e] = _ziggurat_slow(w, key, SLOW + (2 * m + e) * SLOW_STRIDE,
                                                     rows[i], step, zt, scratch)


@jit_parallel
def fill_normals(key, zt, traj0, step0, out):
    """``out[s, i, :]`` = the normals of trajectory ``traj0 + i`` at step ``step0 + s``."""
    n_steps, n = out.shape[0], out.shape[1]
    for b in prange((n + BLOCK - 1) // BLOCK):
        i0, i1 = b * BLOCK, min(n, (b + 1) * BLOCK)
        rows = np.arange(traj0 + i0, traj0 + i1)
        words, scratch = np.empty((4, i1 - i0), np.uint64), np.empty((5, 1), np.uint64)
        for s in range(n_steps):
            normals_block(key, zt, rows, step0 + s, words, scratch, out[s, i0:i1])


# ----------------------------------------------------------------------------- interpolation
@jit_serial
def locate(x, tgeo, tint, idx, w):
    """Flat indices and weights ``idx, w (2^d, B)`` of the multilinear stencil at each row of x.

    Non-periodic axes use the two nearest cell centers, the first/last pair near the walls, so
    the weights extrapolate linearly there (and beyond); periodic axes wrap.  Affine functions
    are reproduced exactly up to rounding.  Any row, even non-finite, gets a valid stencil.
    """
    B, m = x.shape[0], 1
    i0, f = np.empty(B, np.int64), np.empty(B)
    idx[0, :], w[0, :] = 0, 1.0
    for k in range(x.shape[1]):
        n, lo, inv_h, periodic = tint[0, k], tgeo[0, k], 1.0 / tgeo[1, k], tint[1, k]
        for i in range(B):
            s = (x[i, k] - lo) * inv_h - 0.5
            if periodic:
                s = s % n if math.isfinite(s) else 0.0
                i0[i] = min(int(s), n - 1)
            else:                           # comparisons, not int(s): safe for NaN and huge s
                i0[i] = 0 if not s >= 1.0 else (n - 2 if s >= n - 2 else int(s))
            f[i] = s - i0[i]
        for c in range(m):                  # corner c + m takes the upper neighbour on axis k
            for i in range(B):
                i1 = (i0[i] + 1) % n if periodic else i0[i] + 1
                idx[c + m, i], w[c + m, i] = idx[c, i] * n + i1, w[c, i] * f[i]
                idx[c, i], w[c, i] = idx[c, i] * n + i0[i], w[c, i] * (1.0 - f[i])
        m *= 2


@jit_serial
def interpolate(tab, idx, w, out):
    """``out[i, j] = sum_c w[c, i] tab[idx[c, i], j]``; a one-row ``tab`` is a constant."""
    for j in range(out.shape[1]):
        for i in range(out.shape[0]):
            out[i, j] = tab[0, j] if tab.shape[0] == 1 else w[0, i] * tab[idx[0, i], j]
        for c in range(1 if tab.shape[0] > 1 else idx.shape[0], idx.shape[0]):
            for i in range(out.shape[0]):
                out[i, j] += w[c, i] * tab[idx[c, i], j]


# ----------------------------------------------------------------------------- steps
@jit_serial
def _coefficients(x, drift, sig, dsig, tgeo, tint, idx, w, a, s, ds):
    """Drift, flat lower-triangular noise factor and ``d sigma_kk / dx_k`` at the rows of x.

    A drift "table" of ``d + 1`` rows is affine, ``a = drift[0] + x @ drift[1:]`` (a real table
    has at least ``3^d`` rows); the stencil is only computed when some table needs it.
    """
    d = x.shape[1]
    affine = drift.shape[0] == d + 1
    if not affine or sig.shape[0] > 1 or dsig.shape[0] > 1:
        locate(x, tgeo, tint, idx, w)
    if affine:
        for i in range(x.shape[0]):
            for k in range(d):
                acc = drift[0, k]
                for j in range(d):
                    acc += x[i, j] * drift[1 + j, k]
                a[i, k] = acc
    else:
        interpolate(drift, idx, w, a)
    interpolate(sig, idx, w, s)
    if dsig.shape[0] > 0:
        interpolate(dsig, idx, w, ds)


@jit_serial
def _euler(method, x, z, a, s, ds, dt, xn):
    """``xn = x + a dt + s dW`` (+ the diagonal Milstein term), ``dW = sqrt(dt) z``."""
    d, sdt = x.shape[1], math.sqrt(dt)
    for i in range(x.shape[0]):
        for k in range(d):
            acc = 0.0
            for j in range(k + 1):
                acc += s[i, k * d + j] * z[i, j]
            xn[i, k] = x[i, k] + a[i, k] * dt + acc * sdt
            if method == MILSTEIN:          # 1/2 sigma sigma' (dW^2 - dt)
                xn[i, k] += 0.5 * s[i, k * d + k] * ds[i, k] * (z[i, k] * z[i, k] - 1.0) * dt


@jit_serial
def _heun(x, z, a, s, a2, s2, dt, xn):
    """Corrector ``xn = x + (a + a2) dt / 2 + (s + s2) dW / 2`` (a2, s2 at the predictor)."""
    d, sdt = x.shape[1], math.sqrt(dt)
    for i in range(x.shape[0]):
        for k in range(d):
            acc = 0.0
            for j in range(k + 1):
                acc += (s[i, k * d + j] + s2[i, k * d + j]) * z[i, j]
            xn[i, k] = x[i, k] + 0.5 * (a[i, k] + a2[i, k]) * dt + 0.5 * acc * sdt


@jit_serial
def _check(s, xn, live, fail, step, variable):
    """Stop rows with some ``sigma_kk <= 0`` at the start point (reason 1, checked when sigma is
    ``variable``) or a non-finite end point (reason 2): ``fail[i] = (step, reason)``."""
    d = xn.shape[1]
    for i in range(xn.shape[0]):
        for k in range(d if live[i] else 0):
            bad = 1 if variable and not s[i, k * d + k] > 0.0 else \
                (2 if not math.isfinite(xn[i, k]) else 0)
            if bad:
                fail[i, 0], fail[i, 1], live[i] = step, bad, False
                break


# ----------------------------------------------------------------------------- walls
@jit_serial
def fold_block(x, live, wall, kind, wind):
    """Reflect (specularly, any number of times) or wrap the rows of ``x`` on non-absorbing
    axes; rows already inside are left bit-for-bit unchanged; ``wind`` counts the wraps."""
    for i in range(x.shape[0]):
        for k in range(x.shape[1] if live[i] else 0):
            lo, hi = wall[0, k], wall[1, k]
            inside = lo <= x[i, k] < hi or (kind[k] == REFLECTING and x[i, k] == hi)
            if kind[k] == ABSORBING or inside:
                continue
            length = hi - lo
            if kind[k] == REFLECTING:
                y = (x[i, k] - lo) % (2.0 * length)
                x[i, k] = lo + (2.0 * length - y if y > length else y)
            else:
                m = math.floor((x[i, k] - lo) / length)
                x[i, k] = lo + ((x[i, k] - lo) - m * length)
                if x[i, k] >= hi:           # rounding can land exactly on hi
                    x[i, k] -= length
                    m += 1
                wind[i, k] += int(m)


@jit_serial
def _bridge(xo, xn, s, dt, wall, k):
    """Brownian-bridge probabilities of crossing the lower/upper wall of axis k within a step
    between two inside points, ``exp(-2 u v / (2 D_kk dt))`` (u, v: distances to the wall).

    Exponents below ``-38`` give 0: a uniform with 53 random bits is never below ``2^-54``, so
    the outcome is the same and the exponential (and the draw) is saved far from the walls.
    """
    d, var = xo.shape[0], 0.0
    for j in range(k + 1):
        var += s[k * d + j] ** 2 * dt
    e_lo = -2.0 * (xo[k] - wall[0, k]) * (xn[k] - wall[0, k]) / var
    e_hi = -2.0 * (wall[1, k] - xo[k]) * (wall[1, k] - xn[k]) / var
    return math.exp(e_lo) if e_lo > -38.0 else 0.0, math.exp(e_hi) if e_hi > -38.0 else 0.0


@jit_serial
def _exits(xo, xn, s, dt, live, wall, kind, key, rows, step, bridge, scratch, t_exit, side):
    """Absorb rows that cross an absorbing wall: at the straight-line crossing if the end point
    is outside, else (``bridge``) with the bridge probability, at the step's midpoint."""
    d = xo.shape[1]
    for i in range(xo.shape[0]):
        theta, sd = 2.0, 0
        for k in range(d if live[i] else 0):
            if kind[k] == ABSORBING and not wall[0, k] <= xn[i, k] <= wall[1, k]:
                c = 0 if xn[i, k] < wall[0, k] else 1
                t = (xo[i, k] - wall[c, k]) / (xo[i, k] - xn[i, k])
                theta, sd = (t, (k + 1) * (2 * c - 1)) if t < theta else (theta, sd)
        for k in range(d if live[i] and bridge and sd == 0 else 0):
            p_lo, p_hi = _bridge(xo[i], xn[i], s[i], dt, wall, k) if kind[k] == ABSORBING \
                else (0.0, 0.0)
            if p_lo + p_hi > 0.0:
                u = _unit(_word(key, BRIDGE + k, rows[i], step, scratch, 0))
                theta, sd = 0.5, -(k + 1) if u < p_lo else (k + 1 if u < p_lo + p_hi else 0)
                if sd != 0:
                    break
        if sd != 0:
            for k in range(d):
                xn[i, k] = xo[i, k] + theta * (xn[i, k] - xo[i, k])
            xn[i, abs(sd) - 1] = wall[0 if sd < 0 else 1, abs(sd) - 1]
            t_exit[i], side[i] = (step + theta) * dt, sd


@jit_serial
def _commit(xn, live, path, row, rows, x, t_exit):
    """``x = xn`` for live rows; rows just absorbed retire; record into ``path[row, rows]``."""
    record = 0 <= row < path.shape[0]
    for i in range(x.shape[0]):
        if live[i]:
            live[i] = math.isnan(t_exit[i])
            for k in range(x.shape[1]):
                x[i, k] = xn[i, k]
                if record and live[i]:
                    path[row, rows[i], k] = xn[i, k]


@jit_serial
def _compact(nw, live, rows, xw, ww, tw, sw, fw, x, wind, t_exit, side, fail):
    """Write the rows that stopped back to the state arrays and move the live ones to the
    front of the working arrays; returns the new number of working rows."""
    j = 0
    for i in range(nw):
        if not live[i]:
            x[rows[i]], wind[rows[i]], t_exit[rows[i]], side[rows[i]], fail[rows[i]] = \
                xw[i], ww[i], tw[i], sw[i], fw[i]
            continue
        if j < i:
            rows[j], tw[j], sw[j] = rows[i], tw[i], sw[i]
            xw[j], ww[j], fw[j] = xw[i], ww[i], fw[i]
        j += 1
    return j


# ----------------------------------------------------------------------------- ensemble kernel
@jit_serial
def _step(method, nw, rows, xw, ww, tw, sw, fw, vec, mat, idx, w, words, scratch, live, tabs,
          tgeo, tint, wall, kind, key, zt, noise, step, dt, bridge, path, row):
    """One step of the ``nw`` working rows; ``vec = (z, xn, a, ds, a2)`` and ``mat = (s, s2)``
    are scratch, ``idx, w (2^d, B)`` the stencils."""
    rw, x = rows[:nw], xw[:nw]
    z, xn, a, ds, s = vec[0][:nw], vec[1][:nw], vec[2][:nw], vec[3][:nw], mat[0][:nw]
    if noise.shape[0] > 0:
        for i in range(nw):
            z[i] = noise[step, rw[i]]
    else:
        normals_block(key, zt, rw, step, words, scratch, z)
    _coefficients(x, tabs[0], tabs[1], tabs[2], tgeo, tint, idx, w, a, s, ds)
    _euler(method, x, z, a, s, ds, dt, xn)
    if method == HEUN:
        a2, s2 = vec[4][:nw], mat[1][:nw]
        _coefficients(xn, tabs[0], tabs[1], tabs[2], tgeo, tint, idx, w, a2, s2, ds)
        _heun(x, z, a, s, a2, s2, dt, xn)
    _check(s, xn, live[:nw], fw[:nw], step, tabs[1].shape[0] > 1)
    if np.any(kind == ABSORBING):
        _exits(x, xn, s, dt, live[:nw], wall, kind, key, rw, step, bridge, scratch, tw[:nw],
               sw[:nw])
    fold_block(xn, live[:nw], wall, kind, ww[:nw])
    _commit(xn, live[:nw], path, row, rw, x, tw[:nw])


@jit_serial
def _run_block(method, x, wind, t_exit, side, fail, tabs, tgeo, tint, wall, kind, key, zt,
               noise, i0, i1, step0, n_steps, dt, bridge, path, stride, row0):
    """Advance the live trajectories ``i0 <= i < i1`` by ``n_steps``, on compacted copies."""
    sel = np.arange(i0, i1)
    rows = sel[np.isnan(t_exit[i0:i1]) & (fail[i0:i1, 0] < 0)]
    xw, ww, tw, sw, fw = x[rows], wind[rows], t_exit[rows], side[rows], fail[rows]
    nw, d = rows.size, x.shape[1]
    vec = (np.empty((nw, d)), np.empty((nw, d)), np.empty((nw, d)), np.empty((nw, d)),
           np.empty((nw, d)))
    mat, w = (np.empty((nw, d * d)), np.empty((nw, d * d))), np.empty((2 ** d, nw))
    idx, words = np.empty((2 ** d, nw), np.int64), np.empty((4, nw), np.uint64)
    scratch, live = np.empty((5, 1), np.uint64), np.ones(nw, dtype=np.bool_)
    for n in range(n_steps):
        if nw == 0:
            break
        step = step0 + n
        r = (step + 1) // stride - row0 if stride > 0 and (step + 1) % stride == 0 else -1
        _step(method, nw, rows, xw, ww, tw, sw, fw, vec, mat, idx, w, words, scratch, live, tabs,
              tgeo, tint, wall, kind, key, zt, noise, step, dt, bridge, path, r)
        if not live[:nw].all():
            nw = _compact(nw, live, rows, xw, ww, tw, sw, fw, x, wind, t_exit, side, fail)
            live[:nw] = True
    for i in range(nw):
        x[rows[i]], wind[rows[i]] = xw[i], ww[i]


@jit_parallel
def advance(method, x, wind, t_exit, side, fail, drift, sig, dsig, tgeo, tint, wall, kind, key, zt,
            noise, step0, n_steps, dt, bridge, path, stride, row0):
    """Advance every live trajectory from global step ``step0`` by ``n_steps`` steps.

    ``path[r, i]`` receives the position after global step ``g`` when ``g % stride == 0`` and
    ``r = g // stride - row0`` is a valid row (nothing is recorded when ``stride == 0``).
    ``noise (n_total_steps, n_traj, d)`` replaces the generated normals when non-empty.  Dead
    trajectories (``t_exit`` set or ``fail[i, 0] >= 0``) are skipped; a failure stores
    ``fail[i] = (step, 1)`` where some ``sigma_kk <= 0`` and ``(step, 2)`` for a non-finite step.
    Each block of ``BLOCK`` trajectories works on compacted copies of its live rows.
    """
    n = x.shape[0]
    tabs = (drift, sig, dsig)
    for b in prange((n + BLOCK - 1) // BLOCK):
        _run_block(method, x, wind, t_exit, side, fail, tabs, tgeo, tint, wall, kind, key, zt,
                   noise, b * BLOCK, min(n, (b + 1) * BLOCK), step0, n_steps, dt, bridge, path,
                   stride, row0)


# ----------------------------------------------------------------------------- observables
@jit_serial
def cells_block(x, glo, gh, gn, out):
    """Flat C-order cell index of each row of ``x`` on a grid, -1 outside or non-finite (points
    on the upper walls belong to the last cells)."""
    for i in range(x.shape[0]):
        c = 0
        for k in range(x.shape[1]):
            if not glo[k] <= x[i, k] <= glo[k] + gh[k] * gn[k]:
                c = -1
                break
            c = c * gn[k] + min(int((x[i, k] - glo[k]) / gh[k]), gn[k] - 1)
        out[i] = c


@jit_parallel
def histogram_update(path, rows, glo, gh, gn, counts):
    """``counts[b, cell] += 1`` for the finite ``path[r, i]``, ``r`` in ``rows``, where
    trajectory ``i`` belongs to the ``b``-th of ``counts.shape[0]`` fixed blocks (so no sum
    depends on the thread count)."""
    n, blocks = path.shape[1], counts.shape[0]
    for b in prange(blocks):
        i0, i1 = b * n // blocks, (b + 1) * n // blocks
        cell = np.empty(i1 - i0, dtype=np.int64)
        for r in rows:
            cells_block(path[r, i0:i1], glo, gh, gn, cell)
            for c in cell:
                if c >= 0:
                    counts[b, c] += 1


@jit_serial
def _midpoints(x0, x1, glo, period, dx, mid):
    """Increments (minimum image on axes with ``period > 0``) and wrapped midpoints, by row."""
    for i in range(x0.shape[0]):
        for k in range(x0.shape[1]):
            dx[i, k] = x1[i, k] - x0[i, k]
            if period[k] > 0.0 and math.isfinite(dx[i, k]):
                dx[i, k] -= period[k] * round(dx[i, k] / period[k])
            mid[i, k] = x0[i, k] + 0.5 * dx[i, k]
            if period[k] > 0.0:
                mid[i, k] = glo[k] + (mid[i, k] - glo[k]) % period[k]


@jit_parallel
def current_update(path, rows, glo, gh, gn, period, acc):
    """``acc[b, cell(mid), :] += x_r - x_{r-1}`` over ``r`` in ``rows`` (blocks as in
    :func:`histogram_update`); steps with a non-finite end fall outside every cell."""
    n, d, blocks = path.shape[1], path.shape[2], acc.shape[0]
    for b in prange(blocks):
        i0, i1 = b * n // blocks, (b + 1) * n // blocks
        dx, mid, cell = np.empty((i1 - i0, d)), np.empty((i1 - i0, d)), np.empty(i1 - i0, np.int64)
        for r in rows:
            _midpoints(path[r - 1, i0:i1], path[r, i0:i1], glo, period, dx, mid)
            cells_block(mid, glo, gh, gn, cell)
            for i in range(i1 - i0):
                for k in range(d if cell[i] >= 0 else 0):
                    acc[b, cell[i], k] += dx[i, k]


@jit_parallel
def line_integral_update(path, rows, tgeo, tint, period, field, potential, total, snap, snaps):
    """Per trajectory ``total[i] += F(mid) . dx - (U(x_r) - U(x_{r-1}))`` over ``r`` in ``rows``.

    ``field (n_cells, d)`` and ``potential (n_cells, 1)`` (or ``(0, 1)``: none) are tables on
    ``tgeo, tint``; after ``rows[j]`` the totals go to ``snaps[snap[j]]`` when ``snap[j] >= 0``.
    Steps with a non-finite end add nothing.
    """
    n, d = path.shape[1], path.shape[2]
    for b in prange((n + BLOCK - 1) // BLOCK):
        i0, i1 = b * BLOCK, min(n, (b + 1) * BLOCK)
        B = i1 - i0
        dx, mid, f, u = np.empty((B, d)), np.empty((B, d)), np.empty((B, d)), np.empty((B, 2))
        idx, w = np.empty((2 ** d, B), np.int64), np.empty((2 ** d, B))
        for j in range(rows.size):
            r = rows[j]
            _midpoints(path[r - 1, i0:i1], path[r, i0:i1], tgeo[0], period, dx, mid)
            locate(mid, tgeo, tint, idx, w)
            interpolate(field, idx, w, f)
            u[:] = 0.0
            for e in range(2 if potential.shape[0] > 0 else 0):
                locate(path[r - e, i0:i1], tgeo, tint, idx, w)
                interpolate(potential, idx, w, u[:, e:e + 1])
            for i in range(B):
                for k in range(d if math.isfinite(dx[i, 0]) else 0):
                    total[i0 + i] += f[i, k] * dx[i, k]
                total[i0 + i] -= u[i, 0] - u[i, 1] if math.isfinite(dx[i, 0]) else 0.0
                if snap[j] >= 0:
                    snaps[snap[j], i0 + i] = total[i0 + i]
