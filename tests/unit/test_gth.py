"""GTH kernels and the componentwise-accurate stationary solve against NumPy references
(DESIGN.md section 4, rule 4).

References, written for clarity rather than speed:

* ``ref_gth_reduce``: dense GTH state reduction of a rate matrix ``R[i, j] = rate(i -> j)``, one
  state at a time in natural order (pivots as sums of the remaining rates, rank-one updates
  with the censored rates); ``ref_gth_stationary`` adds the back substitution.  It eliminates in
  another order than the nested dissection, so agreement is not a replay of the same roundings.
* ``ref_tree_*``, ``ref_pivots``, ``ref_box_boundary``, ``ref_fronts``: the dissection checked
  by brute force over all cells and all stencil bonds (periodic wrap included).
* ``ref_plane_conductance``: every plane of every walled axis, flows summed over the pairs of
  cells of a dense generator.

Random generators live on the 3^d-point stencil of the operator's bond families (axes and face
diagonals: 3-point in 1-D, 9-point in 2-D, 19-point in 3-D) with rates spread over 12 decades,
so that a normwise solve would lose most digits while GTH must not.
"""

from __future__ import annotations

import os
import subprocess
import sys
from itertools import combinations

import numpy as np
import pytest
import scipy.sparse as sp

import fpsolve as fp
from fpsolve.errors import SolverError
from fpsolve.solvers import _kernels, gth
from fpsolve.solvers.conditioning import plane_conductance
from fpsolve.solvers.gth import gth_stationary

EPS = np.finfo(float).eps

# Tolerance of GTH against GTH in another elimination order.  Every quantity is a sum of
# non-negative terms, so each carries a componentwise relative error of at most a modest multiple
# of (number of roundings on its elimination paths) x eps; worst-case bounds grow like n^2 eps
# (perturbation of each rate by O(n eps), entrywise condition <= 2n: O'Cinneide 1993), with
# random signs of the roundings it is ~n eps.  Over the grids below (n <= 1000) the largest
# difference observed is 1.3e-14 (57 eps); 1e-12 (4500 eps) keeps an ~80x margin and is still
# orders of magnitude below what a normwise solve of these generators gets wrong.
RTOL_GTH = 1e-12
# Same kernel elimination against the reference in the *same* order (front by front): the two
# add the same non-negative terms grouped differently (the blocked path forms panel sums with a
# BLAS product).  Observed <= 13 eps on fronts up to 230; 450 eps bounds the regrouping of
# sums of up to f = 230 non-negative terms per entry (~f eps) with margin.
RTOL_SAME_ORDER = 1e-13


# --------------------------------------------------------------------------- references


def ref_gth_reduce(R, m):
    """Censor the chain with rate matrix ``R`` on its states ``m, m+1, ...``: eliminate states
    ``0 .. m-1`` in order.  Returns the reduced matrix (off-diagonal entries meaningful; rows
    and columns of eliminated states hold the rates at their elimination) and the pivots."""
    F = np.array(R, dtype=float)
    np.fill_diagonal(F, 0.0)
    s = np.zeros(m)
    for k in range(m):
        s[k] = F[k, k + 1:].sum()                # pivot: total rate out of k to later states
        if s[k] > 0:
            # Censored rate i -> j through k: rate(i -> k) x probability that k next jumps to j.
            F[k + 1:, k + 1:] += np.outer(F[k + 1:, k], F[k, k + 1:] / s[k])
        np.fill_diagonal(F, 0.0)
    return F, s


def ref_gth_stationary(R):
    """Stationary vector of the irreducible chain with rate matrix ``R`` (dense GTH), sum 1."""
    n = R.shape[0]
    F, s = ref_gth_reduce(R, n - 1)
    p = np.zeros(n)
    p[-1] = 1.0
    for k in range(n - 2, -1, -1):
        p[k] = np.dot(p[k + 1:], F[k + 1:, k]) / s[k]   # inflow from later states / outflow
    return p / p.sum()


def rate_matrix(G):
    """Dense ``R[i, j] = rate(i -> j) = G[j, i]`` with a zero diagonal."""
    R = np.asarray(sp.csr_matrix(G).toarray()).T.copy()
    np.fill_diagonal(R, 0.0)
    return R


def stencil_offsets(d):
    """Bond families of the operator: axes, then ``e_i + e_j`` and ``e_i - e_j``."""
    eye = np.eye(d, dtype=int)
    offs = [eye[i] for i in range(d)]
    for i, j in combinations(range(d), 2):
        offs += [eye[i] + eye[j], eye[i] - eye[j]]
    return offs


def stencil_neighbors(shape, periodic, off):
    """``y`` such that cell ``x + off = y`` (wrapped on periodic axes), -1 outside the box."""
    idx = np.indices(shape).reshape(len(shape), -1)
    tgt = idx + np.asarray(off)[:, None]
    inside = np.ones(idx.shape[1], bool)
    for a, (n, per) in enumerate(zip(shape, periodic)):
        if per:
            tgt[a] %= n
        else:
            inside &= (tgt[a] >= 0) & (tgt[a] < n)
    y = np.full(idx.shape[1], -1)
    y[inside] = np.ravel_multi_index(tuple(tgt[:, inside]), shape)
    return y


def random_generator(rng, shape, periodic, *, decades=12.0, diagonal_gap=0.4):
    """Random irreducible generator (``G[y, x]`` = rate ``x -> y``, columns sum to zero) on the
    stencil of ``shape``: axis bonds always present both ways (irreducible), diagonal bonds
    present with probability ``1 - diagonal_gap``; rates log-uniform over ``decades``."""
    n = int(np.prod(shape))
    rows, cols, vals = [], [], []
    for k, off in enumerate(stencil_offsets(len(shape))):
        y = stencil_neighbors(shape, periodic, off)
        x = np.flatnonzero(y >= 0)
        keep = np.ones(x.size, bool) if k < len(shape) else rng.random(x.size) > diagonal_gap
        x, y = x[keep], y[x[keep]]
        for a, b in ((x, y), (y, x)):
            rows.append(b)
            cols.append(a)
            vals.append(10.0 ** rng.uniform(-decades / 2, decades / 2, a.size))
    rows, cols, vals = map(np.concatenate, (rows, cols, vals))
    G = sp.csr_matrix((vals, (rows, cols)), shape=(n, n))
    G = G - sp.diags(np.asarray(G.sum(axis=0)).ravel())
    return sp.csr_matrix(G)


def pattern_of(G):
    off = sp.csr_matrix(G).copy()
    off.setdiag(0.0)
    off.eliminate_zeros()
    return (abs(off) + abs(off).T).tocsr()


def pad3(shape, periodic):
    s3, p3 = np.ones(3, np.int64), np.zeros(3, np.int64)
    s3[:len(shape)], p3[:len(shape)] = shape, periodic
    return s3, p3


def run_dissect(dissect, shape3, per3, leaf, center=(-1, -1, -1)):
    n = int(np.prod(shape3))
    lo, hi = np.zeros((n, 3), np.int64), np.zeros((n, 3), np.int64)
    axis, wrap, parent, split = (np.zeros(n, np.int64) for _ in range(4))
    T = dissect(shape3, per3, leaf, np.asarray(center, np.int64), lo, hi, axis, wrap, parent,
                split)
    return lo[:T], hi[:T], axis[:T], wrap[:T], split[:T], parent[:T]


def box_cells(shape3, lo, hi):
    """Flat C-order indices of the box ``[lo, hi)``, in C order."""
    grids = np.meshgrid(*[np.arange(a, b) for a, b in zip(lo, hi)], indexing="ij")
    return np.ravel_multi_index(tuple(g.ravel() for g in grids), tuple(shape3))


def ref_pivots(shape3, lo, hi, axis, wrap, split):
    """Cells a node eliminates: its whole box (leaf), or the plane ``split`` of its axis and,
    with ``wrap``, the plane ``lo`` too; C order."""
    cells = box_cells(shape3, lo, hi)
    if axis < 0:
        return cells
    c = np.unravel_index(cells, tuple(shape3))[axis]
    return cells[(c == split) | (bool(wrap) & (c == lo[axis]))]


def ref_box_boundary(shape3, lo, hi, pattern):
    """Sorted cells outside the box adjacent to one of its cells."""
    inside = box_cells(shape3, lo, hi)
    near = set()
    for x in inside:
        near.update(pattern.indices[pattern.indptr[x]:pattern.indptr[x + 1]].tolist())
    return np.array(sorted(near - set(inside.tolist())), dtype=np.int64)


def ref_fronts(shape3, tree, pattern):
    """Fronts in elimination order ``e = T - 1 - t``: (pivots in C order, sorted outside cells)."""
    lo, hi, axis, wrap, split, _ = tree
    T = len(lo)
    return [(ref_pivots(shape3, lo[t], hi[t], axis[t], wrap[t], split[t]),
             ref_box_boundary(shape3, lo[t], hi[t], pattern)) for t in range(T - 1, -1, -1)]


def ref_plane_conductance(op, p):
    """Brute force over every plane of every walled axis: flow across the plane summed over all
    pairs (x below, y above) of a dense generator, divided by the smaller side's mass."""
    grid = op.grid
    G = op.matrix().toarray()
    P = np.maximum(np.ravel(p), 0.0) * grid.cell_volume
    P = P / P.sum()
    rate = float(np.dot(P, -np.diag(G)))
    coords = np.indices(grid.shape).reshape(grid.ndim, -1)
    best, lightest = (np.inf, None, None, 0.0), 1.0
    for a in range(grid.ndim):
        if grid.periodic[a]:
            continue
        for i in range(grid.shape[a] - 1):
            lo_side, hi_side = coords[a] <= i, coords[a] > i
            flow = 0.5 * (G[np.ix_(hi_side, lo_side)] @ P[lo_side]).sum() \
                + 0.5 * (G[np.ix_(lo_side, hi_side)] @ P[hi_side]).sum()
            small = min(P[lo_side].sum(), P[hi_side].sum())
            lightest = min(lightest, small)
            phi = flow / small if small > 0 else np.inf
            if phi < best[0]:
                lo_b, hi_b = grid.bounds[a]
                best = (phi, a, lo_b + (i + 1) * (hi_b - lo_b) / grid.shape[a], small)
    return dict(conductance=best[0], rate=rate, axis=best[1], at=best[2], mass=best[3],
                kappa=rate / best[0], lightest=lightest)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(params=[False, True], ids=["jit", "python"])
def kernel(request):
    """The compiled kernel or its plain-Python body (what NUMBA_DISABLE_JIT=1 runs)."""
    def get(name):
        func = getattr(_kernels, name)
        return getattr(func, "py_func", func) if request.param else func
    return get


GRIDS = [((7,), (False,)), ((12,), (True,)), ((30,), (False,)),
         ((5, 6), (False, False)), ((7, 7), (True, True)), ((6, 9), (True, False)),
         ((9, 4), (False, True)),
         ((3, 4, 5), (False, False, False)), ((4, 4, 4), (True, False, True)),
         ((5, 3, 4), (True, True, True))]
GRID_IDS = ["x".join(map(str, s)) + "-" + "".join("p" if q else "w" for q in per)
            for s, per in GRIDS]
LEAVES = [1, 4, 16]


# --------------------------------------------------------------------------- gth_eliminate


def eliminate_cases():
    # (front size f, pivots m): unblocked fronts (f < BLOCKED_FRONT), the threshold itself, and
    # blocked fronts with one partial panel, several panels, a ragged last panel, all states.
    P, B = _kernels.PANEL, _kernels.BLOCKED_FRONT
    return [(1, 1), (5, 2), (30, 29), (B - 1, 100), (B - 1, B - 1),
            (B, P - 1), (B, P + 1), (B, 2 * P), (200, 97), (200, 200), (230, 3 * P + 5)]


@pytest.mark.parametrize("f, m", eliminate_cases())
@pytest.mark.parametrize("density", [1.0, 0.15], ids=["dense", "sparse"])
def test_gth_eliminate_matches_dense_reduction(f, m, density):
    rng = np.random.default_rng(f * 1000 + m)
    R = 10.0 ** rng.uniform(-6, 6, (f, f)) * (rng.random((f, f)) < density)
    if f > 3:
        R[2, :] = 0.0          # a state with no way out: a zero pivot must be skipped cleanly
    F = R.copy()
    s = np.full(m, np.nan)
    _kernels.gth_eliminate(F, m, s)
    F_ref, s_ref = ref_gth_reduce(R, m)
    off = ~np.eye(f, dtype=bool)
    np.testing.assert_allclose(s, s_ref, rtol=RTOL_SAME_ORDER, atol=0)
    np.testing.assert_allclose(F[off], F_ref[off], rtol=RTOL_SAME_ORDER, atol=0)
    assert np.all(F[off] >= 0)


def test_gth_eliminate_plain_python_blocked():
    # The blocked path as plain Python (NUMBA_DISABLE_JIT=1 runs this body); same tolerance.
    rng = np.random.default_rng(3)
    f, m = _kernels.BLOCKED_FRONT + 10, _kernels.PANEL + 20
    R = 10.0 ** rng.uniform(-6, 6, (f, f)) * (rng.random((f, f)) < 0.3)
    F, s = R.copy(), np.empty(m)
    getattr(_kernels.gth_eliminate, "py_func", _kernels.gth_eliminate)(F, m, s)
    F_ref, s_ref = ref_gth_reduce(R, m)
    off = ~np.eye(f, dtype=bool)
    np.testing.assert_allclose(s, s_ref, rtol=RTOL_SAME_ORDER, atol=0)
    np.testing.assert_allclose(F[off], F_ref[off], rtol=RTOL_SAME_ORDER, atol=0)


# --------------------------------------------------------------------------- dissection


@pytest.mark.parametrize("leaf", LEAVES)
@pytest.mark.parametrize("shape, periodic", GRIDS, ids=GRID_IDS)
def test_dissection_eliminates_every_cell_once_and_separates(shape, periodic, leaf, kernel):
    shape3, per3 = pad3(shape, periodic)
    tree = run_dissect(kernel("dissect"), shape3, per3, leaf)
    lo, hi, axis, wrap, split, parent = tree
    T, n = len(lo), int(np.prod(shape))
    assert parent[0] == -1 and np.all(parent[1:] < np.arange(1, T))      # preorder
    assert np.all(parent[1:] >= 0)
    count = np.zeros(n, int)
    buf = np.empty(n, np.int64)
    for t in range(T):
        k = kernel("node_cells")(shape3, lo[t], hi[t], axis[t], wrap[t], split[t], buf)
        np.testing.assert_array_equal(buf[:k], ref_pivots(shape3, lo[t], hi[t], axis[t], wrap[t],
                                                          split[t]))
        if axis[t] >= 0:
            # an inner node splits at the middle of its box (the root may take the center)
            assert t == 0 or split[t] == (lo[t, axis[t]] + hi[t, axis[t]]) // 2
        count[buf[:k]] += 1
        assert k >= 1
        if axis[t] < 0:
            assert np.prod(hi[t] - lo[t]) <= leaf or np.max(hi[t] - lo[t]) < 3
    assert np.all(count == 1), "every cell eliminated exactly once"
    G = random_generator(np.random.default_rng(0), shape, periodic, diagonal_gap=0.0)
    pattern = pattern_of(G)
    for t in range(T):
        kids = np.flatnonzero(parent == t)
        assert (axis[t] < 0) == (kids.size == 0)
        assert kids.size <= 2
        boxes = [set(box_cells(shape3, lo[c], hi[c]).tolist()) for c in kids]
        mine = set(box_cells(shape3, lo[t], hi[t]).tolist())
        assert all(b <= mine for b in boxes)
        if kids.size == 2:
            a, b = boxes
            assert not a & b
            # No bond of the full stencil (wrap included) joins the two children's boxes.
            for x in a:
                assert not set(pattern.indices[pattern.indptr[x]:pattern.indptr[x + 1]]) & b


@pytest.mark.parametrize("shape, periodic", GRIDS, ids=GRID_IDS)
def test_dissection_lays_the_root_plane_through_the_center(shape, periodic):
    # The root separator passes through the estimated mode (any cell, walls and rings
    # included); the tree still eliminates every cell once and separates its children.
    shape3, per3 = pad3(shape, periodic)
    n = int(np.prod(shape))
    buf = np.empty(n, np.int64)
    for x in np.random.default_rng(2).choice(n, size=min(n, 6), replace=False):
        center = np.zeros(3, np.int64)
        center[:len(shape)] = np.unravel_index(x, shape)
        lo, hi, axis, wrap, split, parent = run_dissect(_kernels.dissect, shape3, per3, 4, center)
        a = axis[0]
        if a >= 0 and not (wrap[0] and center[a] == 0):
            assert split[0] == center[a]
        count = np.zeros(n, int)
        for t in range(len(lo)):
            k = _kernels.node_cells(shape3, lo[t], hi[t], axis[t], wrap[t], split[t], buf)
            count[buf[:k]] += 1
        assert np.all(count == 1), "every cell eliminated exactly once"


@pytest.mark.parametrize("leaf", LEAVES)
@pytest.mark.parametrize("shape, periodic", GRIDS, ids=GRID_IDS)
def test_fronts_match_brute_force(shape, periodic, leaf, kernel):
    shape3, per3 = pad3(shape, periodic)
    tree = run_dissect(_kernels.dissect, shape3, per3, leaf)
    G = random_generator(np.random.default_rng(1), shape, periodic)
    pattern = pattern_of(G)
    front_ptr, front_idx, npiv = gth._fronts(shape3, tree, pattern)
    if kernel("fronts") is not _kernels.fronts:      # the plain-Python body gives the same
        args = (shape3, *tree[:5], pattern.indptr.astype(np.int64),
                pattern.indices.astype(np.int64))
        ptr2, npiv2 = np.zeros_like(front_ptr), np.zeros_like(npiv)
        idx2 = np.empty_like(front_idx)
        assert kernel("fronts")(*args, True, ptr2, idx2, npiv2) == front_idx.size
        np.testing.assert_array_equal(ptr2, front_ptr)
        np.testing.assert_array_equal(idx2, front_idx)
    ref = ref_fronts(shape3, tree, pattern)
    assert front_ptr[0] == 0 and len(npiv) == len(ref)
    for e, (piv, outside) in enumerate(ref):
        seg = front_idx[front_ptr[e]:front_ptr[e + 1]]
        assert npiv[e] == piv.size
        np.testing.assert_array_equal(seg[:npiv[e]], piv)
        np.testing.assert_array_equal(np.sort(seg[npiv[e]:]), outside)
    # The multifrontal invariant: every cell just outside a node's box is eliminated later
    # (it is a pivot of an ancestor), so each front holds only states still to be eliminated.
    position = np.empty(int(np.prod(shape)), int)
    for e in range(len(npiv)):
        position[front_idx[front_ptr[e]:front_ptr[e] + npiv[e]]] = e
    for e in range(len(npiv)):
        outside = front_idx[front_ptr[e] + npiv[e]:front_ptr[e + 1]]
        assert np.all(position[outside] > e)


@pytest.mark.parametrize("seed", range(6))
def test_box_boundary_matches_brute_force(seed, kernel):
    rng = np.random.default_rng(seed)
    d = 1 + seed % 3
    shape = tuple(rng.integers(3, 7, d))
    periodic = tuple(bool(b) for b in rng.random(d) < 0.5)
    shape3, _ = pad3(shape, periodic)
    pattern = pattern_of(random_generator(rng, shape, periodic))
    mark = np.full(int(np.prod(shape)), -1, np.int64)
    out = np.empty(int(np.prod(shape)), np.int64)
    for tag in range(5):
        lo = np.array([rng.integers(0, n) for n in shape3])
        hi = np.array([rng.integers(a + 1, n + 1) for a, n in zip(lo, shape3)])
        k = kernel("box_boundary")(shape3, lo, hi, pattern.indptr.astype(np.int64),
                                   pattern.indices.astype(np.int64), mark, tag, out)
        np.testing.assert_array_equal(np.sort(out[:k]), ref_box_boundary(shape3, lo, hi, pattern))


# --------------------------------------------------------------------------- factor, back subst.


def ref_assemble(R, front, m):
    """Front matrix of original rates: pivot rows (rates out of the pivots to the whole front)
    and pivot columns (rates into the pivots from the outside cells); zero elsewhere."""
    f = len(front)
    F = np.zeros((f, f))
    for i in range(m):
        for j in range(f):
            if j != i:
                F[i, j] = R[front[i], front[j]]
    for j in range(m, f):
        for i in range(m):
            F[j, i] = R[front[j], front[i]]
    return F


def factor_inputs(shape, periodic, leaf, seed):
    shape3, per3 = pad3(shape, periodic)
    G = random_generator(np.random.default_rng(seed), shape, periodic)
    off = sp.csr_matrix(G).copy()
    off.setdiag(0.0)
    off.eliminate_zeros()
    tree = run_dissect(_kernels.dissect, shape3, per3, leaf)
    front_ptr, front_idx, npiv = gth._fronts(shape3, tree, pattern_of(G))
    return G, off, tree, front_ptr, front_idx, npiv


@pytest.mark.parametrize("shape, periodic", GRIDS[3:7], ids=GRID_IDS[3:7])
def test_assemble_matches_reference(shape, periodic, kernel):
    G, off, tree, front_ptr, front_idx, npiv = factor_inputs(shape, periodic, 4, 2)
    R = rate_matrix(G)
    out, inc = off.tocsc(), off.tocsr()
    where = np.full(G.shape[0], -1, np.int64)
    i64 = lambda a: a.astype(np.int64)  # noqa: E731
    for e in range(len(npiv)):
        front = front_idx[front_ptr[e]:front_ptr[e + 1]]
        where[front] = np.arange(front.size)
        F = np.zeros((front.size, front.size))
        kernel("_assemble")(front, npiv[e], where, i64(out.indptr), i64(out.indices), out.data,
                            i64(inc.indptr), i64(inc.indices), inc.data, F)
        where[front] = -1
        np.testing.assert_array_equal(F, ref_assemble(R, front, npiv[e]))


def run_factor(off, front_ptr, front_idx, npiv, parent):
    """The driver's call of gth_factor (as in gth._factor_and_solve)."""
    n, T = off.shape[0], len(npiv)
    f = np.diff(front_ptr)
    L_ptr = np.concatenate([[0], np.cumsum(f * npiv)])
    C_ptr = np.concatenate([[0], np.cumsum((f - npiv) ** 2)])
    elim_parent = np.where(parent >= 0, T - 1 - parent, T)[::-1]
    order = np.argsort(elim_parent, kind="stable")
    child_ptr = np.searchsorted(elim_parent[order], np.arange(T + 1))
    out, inc = off.tocsc(), off.tocsr()
    i64 = lambda a: a.astype(np.int64)  # noqa: E731
    s, L, C = np.zeros(n), np.empty(L_ptr[-1]), np.empty(C_ptr[-1])
    zero = _kernels.gth_factor(front_ptr, front_idx, npiv, i64(child_ptr), i64(order),
                               i64(out.indptr), i64(out.indices), out.data, i64(inc.indptr),
                               i64(inc.indices), inc.data, L_ptr, L, C_ptr, C, s,
                               np.full(n, -1, np.int64))
    return zero, s, L, L_ptr


@pytest.mark.parametrize("leaf", [1, 16])
@pytest.mark.parametrize("shape, periodic", GRIDS[2:], ids=GRID_IDS[2:])
def test_gth_factor_and_back_substitution_match_dense_elimination(shape, periodic, leaf):
    G, off, tree, front_ptr, front_idx, npiv = factor_inputs(shape, periodic, leaf, 3)
    zero, s, L, L_ptr = run_factor(off, front_ptr, front_idx, npiv, tree[-1])
    assert zero == 1                        # only the last state, which has nowhere to go
    # Dense GTH in the same elimination order (pivots concatenated front by front).
    perm = np.concatenate([front_idx[front_ptr[e]:front_ptr[e] + npiv[e]]
                           for e in range(len(npiv))])
    n = perm.size
    np.testing.assert_array_equal(np.sort(perm), np.arange(n))
    R = rate_matrix(G)[np.ix_(perm, perm)]
    F, s_ref = ref_gth_reduce(R, n)
    np.testing.assert_allclose(s[:-1], s_ref[:-1], rtol=RTOL_SAME_ORDER, atol=0)
    rank = np.empty(n, int)
    rank[perm] = np.arange(n)
    done = 0
    for e in range(len(npiv)):
        front, m = front_idx[front_ptr[e]:front_ptr[e + 1]], npiv[e]
        Lk = L[L_ptr[e]:L_ptr[e + 1]].reshape(front.size, m)
        for i in range(m):
            k = done + i
            later = rank[front[i + 1:]]
            # Censored rates into the pivot from the states still in the front ...
            np.testing.assert_allclose(Lk[i + 1:, i], F[later, k], rtol=RTOL_SAME_ORDER, atol=0)
            # ... and none from later states outside it (the front holds all of them).
            rest = np.setdiff1d(np.arange(k + 1, n), later)
            assert np.all(F[rest, k] == 0.0)
        done += m
    # Back substitution in the log domain against the linear one on the kernel's own factors.
    logp = np.full(n, -np.inf)
    _kernels.gth_back_substitute(front_ptr, front_idx, npiv, L_ptr, L, s, logp)
    p = np.zeros(n)
    p[front_idx[front_ptr[-2]:front_ptr[-1]][npiv[-1] - 1]] = 1.0
    done = n
    for e in range(len(npiv) - 1, -1, -1):
        front, m = front_idx[front_ptr[e]:front_ptr[e + 1]], npiv[e]
        done -= m
        Lk = L[L_ptr[e]:L_ptr[e + 1]].reshape(front.size, m)
        for i in range(m - 1, -1, -1):
            if e == len(npiv) - 1 and i == m - 1:
                continue
            p[front[i]] = np.dot(p[front[i + 1:]], Lk[i + 1:, i]) / s[done + i]
    # exp(log p) adds ~|log p| eps to the reordered sums (|log p| <= 80 here); 100 eps per unit
    # of |log p| leaves margin for the sums of up to f terms per entry.
    np.testing.assert_allclose(np.exp(logp), p, rtol=100 * EPS * (1 + np.abs(logp).max()), atol=0)


# --------------------------------------------------------------------------- gth_stationary


@pytest.mark.parametrize("gap", [0.4, 1.0], ids=["9-point", "5-point"])
@pytest.mark.parametrize("leaf", LEAVES)
@pytest.mark.parametrize("shape, periodic", GRIDS, ids=GRID_IDS)
def test_gth_stationary_matches_dense_reference(shape, periodic, leaf, gap):
    # gap: probability that a diagonal bond is absent (1.0: axis bonds only, the 5-point
    # stencil in 2-D); otherwise the 9-point (2-D) / 19-point (3-D) stencil with holes.
    G = random_generator(np.random.default_rng(leaf), shape, periodic, diagonal_gap=gap)
    log_p = gth_stationary(G, shape, periodic, leaf=leaf)
    p = np.exp(log_p - log_p.max())
    p /= p.sum()
    ref = ref_gth_stationary(rate_matrix(G))
    assert ref.max() / ref.min() > 1e3       # the rates spread the density over decades
    np.testing.assert_allclose(p, ref, rtol=RTOL_GTH, atol=0)
    # Componentwise residual: inflow = outflow in every cell to a few eps of the gross flows
    # (observed <= 39 eps; 1e-12 as above).
    assert np.all(np.abs(G @ p) <= 1e-12 * (abs(G) @ p))


def test_gth_stationary_blocked_fronts_3d():
    # 10^3 cells, periodic axis 0: the root eliminates the planes 0 and 5 (200 pivots) and its
    # children have 240-cell fronts, so the blocked path (fronts >= BLOCKED_FRONT) runs with
    # several panels and with a single partial panel.
    shape, periodic = (10, 10, 10), (True, False, False)
    G = random_generator(np.random.default_rng(7), shape, periodic, decades=8.0)
    shape3, per3 = pad3(shape, periodic)
    tree = run_dissect(_kernels.dissect, shape3, per3, gth.GTH_LEAF)
    front_ptr, _, npiv = gth._fronts(shape3, tree, pattern_of(G))
    big = np.diff(front_ptr) >= _kernels.BLOCKED_FRONT
    assert (big & (npiv > _kernels.PANEL)).any() and (big & (npiv <= _kernels.PANEL)).any()
    log_p = gth_stationary(G, shape, periodic)
    p = np.exp(log_p - log_p.max())
    p /= p.sum()
    np.testing.assert_allclose(p, ref_gth_stationary(rate_matrix(G)), rtol=RTOL_GTH, atol=0)


def birth_death(rng, n, mode, small):
    """Birth-death chain whose density rises to cell ``mode`` and falls beyond it: across every
    bond the rate toward the mode is O(1..1e3), the one away from it ``10**small`` (uniform in
    the interval ``small``).  Exact ``log p`` (up to a constant) by detailed balance,
    ``p_i r(i -> i+1) = p_{i+1} r(i+1 -> i)``."""
    big, tiny = 10.0 ** rng.uniform(0, 3, n - 1), 10.0 ** rng.uniform(*small, n - 1)
    i = np.arange(n - 1)
    up, down = np.where(i < mode, big, tiny), np.where(i < mode, tiny, big)
    G = sp.diags([up, down], [-1, 1], shape=(n, n)).tocsr()
    G = sp.csr_matrix(G - sp.diags(np.asarray(G.sum(axis=0)).ravel()))
    return G, np.concatenate([[0.0], np.cumsum(np.log(up) - np.log(down))])


@pytest.mark.parametrize("leaf", [1, 4, 16])
def test_gth_stationary_log_domain_beyond_the_float_range(leaf):
    # Density spanning ~1e-470 on each side of a central mode: log p must be exact in every
    # cell although p itself is not representable.  Each of the 80 rate ratios enters with a few
    # eps of relative error, so log p is exact to ~80 x few eps absolute, plus the logarithm's
    # own rounding (eps |log p|): 1e-11 (1 + |log p|) bounds that with margin (observed 3e-13).
    G, exact = birth_death(np.random.default_rng(11), 81, 40, (-12, -8))
    exact -= exact[40]
    log_p = gth_stationary(G, (81,), (False,), leaf=leaf)
    assert exact.min() < -400 * np.log(10)
    err = np.abs(log_p - log_p[40] - exact) / (1 + abs(exact))
    assert err.max() <= 1e-11, err.max()


def test_gth_stationary_mode_off_the_root_separator():
    # Same chain, mode at the end (cell 0): the root separator (cell 40) lies ~1e-800 below the
    # separator at cell 20, so the censored rate 20 -> 40 underflows.  Expected: an answer, exact
    # in the log domain at least where the density is within 1e-300 of the mode.
    G, exact = birth_death(np.random.default_rng(11), 81, 0, (-25, -15))
    log_p = gth_stationary(G, (81,), (False,), leaf=4)
    near = exact >= -300 * np.log(10)
    err = np.abs(log_p[near] - log_p[0] - exact[near]) / (1 + abs(exact[near]))
    assert err.max() <= 1e-11, err.max()


def test_transient_cell_gets_zero_density():
    # A cell with outflow but no inflow is transient: log p = -inf there, the rest is the
    # stationary vector of the chain without it.
    shape, periodic = (6, 5), (False, False)
    G = random_generator(np.random.default_rng(5), shape, periodic).tolil()
    c = 13
    G[c, :] = 0.0                     # no rate into c ...
    G[c, c] = -sum(G[y, c] for y in range(30) if y != c)    # ... the column keeps its sum
    G = G.tocsr()
    log_p = gth_stationary(G, shape, periodic)
    assert log_p[c] == -np.inf
    keep = np.arange(30) != c
    p = np.exp(log_p[keep] - log_p[keep].max())
    R = rate_matrix(G)[np.ix_(keep, keep)]
    np.testing.assert_allclose(p / p.sum(), ref_gth_stationary(R), rtol=RTOL_GTH, atol=0)


@pytest.mark.parametrize("shape, periodic", [((20,), (False,)), ((6, 7), (True, False)),
                                             ((4, 4, 3), (False, False, False))])
def test_reducible_generator_raises(shape, periodic):
    G = random_generator(np.random.default_rng(2), shape, periodic).tolil()
    n = G.shape[0]
    for c in (0, n // 2, n - 1):               # cut one cell off: no rate in, no rate out
        H = G.copy()
        H[c, :] = 0.0
        H[:, c] = 0.0
        H = H.tocsr()
        H = sp.csr_matrix(H - sp.diags(np.asarray(H.sum(axis=0)).ravel()))
        with pytest.raises(SolverError, match="reducible"):
            gth_stationary(H, shape, periodic)


def test_negative_rates_and_memory_limit_raise(monkeypatch):
    shape, periodic = (5, 5), (False, False)
    G = random_generator(np.random.default_rng(4), shape, periodic).tolil()
    H = G.copy()
    H[1, 0] = -1.0
    with pytest.raises(SolverError, match="negative off-diagonal"):
        gth_stationary(H.tocsr(), shape, periodic)
    monkeypatch.setattr(gth, "GTH_MEMORY_BYTES", 64)
    with pytest.raises(SolverError, match="GTH_MEMORY_BYTES"):
        gth_stationary(G.tocsr(), shape, periodic)


def test_solve_stationary_with_a_cell_cut_off_raises():
    grid = fp.CartesianGrid([(-2, 2), (-2, 2)], (8, 8))
    op = fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(lambda x: -x), scheme="sg")
    G = op.matrix().tolil()
    c = 27
    G[c, :] = 0.0
    G[:, c] = 0.0
    G = G.tocsr()
    op._matrix = sp.csr_matrix(G - sp.diags(np.asarray(G.sum(axis=0)).ravel()))
    for method in ("gth", "auto"):
        with pytest.raises(SolverError, match="reducible"):
            fp.solve_stationary(op, method=method)


# --------------------------------------------------------------------------- plane_conductance


def conductance_operators():
    ops = []
    g1 = fp.CartesianGrid([(-2, 2.5)], (17,))
    ops.append(fp.FokkerPlanckOperator(g1, fp.FokkerPlanckModel(lambda x: -x * (x**2 - 1))))
    g2 = fp.CartesianGrid([(-2, 2), (-1, 2)], (9, 7), boundary=["reflecting", "periodic"])
    ops.append(fp.FokkerPlanckOperator(
        g2, fp.FokkerPlanckModel(lambda x: np.stack([-x[0] + np.sin(x[1]), -x[1]]),
                                 [[1.0, 0.3], [0.3, 0.6]])))
    g3 = fp.CartesianGrid([(-1, 1), (-1, 2), (0, 1)], (4, 5, 6),
                          boundary=["reflecting", "reflecting", "periodic"])
    D3 = np.eye(3) + 0.1 * (np.ones((3, 3)) - np.eye(3))
    ops.append(fp.FokkerPlanckOperator(g3, fp.FokkerPlanckModel(lambda x: -x, D3)))
    return ops


@pytest.mark.parametrize("case", range(3), ids=["1d", "2d-periodic-full-D", "3d"])
def test_plane_conductance_matches_brute_force(case):
    op = conductance_operators()[case]
    rng = np.random.default_rng(case)
    log_p = gth_stationary(op.matrix(), op.grid.shape, op.grid.periodic)
    for p in (rng.random(op.grid.shape) + 0.1, np.exp(log_p - log_p.max())):
        got, ref = plane_conductance(op, p), ref_plane_conductance(op, p)
        # Every cut leaves >= 1e-6 on each side: far from any minimum-mass cut-off a
        # conductance estimate may apply to light tails, so none enters the comparison.
        assert ref["lightest"] >= 1e-6
        # Both add the same non-negative flows and masses in different orders (bincount vs
        # dense products): observed <= 2 eps per quantity; 1e-13 (450 eps) with margin.
        assert got["axis"] == ref["axis"] and got["at"] == pytest.approx(ref["at"], abs=1e-12)
        for key in ("conductance", "rate", "kappa", "mass"):
            assert got[key] == pytest.approx(ref[key], rel=1e-13), key


def test_plane_conductance_finds_the_barrier():
    # 1-D double well U = h (x^2 - 1)^2: the bottleneck is the plane x = 0 between the wells,
    # the smaller mass 1/2, and kappa ~ exp(h) x (local rate / attempt rate) >> METASTABLE_KAPPA
    # (measured log kappa = h + 1.9 on this grid; the prefactor is a few units of log).
    grid = fp.CartesianGrid([(-2, 2)], (80,))
    h = 20.0
    op = fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(lambda x: -4 * h * x * (x**2 - 1)),
                                 scheme="sg")
    res = fp.solve_stationary(op, method="gth")
    c = plane_conductance(op, res.p)
    ref = ref_plane_conductance(op, res.p)
    assert c["axis"] == 0 and c["at"] == pytest.approx(0.0, abs=1e-12)
    assert c["mass"] == pytest.approx(0.5, abs=1e-12)
    assert c["kappa"] == pytest.approx(ref["kappa"], rel=1e-10)
    assert c["kappa"] > 1e6 and np.log(c["kappa"]) == pytest.approx(h, abs=6.0)
    # Periodic axes are never cut: a ring has no plane cut, conductance inf, kappa 0.
    ring = fp.CartesianGrid([(0, 2 * np.pi)], (20,), boundary="periodic")
    op = fp.FokkerPlanckOperator(ring, fp.FokkerPlanckModel(lambda x: 1 + np.sin(x)))
    c = plane_conductance(op, np.ones(20))
    assert c["conductance"] == np.inf and c["kappa"] == 0.0 and c["axis"] is None


# --------------------------------------------------------------------------- NUMBA_DISABLE_JIT


NOJIT_SCRIPT = """
import sys, numpy as np
from fpsolve.solvers import _kernels
from fpsolve.solvers.gth import gth_stationary
import scipy.sparse as sp
z = np.load(sys.argv[1], allow_pickle=False)
out = {}
for name in ("a", "b"):
    G = sp.csr_matrix((z[name + "_data"], z[name + "_indices"], z[name + "_indptr"]))
    out[name] = gth_stationary(G, tuple(z[name + "_shape"]), tuple(z[name + "_per"]),
                               leaf=int(z[name + "_leaf"]))
F = z["F"].copy()
s = np.empty(int(z["m"]))
_kernels.gth_eliminate(F, int(z["m"]), s)
assert not hasattr(_kernels.gth_factor, "py_func"), "JIT was not disabled"
np.savez(sys.argv[2], F=F, s=s, **out)
"""

NOJIT_CASES = {"a": ((6, 7), (True, False), 2), "b": ((4, 3, 5), (False, True, False), 4)}


def test_gth_kernels_without_jit(tmp_path):
    """The GTH kernels as plain Python (fresh interpreter, NUMBA_DISABLE_JIT=1) give the compiled
    kernels' numbers on tiny grids and on one blocked front."""
    rng = np.random.default_rng(8)
    inputs, expected = {}, {}
    for name, (shape, per, leaf) in NOJIT_CASES.items():
        G = random_generator(rng, shape, per)
        inputs.update({name + "_data": G.data, name + "_indices": G.indices,
                       name + "_indptr": G.indptr, name + "_shape": np.array(shape),
                       name + "_per": np.array(per), name + "_leaf": np.array(leaf)})
        expected[name] = gth_stationary(G, shape, per, leaf=leaf)
    f, m = _kernels.BLOCKED_FRONT + 10, _kernels.PANEL + 30
    F = 10.0 ** rng.uniform(-6, 6, (f, f))
    inputs.update(F=F, m=np.array(m))
    expected["F"], expected["s"] = F.copy(), np.empty(m)
    _kernels.gth_eliminate(expected["F"], m, expected["s"])
    np.savez(tmp_path / "in.npz", **inputs)
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    subprocess.run([sys.executable, "-c", NOJIT_SCRIPT, str(tmp_path / "in.npz"),
                    str(tmp_path / "out.npz")], env=env, check=True, timeout=300,
                   capture_output=True, text=True)
    got = np.load(tmp_path / "out.npz")
    # Same operations in the same order; only exp/log (numba's libm vs CPython's) and the BLAS
    # product may round differently: a few ulps of O(10) log-densities and of the rates.
    for name in NOJIT_CASES:
        np.testing.assert_allclose(got[name], expected[name], rtol=0,
                                   atol=50 * EPS * (1 + np.abs(expected[name]).max()))
    off = ~np.eye(f, dtype=bool)
    np.testing.assert_allclose(got["F"][off], expected["F"][off], rtol=50 * EPS, atol=0)
    np.testing.assert_allclose(got["s"], expected["s"], rtol=50 * EPS, atol=0)
