"""Numba kernels of the SDE ensembles: steps, walls and the ensemble kernel :func:`advance`.

Every helper works on a *block* of trajectories (rows of ``(B, ...)`` arrays) per call: numba
does not inline one compiled function into another, so per-trajectory calls would cost more
than the arithmetic; per block they cost nothing.  ``live (B,)`` masks the rows still running.

The counter-based normals are in :mod:`fpsolve._random`, the table
interpolation in :mod:`fpsolve.stochastic._kernels_tables` and the streaming reductions of the
observables in :mod:`fpsolve.stochastic._kernels_observables`; their kernels are importable
from here too.  Walls: ``wall = [lo; hi]`` and ``kind`` per axis (``REFLECTING``, ``PERIODIC``,
``ABSORBING``).
"""

from __future__ import annotations

import math

import numpy as np

from .._numba import jit_parallel, jit_serial, prange
from ._kernels_observables import (
    cells_block,
    current_update,
    histogram_update,
    line_integral_update,
)
from .._random import BLOCK, BRIDGE, _unit, _word, fill_normals, normals_block, philox_words
from ._kernels_tables import interpolate, locate

__all__ = ["advance", "cells_block", "current_update", "fill_normals", "fold_block",
           "histogram_update", "interpolate", "line_integral_update", "locate", "normals_block",
           "philox_words"]

EULER_MARUYAMA, HEUN, MILSTEIN = 0, 1, 2
REFLECTING, PERIODIC, ABSORBING = 0, 1, 2


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
    axes; rows already inside are left bit-for-bit unchanged; ``wind`` counts the wraps on
    periodic axes and the steps that reflected on reflecting ones."""
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
                wind[i, k] += 1
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
          tgeo, tint, wall, kind, key, zt, noise, step, dt, bridge, path, row, streams):
    """One step of the ``nw`` working rows; ``vec = (z, xn, a, ds, a2)`` and ``mat = (s, s2)``
    are scratch, ``idx, w (2^d, B)`` the stencils; ``streams[:nw]`` the rows' random streams."""
    rw, x, st = rows[:nw], xw[:nw], streams[:nw]
    z, xn, a, ds, s = vec[0][:nw], vec[1][:nw], vec[2][:nw], vec[3][:nw], mat[0][:nw]
    if noise.shape[0] > 0:
        for i in range(nw):
            z[i] = noise[step, rw[i]]
    else:
        normals_block(key, zt, st, step, words, scratch, z)
    _coefficients(x, tabs[0], tabs[1], tabs[2], tgeo, tint, idx, w, a, s, ds)
    _euler(method, x, z, a, s, ds, dt, xn)
    if method == HEUN:
        a2, s2 = vec[4][:nw], mat[1][:nw]
        _coefficients(xn, tabs[0], tabs[1], tabs[2], tgeo, tint, idx, w, a2, s2, ds)
        _heun(x, z, a, s, a2, s2, dt, xn)
    _check(s, xn, live[:nw], fw[:nw], step, tabs[1].shape[0] > 1)
    if np.any(kind == ABSORBING):
        _exits(x, xn, s, dt, live[:nw], wall, kind, key, st, step, bridge, scratch, tw[:nw],
               sw[:nw])
    fold_block(xn, live[:nw], wall, kind, ww[:nw])
    _commit(xn, live[:nw], path, row, rw, x, tw[:nw])


@jit_serial
def _run_block(method, x, wind, t_exit, side, fail, tabs, tgeo, tint, wall, kind, key, zt,
               noise, i0, i1, step0, n_steps, dt, bridge, path, stride, row0, traj0):
    """Advance the live trajectories ``i0 <= i < i1`` by ``n_steps``, on compacted copies
    (row ``i`` draws the random stream of trajectory ``traj0 + i``)."""
    sel = np.arange(i0, i1)
    rows = sel[np.isnan(t_exit[i0:i1]) & (fail[i0:i1, 0] < 0)]
    xw, ww, tw, sw, fw = x[rows], wind[rows], t_exit[rows], side[rows], fail[rows]
    nw, d = rows.size, x.shape[1]
    vec = (np.empty((nw, d)), np.empty((nw, d)), np.empty((nw, d)), np.empty((nw, d)),
           np.empty((nw, d)))
    mat, w = (np.empty((nw, d * d)), np.empty((nw, d * d))), np.empty((2 ** d, nw))
    idx, words = np.empty((2 ** d, nw), np.int64), np.empty((4, nw), np.uint64)
    scratch, live = np.empty((5, 1), np.uint64), np.ones(nw, dtype=np.bool_)
    streams = np.empty(nw, np.int64)
    for n in range(n_steps):
        if nw == 0:
            break
        step = step0 + n
        for i in range(nw):
            streams[i] = rows[i] + traj0
        r = (step + 1) // stride - row0 if stride > 0 and (step + 1) % stride == 0 else -1
        _step(method, nw, rows, xw, ww, tw, sw, fw, vec, mat, idx, w, words, scratch, live, tabs,
              tgeo, tint, wall, kind, key, zt, noise, step, dt, bridge, path, r, streams)
        if not live[:nw].all():
            nw = _compact(nw, live, rows, xw, ww, tw, sw, fw, x, wind, t_exit, side, fail)
            live[:nw] = True
    for i in range(nw):
        x[rows[i]], wind[rows[i]] = xw[i], ww[i]


@jit_parallel
def advance(method, x, wind, t_exit, side, fail, drift, sig, dsig, tgeo, tint, wall, kind, key, zt,
            noise, step0, n_steps, dt, bridge, path, stride, row0, traj0):
    """Advance every live trajectory from global step ``step0`` by ``n_steps`` steps.

    Row ``i`` is trajectory ``traj0 + i``: its normals and bridge uniforms are those of that
    stream, so a shard of rows ``[i0, i1)`` run with ``traj0 = i0`` is that part of one run.

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
                   stride, row0, traj0)

