"""SDE kernels against tiny NumPy references (DESIGN.md section 4, rule 4), and the quality of the
counter-based normal variates.

Each kernel runs compiled and as plain Python (``.py_func``, what ``NUMBA_DISABLE_JIT=1`` runs);
the references are written independently: Philox with Python integers, reflection by repeated
mirroring, interpolation with scipy's RegularGridInterpolator, histograms with NumPy.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from scipy import stats
from scipy.interpolate import RegularGridInterpolator

import fpsolve as fp
from fpsolve.stochastic import _kernels as K
from fpsolve import derive_key
from fpsolve.stochastic.rng import standard_normal, ziggurat_table
from fpsolve.stochastic.tables import grid_geometry, tabulate

EPS = np.finfo(float).eps
JIT_DISABLED = os.environ.get("NUMBA_DISABLE_JIT", "0") == "1"
jit_only = pytest.mark.skipif(JIT_DISABLED, reason="statistics on 1e5 draws need compiled code")


@pytest.fixture(params=[False, True], ids=["jit", "python"])
def kernel(request):
    """The compiled kernel or its plain-Python body (NUMBA_DISABLE_JIT behaviour)."""
    def get(name):
        func = getattr(K, name)
        return getattr(func, "py_func", func) if request.param else func
    return get


# --------------------------------------------------------------------------- references
def ref_philox(ctr, key):
    """Philox4x32-10 with Python integers (Salmon et al. 2011, Random123 philox.h)."""
    c, (k0, k1) = [int(v) for v in ctr], (int(key[0]), int(key[1]))
    for _ in range(10):
        p0, p1 = 0xD2511F53 * c[0], 0xCD9E8D57 * c[2]
        c = [(p1 >> 32) ^ c[1] ^ k0, p1 & 0xFFFFFFFF, (p0 >> 32) ^ c[3] ^ k1, p0 & 0xFFFFFFFF]
        k0, k1 = (k0 + 0x9E3779B9) & 0xFFFFFFFF, (k1 + 0xBB67AE85) & 0xFFFFFFFF
    return c


def ref_fast_normal(word, table):
    """Ziggurat fast path on a 64-bit word: (accepted, value)."""
    idx, neg, rabs = word & 0xFF, (word >> 8) & 1, word >> 11
    if rabs >= table[0, idx]:
        return False, np.nan
    return True, (-1.0 if neg else 1.0) * rabs * table[1, idx]


def ref_fold(x, lo, hi, kind):
    """Mirror repeatedly (reflecting) or shift by whole periods (periodic); count the wraps,
    and 1 for a reflecting step that left the box (the wall-hit count)."""
    length, wraps = hi - lo, 0
    if kind == K.REFLECTING:
        wraps = int(not lo <= x <= hi)
        while not lo <= x <= hi:
            x = 2 * hi - x if x > hi else 2 * lo - x
    elif kind == K.PERIODIC:
        wraps = math.floor((x - lo) / length)
        x = x - wraps * length
    return x, wraps


def ref_interpolator(grid, table):
    """scipy multilinear interpolation of cell-center values with linear extrapolation."""
    axes = [grid.axis_centers(k) for k in range(grid.ndim)]
    return RegularGridInterpolator(axes, table.reshape(grid.shape + (-1,)), method="linear",
                                   bounds_error=False, fill_value=None)


# --------------------------------------------------------------------------- random numbers
KAT = [  # Random123 tests/kat_vectors, rows "philox4x32 10": counter, key, expected
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("ctr, key, expected", KAT)
def test_philox_known_answers(ctr, key, expected, kernel):
    out = np.zeros((4, 1), dtype=np.uint64)
    c = [np.uint64(v) for v in ctr]
    kernel("philox_words")(c[0], np.array([ctr[1]], dtype=np.uint64), c[2], c[3],
                           np.array(key, dtype=np.uint64), out)
    assert tuple(int(v) for v in out[:, 0]) == expected
    assert tuple(ref_philox(ctr, key)) == expected  # the reference itself is right


def test_philox_words_match_reference(kernel):
    rng = np.random.default_rng(3)
    key = rng.integers(0, 2**32, 2, dtype=np.uint64)
    c1 = rng.integers(0, 2**32, 7, dtype=np.uint64)
    out = np.zeros((4, 7), dtype=np.uint64)
    kernel("philox_words")(np.uint64(5), c1, np.uint64(2**32 - 1), np.uint64(9), key, out)
    for i in range(7):
        assert [int(v) for v in out[:, i]] == ref_philox((5, c1[i], 2**32 - 1, 9), key)


def test_ziggurat_table_has_equal_layers():
    t = ziggurat_table()
    x = np.append(t[1, :256] * 2.0**53, 0.0)
    f = np.exp(-0.5 * x**2)
    r = x[1]
    v = r * f[1] + math.sqrt(math.pi / 2) * math.erfc(r / math.sqrt(2))
    areas = x[1:256] * (f[2:257] - f[1:256])
    # Each layer's area equals v to the accuracy of its recursion, a few hundred ulps of v.
    np.testing.assert_allclose(areas, v, rtol=1e-12)
    assert abs(x[0] * f[1] - v) < 1e-15 and abs(r - 3.6541528853610088) < 1e-13  # M&T 2000
    np.testing.assert_array_equal(t[0, :256], np.floor(2.0**53 * x[1:] / x[:-1]))


def test_normals_fast_path_matches_reference(kernel):
    key, table = derive_key(11), ziggurat_table()
    rows, step = np.arange(40, 90), 123456789012
    z = np.full((rows.size, 3), np.nan)
    words, scratch = np.zeros((4, rows.size), np.uint64), np.zeros((5, 1), np.uint64)
    kernel("normals_block")(key, table, rows, step, words, scratch, z)
    assert np.all(np.isfinite(z))
    for i, traj in enumerate(rows):
        for comp in range(3):
            ctr = (comp // 2, traj, step & 0xFFFFFFFF, step >> 32)
            w = ref_philox(ctr, key)
            word = (w[2 * (comp % 2)] << 32) | w[2 * (comp % 2) + 1]
            accepted, value = ref_fast_normal(word, table)
            if accepted:  # the same products of the same doubles: bit-identical
                assert z[i, comp] == value


def test_standard_normal_is_independent_of_the_split():
    key = derive_key(5)
    full = standard_normal(key, 600, 6, 3)
    part = standard_normal(key, 100, 3, 3, traj0=250, step0=2)
    np.testing.assert_array_equal(part, full[2:5, 250:350])


@jit_only
def test_normal_moments_and_distribution():
    z = standard_normal(derive_key(2024), 500, 100, 2).ravel()      # 1e5 draws
    n = z.size
    # 4.5 standard errors: two-sided false-failure rate 7e-6 per statistic (asymptotic normal).
    assert abs(z.mean()) < 4.5 / math.sqrt(n)
    assert abs(z.var() - 1) < 4.5 * math.sqrt(2 / n)
    assert abs(stats.skew(z)) < 4.5 * math.sqrt(6 / n)
    assert abs(stats.kurtosis(z)) < 4.5 * math.sqrt(24 / n)
    assert stats.kstest(z, "norm").pvalue > 1e-4      # false-failure rate 1e-4
    edges = stats.norm.ppf(np.linspace(0, 1, 51))     # 50 equiprobable bins
    counts = np.histogram(z, edges)[0]
    assert stats.chisquare(counts).pvalue > 1e-4      # wedges and layers: false failures 1e-4
    # Tail beyond the ziggurat's base layer (x_1 = 3.654): Poisson count, 4.5 sigma band.
    expected = n * 2 * stats.norm.sf(3.6541528853610088)
    assert abs(np.sum(np.abs(z) > 3.6541528853610088) - expected) < 4.5 * math.sqrt(expected)


def _tail_words(n, seed):
    """``n`` 64-bit words that the ziggurat sends to its tail: layer 0, abscissa >= the bound."""
    rng, bound = np.random.default_rng(seed), int(ziggurat_table()[0, 0])
    rabs = rng.integers(bound, 2**53, size=n, dtype=np.uint64)
    sign = rng.integers(0, 2, size=n, dtype=np.uint64)
    return (rabs << np.uint64(11)) | (sign << np.uint64(8))


def test_ziggurat_tail_word_always_returns_an_exact_tail_draw():
    # A word that lands in the tail region must return a tail variate (|z| >= r) with the exact
    # conditional law P(|z| > r + s | tail) = erfc((r + s)/sqrt 2) / erfc(r/sqrt 2).  The old
    # kernel restarted the whole ziggurat on a rejected tail draw: about 6.5 % of these words
    # then returned |z| < r (the tail was under-sampled by that much) -- deterministically caught
    # by the first assertion.
    from fpsolve import _random as R
    # Compiled only: its .py_func would pass numba's uint64 returns back as Python ints.
    slow, n = R._ziggurat_slow, 20000
    table, key, scratch = ziggurat_table(), derive_key(3), np.zeros((5, 1), np.uint64)
    words = _tail_words(n, 1)
    z = np.array([slow(w, key, R.SLOW, np.uint64(i), 77, table, scratch)
                  for i, w in enumerate(words)])
    r = table[1, 1] * 2.0**53
    assert np.all(np.abs(z) >= r)
    np.testing.assert_array_equal(np.sign(z) < 0, ((words >> np.uint64(8)) & np.uint64(1)) == 1)
    sf = lambda x: stats.norm.sf(x) / stats.norm.sf(r)              # noqa: E731
    # KS p-value threshold 1e-4: false-failure rate 1e-4 (exact law under the null).
    assert stats.kstest(np.abs(z), lambda x: 1 - sf(np.maximum(x, r))).pvalue > 1e-4


def test_ziggurat_tail_region_has_the_exact_probability():
    # One pass of the ziggurat lands in the tail region with probability
    # (1 - bound/2^53)/256, which must equal (tail area)/(256 v) -- the normal's own tail mass
    # relative to the ziggurat area -- for the tail to be sampled exactly when every tail word
    # returns a tail draw.  Exact up to the floor of the bound (2^-53) and erfc's rounding.
    t = ziggurat_table()
    r, f = t[1, 1] * 2.0**53, t[2, 1]
    v = r * f + math.sqrt(math.pi / 2) * math.erfc(r / math.sqrt(2))
    p_region = (1 - t[0, 0] / 2.0**53) / 256
    p_exact = math.sqrt(math.pi / 2) * math.erfc(r / math.sqrt(2)) / (256 * v)
    assert abs(p_region / p_exact - 1) < 1e-12


def _tail_counts(n_blocks, thresholds, seed):
    """Counts of |z| > each threshold over ``n_blocks`` blocks of 2e7 normals of one key."""
    counts = np.zeros(len(thresholds))
    for b in range(n_blocks):
        z = np.abs(standard_normal(derive_key(seed), 1000, 10000, 2, step0=10000 * b))
        counts += [np.count_nonzero(z > c) for c in thresholds]
    return counts, n_blocks * 2 * 10**7


@jit_only
@pytest.mark.parametrize("n_blocks", [5, pytest.param(20, marks=pytest.mark.slow)])
def test_normal_tail_frequencies_match_exact_values(n_blocks):
    # Tail counts beyond z = 3 ... 6 of 1e8 (4e8 slow) draws against exact Poisson means.  The
    # old tail bug (6.5 % deficit beyond r = 3.654) gives a 10 sigma deficit at 1e8 draws.
    # 4.5 sigma band per threshold, 6 thresholds: false-failure rate < 6 * 7e-6 = 4e-5.
    thresholds = np.array([3.0, 3.6541528853610088, 4.0, 4.5, 5.0, 6.0])
    counts, n = _tail_counts(n_blocks, thresholds, 4242)
    expected = n * 2 * stats.norm.sf(thresholds)
    z = (counts - expected) / np.sqrt(expected)
    assert np.all(np.abs(z) < 4.5), dict(zip(thresholds, np.round(z, 2)))


@jit_only
def test_streams_are_uncorrelated():
    z = standard_normal(derive_key(7), 1000, 50, 2)                 # (step, traj, comp)
    other = standard_normal(derive_key(8), 1000, 50, 2)
    pairs = [(z[:, :-1], z[:, 1:]), (z[:-1], z[1:]), (z[..., 0], z[..., 1]), (z, other)]
    for a, b in pairs:   # neighbouring trajectories, steps, components, keys
        r = np.corrcoef(a.ravel(), b.ravel())[0, 1]
        # Null correlation of ~5e4 pairs has standard error 1/sqrt(n): 4.5 sigma, rate 7e-6.
        assert abs(r) < 4.5 / math.sqrt(a.size)
    assert not np.array_equal(z, other)


# --------------------------------------------------------------------------- interpolation
@pytest.mark.parametrize("d", [1, 2, 3])
def test_locate_interpolate_match_scipy(d, kernel):
    grid = fp.CartesianGrid([(-1.0, 2.0), (0.0, 1.0), (-3.0, -1.0)][:d], (5, 4, 3)[:d])
    rng = np.random.default_rng(d)
    table = rng.normal(size=(grid.size, 2))
    x = rng.uniform(-0.2, 1.2, size=(17, d)) * (np.ptp(grid.bounds, axis=1)) \
        + np.array(grid.bounds)[:, 0]                               # some points beyond walls
    tgeo, tint = grid_geometry(grid)
    idx, w = np.zeros((2**d, 17), np.int64), np.zeros((2**d, 17))
    out = np.zeros((17, 2))
    kernel("locate")(x, tgeo, tint, idx, w)
    kernel("interpolate")(table, idx, w, out)
    # Same bilinear formula in another order: a few ulps of the largest |value * weight|.
    np.testing.assert_allclose(out, ref_interpolator(grid, table)(x), rtol=0,
                               atol=100 * EPS * np.abs(table).max())
    np.testing.assert_allclose(w.sum(axis=0), 1.0, atol=10 * EPS)


def test_interpolation_reproduces_affine_fields_and_wraps_periodic_axes(kernel):
    grid = fp.CartesianGrid([(0.0, 1.0), (-1.0, 1.0)], (6, 5), boundary=["periodic", "reflecting"])
    c = grid.cell_centers().reshape(2, -1).T
    x = np.array([[0.01, -0.99], [0.99, 0.999], [0.5, 1.3], [0.95, -1.4]])
    tgeo, tint = grid_geometry(grid)
    idx, w, out = np.zeros((4, 4), np.int64), np.zeros((4, 4)), np.zeros((4, 2))
    kernel("locate")(x, tgeo, tint, idx, w)
    # Column 0: affine in the reflecting axis (extrapolated exactly); column 1: periodic axis.
    table = np.stack([3.0 - 2.0 * c[:, 1], np.cos(2 * np.pi * c[:, 0])], axis=1)
    kernel("interpolate")(table, idx, w, out)
    np.testing.assert_allclose(out[:, 0], 3.0 - 2.0 * x[:, 1], rtol=0, atol=20 * EPS)
    xc = grid.axis_centers(0)
    ext = np.concatenate([[xc[-1] - 1.0], xc, [xc[0] + 1.0]])    # periodic images
    vals = np.cos(2 * np.pi * ext)
    np.testing.assert_allclose(out[:, 1], np.interp(x[:, 0], ext, vals), rtol=0, atol=20 * EPS)


# --------------------------------------------------------------------------- walls
def test_fold_block_matches_repeated_mirroring(kernel):
    rng = np.random.default_rng(4)
    wall = np.array([[-1.0, 0.0, 2.0], [2.0, 0.5, 3.0]])
    kind = np.array([K.REFLECTING, K.PERIODIC, K.ABSORBING])
    x = rng.uniform(-9, 9, size=(40, 3))
    x[:5] = [[0.3, 0.2, 2.5], [2.0, 0.0, 2.0], [-1.0, 0.5, 3.0], [8.0, -3.2, 0], [-7.9, 7.1, 9]]
    live = np.ones(40, dtype=bool)
    live[-1] = False
    wind = np.zeros((40, 3), np.int64)
    y = x.copy()
    kernel("fold_block")(y, live, wall, kind, wind)
    for i in range(39):
        for k in range(3):
            ref, wraps = ref_fold(x[i, k], wall[0, k], wall[1, k], kind[k])
            # Each fold is one subtraction: error <= (number of folds + 1) ulps of the box scale.
            assert abs(y[i, k] - ref) <= 40 * EPS * 9, (i, k)
            assert wind[i, k] == wraps if kind[k] != K.ABSORBING else wind[i, k] == 0
    np.testing.assert_array_equal(y[:2], x[:2])   # inside (walls included): untouched
    assert y[2, 1] == 0.0 and wind[2, 1] == 1      # periodic: the upper wall is the lower one
    np.testing.assert_array_equal(y[-1], x[-1])   # not live: untouched
    assert np.all((y[:39, :2] >= wall[0, :2]) & (y[:39, :2] <= wall[1, :2]))
    assert np.all(y[:39, 1] < wall[1, 1])


# --------------------------------------------------------------------------- observables
def ref_cells(grid, x):
    out = np.zeros(len(x), dtype=np.int64)
    for i, p in enumerate(x):
        if not all(lo <= v <= hi for v, (lo, hi) in zip(p, grid.bounds)):
            out[i] = -1
            continue
        ijk = [min(int(np.floor((v - lo) / h)), n - 1)
               for v, (lo, _), h, n in zip(p, grid.bounds, grid.spacing, grid.shape)]
        out[i] = np.ravel_multi_index(ijk, grid.shape)
    return out


def test_cells_histogram_and_current_match_numpy(kernel):
    grid = fp.CartesianGrid([(0.0, 1.0), (-1.0, 1.0)], (4, 3))
    rng = np.random.default_rng(6)
    path = rng.uniform(-0.1, 1.1, size=(6, 9, 2)) * [1, 2] - [0, 1]
    path[3, 2] = np.nan
    path[0, 0] = [1.0, 1.0]                                         # upper walls count inside
    tgeo, tint = grid_geometry(grid)
    cells = np.zeros(9, np.int64)
    kernel("cells_block")(path[0], tgeo[0], tgeo[1], tint[0], cells)
    np.testing.assert_array_equal(cells, ref_cells(grid, path[0]))
    rows = np.array([1, 3, 5])
    counts = np.zeros((2, grid.size), np.int64)
    edges2, edges3 = np.array([0, 4, 9]), np.array([0, 3, 6, 9])
    kernel("histogram_update")(path, rows, tgeo[0], tgeo[1], tint[0], edges2, counts)
    pts = path[rows].reshape(-1, 2)
    expected = np.bincount([c for c in ref_cells(grid, pts) if c >= 0], minlength=grid.size)
    np.testing.assert_array_equal(counts.sum(axis=0), expected)
    acc = np.zeros((3, grid.size, 2))
    kernel("current_update")(path, rows, tgeo[0], tgeo[1], tint[0], np.zeros(2), edges3, acc)
    ref = np.zeros((grid.size, 2))
    for r in rows:
        dx, mid = path[r] - path[r - 1], 0.5 * (path[r] + path[r - 1])
        for i, c in enumerate(ref_cells(grid, mid)):
            if c >= 0 and np.all(np.isfinite(dx[i])):
                ref[c] += dx[i]
    np.testing.assert_allclose(acc.sum(axis=0), ref, rtol=0, atol=20 * EPS)


def test_line_integral_matches_numpy(kernel):
    grid = fp.CartesianGrid([(0.0, 1.0), (-1.0, 1.0)], (5, 4), boundary=["periodic", "reflecting"])
    rng = np.random.default_rng(8)
    field, pot = rng.normal(size=(grid.size, 2)), rng.normal(size=(grid.size, 1))
    path = np.stack([rng.uniform([0, -1], [1, 1], size=(7, 2)) for _ in range(5)])
    path[2, 4] = np.nan
    rows, snap = np.array([1, 2, 4]), np.array([-1, 0, 1])
    total, snaps = np.zeros(7), np.zeros((2, 7))
    tgeo, tint = grid_geometry(grid)
    kernel("line_integral_update")(path, rows, tgeo, tint, np.array([1.0, 0.0]), field, pot,
                                   total, snap, snaps)
    F, U = ref_interpolator(grid.refined(1), field), ref_interpolator(grid, pot)
    ref = np.zeros(7)
    for j, r in enumerate(rows):
        dx = path[r] - path[r - 1]
        dx[:, 0] -= np.round(dx[:, 0])                               # minimum image, period 1
        mid = path[r - 1] + 0.5 * dx
        mid[:, 0] %= 1.0
        ok = np.isfinite(dx[:, 0])
        step = np.sum(_periodic_eval(F, grid, mid) * dx, axis=1) \
            - (_periodic_eval(U, grid, path[r])[:, 0] - _periodic_eval(U, grid, path[r - 1])[:, 0])
        ref[ok] += step[ok]
        if snap[j] >= 0:
            np.testing.assert_allclose(snaps[snap[j]], ref, rtol=0, atol=1e-13)
    np.testing.assert_allclose(total, ref, rtol=0, atol=1e-13)   # ~10 terms of size ~1


def _periodic_eval(interp, grid, x):
    """Evaluate with the periodic axis 0 by padding the table with its periodic images."""
    xc = grid.axis_centers(0)
    vals = interp.values
    ext = RegularGridInterpolator((np.concatenate([[xc[-1] - 1], xc, [xc[0] + 1]]),
                                   grid.axis_centers(1)),
                                  np.concatenate([vals[-1:], vals, vals[:1]]), method="linear",
                                  bounds_error=False, fill_value=None)
    return ext(np.where(np.isfinite(x), x, 0.0))


# --------------------------------------------------------------------------- the step kernel
@pytest.mark.parametrize("method", ["euler_maruyama", "heun", "milstein"])
def test_advance_matches_numpy_steps(method, kernel):
    """A few steps of a 1-D multiplicative-noise SDE with reflecting walls, on injected normals,
    against the scheme written in NumPy on the same tables."""
    grid = fp.CartesianGrid([(-2.0, 2.0)], 8)
    model = fp.FokkerPlanckModel(lambda x: np.sin(x) - x, lambda x: 0.5 + 0.2 * np.cos(x[0]),
                                 diffusion_divergence=lambda x: -0.2 * np.sin(x))
    tb = tabulate(model, grid, method, table_grid=grid.refined(2))
    rng = np.random.default_rng(9)
    n, steps, dt = 6, 4, 0.3
    x0 = rng.uniform(-1.9, 1.9, size=(n, 1))
    noise = rng.normal(size=(steps, n, 1)) * 2                      # big steps: folds happen
    x, wind = x0.copy(), np.zeros((n, 1), np.int64)
    t_exit, side, fail = np.full(n, np.nan), np.zeros(n, np.int64), np.full((n, 2), -1)
    path = np.full((steps + 1, n, 1), np.nan)
    kernel("advance")(K.EULER_MARUYAMA if method == "euler_maruyama" else
                      (K.HEUN if method == "heun" else K.MILSTEIN), x, wind, t_exit, side, fail,
                      tb.drift, tb.sigma, tb.dsigma, tb.tgeo, tb.tint, tb.wall, tb.kind,
                      derive_key(0), ziggurat_table(), noise, 0, steps, dt, True, path, 1, 0,
                      0)
    coef = ref_interpolator(tb.table_grid, np.concatenate([tb.drift, tb.sigma,
                                                            tb.dsigma if tb.dsigma.size else
                                                            np.zeros_like(tb.drift)], axis=1))
    y = x0[:, 0].copy()
    for s in range(steps):
        dw = noise[s, :, 0] * math.sqrt(dt)
        a, sig, dsig = coef(y[:, None]).T
        yn = y + a * dt + sig * dw
        if method == "milstein":
            yn += 0.5 * sig * dsig * (dw**2 - dt)
        if method == "heun":
            a2, sig2, _ = coef(yn[:, None]).T
            yn = y + 0.5 * (a + a2) * dt + 0.5 * (sig + sig2) * dw
        y = np.array([ref_fold(v, -2.0, 2.0, K.REFLECTING)[0] for v in yn])
        # Identical formulas on interpolated coefficients that agree to ~1e-15.
        np.testing.assert_allclose(path[s + 1, :, 0], y, rtol=0, atol=1e-12)
    assert np.all(fail == -1) and np.all(np.isnan(t_exit))


def test_affine_drift_is_evaluated_exactly_like_its_table(kernel):
    """An affine drift is stored as [b; M^T]; stepping with it or with the full table of the
    same drift gives the same paths to round-off."""
    grid = fp.CartesianGrid([(-3.0, 3.0), (-2.0, 2.0)], (6, 4))
    model = fp.FokkerPlanckModel(lambda x: np.stack([-x[0] + 0.5 * x[1] + 1.0, -2 * x[1]]),
                                 [[1.0, 0.2], [0.2, 0.5]])
    tb = tabulate(model, grid, "euler_maruyama", table_grid=grid)
    assert tb.drift.shape == (3, 2)
    table = np.ascontiguousarray(model.ito_drift(grid).reshape(2, -1).T)
    rng = np.random.default_rng(12)
    noise, x0 = rng.normal(size=(5, 9, 2)), rng.uniform(-1.5, 1.5, size=(9, 2))
    out = []
    for drift in (tb.drift, table):
        x, path = x0.copy(), np.full((6, 9, 2), np.nan)
        kernel("advance")(K.EULER_MARUYAMA, x, np.zeros((9, 2), np.int64), np.full(9, np.nan),
                          np.zeros(9, np.int64), np.full((9, 2), -1), drift, tb.sigma, tb.dsigma,
                          tb.tgeo, tb.tint, tb.wall, tb.kind, derive_key(0), ziggurat_table(),
                          noise, 0, 5, 0.05, True, path, 1, 0, 0)
        out.append(path)
    # Two evaluations of the same affine function: a few ulps of |a| dt per step.
    np.testing.assert_allclose(out[0], out[1], rtol=0, atol=1e-13)
