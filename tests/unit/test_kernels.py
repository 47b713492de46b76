"""Numba kernels of the operator against tiny NumPy references (DESIGN.md section 4, rule 4).

Flux kernels are checked on random bond sets (random partial neighbour maps, random rates,
random densities) and on the bond sets of real operators; the bond-construction kernels on
drops across every floating-point regime and on all offsets of small grids.  Each runs compiled
and as plain Python (``.py_func``, what ``NUMBA_DISABLE_JIT=1`` runs).  The references are
written for clarity: explicit loops over bonds, a dense generator assembled entry by entry, the
Bernoulli function branch by branch, and neighbour maps by ``np.roll``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import fpsolve as fp
from fpsolve.operators import _kernels

# The kernels and references add the same few products in possibly different orders: the
# differences are a few ulps of the largest term.  50 eps relative to the largest |term| is a
# bound with margin for K <= 9 bond families.
REL = 50 * np.finfo(float).eps


# --------------------------------------------------------------------------- references


def ref_bond_fluxes(rf, rb, nbr, p):
    out = np.zeros_like(rf)
    K, n = rf.shape
    for k in range(K):
        for x in range(n):
            y = nbr[k, x]
            if y >= 0:
                out[k, x] = rf[k, x] * p[x] - rb[k, x] * p[y]
    return out


def ref_flux_divergence(flux, nbr, exit_rate, p):
    """dp/dt from bond fluxes: each bond x -> y moves flux[k, x] from x to y."""
    out = -exit_rate * p
    K, n = flux.shape
    for k in range(K):
        for x in range(n):
            y = nbr[k, x]
            if y >= 0:
                out[x] -= flux[k, x]
                out[y] += flux[k, x]
    return out


def ref_generator(rf, rb, nbr, exit_rate):
    """Dense G with dp/dt = G p: rate x -> y is G[y, x] (gain of y) and -G[x, x] (loss of x)."""
    K, n = rf.shape
    G = np.zeros((n, n))
    for x in range(n):
        G[x, x] -= exit_rate[x]
        for k in range(K):
            y = nbr[k, x]
            if y >= 0:
                G[y, x] += rf[k, x]
                G[x, x] -= rf[k, x]
                G[x, y] += rb[k, x]
                G[y, y] -= rb[k, x]
    return G


# --------------------------------------------------------------------------- inputs


def random_bonds(rng, n: int, K: int, absent: float = 0.3):
    """Random rates and an injective partial neighbour map per family without self-bonds (like
    lattice bonds: a fraction ``absent`` leaves the box)."""
    nbr = np.full((K, n), -1, dtype=np.int64)
    prev = np.full((K, n), -1, dtype=np.int64)
    for k in range(K):
        target = rng.permutation(n)
        keep = (rng.random(n) > absent) & (target != np.arange(n))
        nbr[k, keep] = target[keep]
        prev[k, target[keep]] = np.flatnonzero(keep)
    rf = rng.random((K, n)) * (nbr >= 0)
    rb = rng.random((K, n)) * (nbr >= 0)
    exit_rate = rng.random(n) * (rng.random(n) < 0.3)
    p = rng.random(n)
    return rf, rb, nbr, prev, exit_rate, p


def operator_bonds(d: int, boundary: str):
    grid = fp.CartesianGrid([(-1.0, 1.0)] * d, (4, 5, 3)[:d], boundary=boundary)
    model = fp.FokkerPlanckModel(lambda x: -x + 0.3 * np.sin(x[::-1]), np.eye(d) + 0.1 * (d > 1)
                                 * (np.ones((d, d)) - np.eye(d)))
    b = fp.FokkerPlanckOperator(grid, model).bonds
    p = np.random.default_rng(d).random(grid.size)
    return b.rate_forward, b.rate_backward, b.neighbor, b.previous, b.exit_rate, p


CASES = [("random", n, K, seed) for n, K, seed in [(1, 1, 0), (7, 1, 1), (12, 3, 2), (30, 9, 3)]]
CASES += [("grid", d, bc, 0) for d in (1, 2, 3) for bc in ("reflecting", "periodic", "absorbing")]


def make_inputs(case):
    kind, a, b, seed = case
    if kind == "random":
        return random_bonds(np.random.default_rng(seed), a, b)
    return operator_bonds(a, b)


IDS = [f"{c[0]}-{c[1]}-{c[2]}" for c in CASES]


@pytest.fixture(params=[False, True], ids=["jit", "python"])
def kernel(request):
    """Return the compiled kernel or its plain-Python body (NUMBA_DISABLE_JIT behaviour).

    Under ``NUMBA_DISABLE_JIT=1`` the kernels already are plain functions without ``py_func``.
    """
    def get(name):
        func = getattr(_kernels, name)
        return getattr(func, "py_func", func) if request.param else func
    return get


# --------------------------------------------------------------------------- tests


def test_random_maps_are_consistent():
    rf, rb, nbr, prev, exit_rate, p = random_bonds(np.random.default_rng(5), 20, 4)
    for k in range(nbr.shape[0]):
        src = np.flatnonzero(nbr[k] >= 0)
        np.testing.assert_array_equal(prev[k, nbr[k, src]], src)
        assert (prev[k] >= 0).sum() == len(src)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_bond_fluxes(case, kernel):
    rf, rb, nbr, prev, exit_rate, p = make_inputs(case)
    out = np.full_like(rf, np.nan)  # every entry must be written, absent bonds as 0
    kernel("bond_fluxes")(rf, rb, nbr, p, out)
    expected = ref_bond_fluxes(rf, rb, nbr, p)
    scale = max(np.abs(rf * p).max(), np.abs(rb).max() * p.max(), 1e-300)
    np.testing.assert_allclose(out, expected, rtol=0, atol=REL * scale)
    assert np.all(out[nbr < 0] == 0)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_flux_divergence(case, kernel):
    rf, rb, nbr, prev, exit_rate, p = make_inputs(case)
    flux = ref_bond_fluxes(rf, rb, nbr, p)
    out = np.full_like(p, np.nan)
    kernel("flux_divergence")(flux, prev, exit_rate, p, out)
    expected = ref_flux_divergence(flux, nbr, exit_rate, p)
    scale = max(np.abs(flux).max(), (exit_rate * p).max(), 1e-300)
    np.testing.assert_allclose(out, expected, rtol=0, atol=REL * scale)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_assemble_csr(case, kernel):
    rf, rb, nbr, prev, exit_rate, p = make_inputs(case)
    K, n = rf.shape
    w = 2 * K + 1
    indices = np.full(n * w, -7, dtype=np.int64)
    data = np.full(n * w, np.nan)
    kernel("assemble_csr")(rf, rb, nbr, prev, exit_rate, indices, data)
    assert np.all((indices >= 0) & (indices < n)) and np.all(np.isfinite(data))
    # Slot 0 of each row is the diagonal (documented layout).
    np.testing.assert_array_equal(indices[::w], np.arange(n))
    G = sp.csr_matrix((data, indices, np.arange(0, n * w + 1, w)), shape=(n, n)).toarray()
    expected = ref_generator(rf, rb, nbr, exit_rate)
    scale = max(np.abs(expected).max(), 1e-300)
    np.testing.assert_allclose(G, expected, rtol=0, atol=REL * scale)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_kernels_compose_to_the_generator(case):
    # flux_divergence(bond_fluxes(p)) == G p: the "one flux, one truth" chain at kernel level.
    rf, rb, nbr, prev, exit_rate, p = make_inputs(case)
    flux = np.empty_like(rf)
    _kernels.bond_fluxes(rf, rb, nbr, p, flux)
    dpdt = np.empty_like(p)
    _kernels.flux_divergence(flux, prev, exit_rate, p, dpdt)
    G = ref_generator(rf, rb, nbr, exit_rate)
    scale = max(np.abs(G).max() * p.max(), 1e-300)
    np.testing.assert_allclose(dpdt, G @ p, rtol=0, atol=REL * scale)


# --------------------------------------------------------------------------- bond construction


def ref_bernoulli(z: float) -> float:
    """B(z) = z / (e^z - 1), written branch by branch (independent of the kernel's form)."""
    if z == 0.0:
        return 1.0
    if z > 700.0:  # e^z overflows: B = z e^-z underflows to 0
        return z * np.exp(-z)
    if z < -700.0:  # e^z ~ 0: B = -z / (1 - e^z) = -z to double precision
        return -z
    return z / np.expm1(z)


def ref_fitted_rates(c, drop, nbr):
    rf, rb = np.zeros_like(c), np.zeros_like(c)
    for x in range(c.size):
        if nbr[x] >= 0:
            rf[x] = c[x] * ref_bernoulli(drop[x])
            rb[x] = c[x] * ref_bernoulli(-drop[x])
    return rf, rb


# Drops across all regimes: exact zero, subnormal, tiny (expm1 matters), O(1), large, and
# beyond exp overflow (|z| > 709), with both signs.
SCALES = [0.0, 1e-300, 1e-10, 1e-3, 0.7, 5.0, 30.0, 300.0, 700.0]
BIG = [800.0, 1e5]


def fitted_inputs(seed: int, scales):
    rng = np.random.default_rng(seed)
    z = np.concatenate([np.array(scales), -np.array(scales), rng.normal(0, 3, 40)])
    c = rng.random(z.size) + 0.1
    nbr = np.where(rng.random(z.size) < 0.2, -1, 1).astype(np.int64)
    return c, z, nbr


def run_fitted(kernel, c, z, nbr):
    rf, rb = np.full_like(c, np.nan), np.full_like(c, np.nan)
    kernel("fitted_rates")(c, z, nbr, rf, rb)
    return rf, rb


def test_fitted_rates(kernel):
    c, z, nbr = fitted_inputs(0, SCALES)
    rf, rb = run_fitted(kernel, c, z, nbr)
    ref_f, ref_b = ref_fitted_rates(c, z, nbr)
    # Same elementary operations up to association: a few ulps (4 eps relative).
    np.testing.assert_allclose(rf, ref_f, rtol=4 * np.finfo(float).eps, atol=0)
    np.testing.assert_allclose(rb, ref_b, rtol=4 * np.finfo(float).eps, atol=0)
    assert np.all(rf[nbr < 0] == 0) and np.all(rb[nbr < 0] == 0)
    live = (nbr >= 0) & (np.abs(z) < 30)
    # Detailed balance of every bond, rf / rb = exp(-z): each rate is ~2 ulps of its exact
    # value, so the ratio carries ~4 ulps relative error plus exp's; 1e-14 relative.
    np.testing.assert_allclose(rf[live] / rb[live], np.exp(-z[live]), rtol=1e-14)
    # B(z) - B(-z) = -z: the net drift rate, to round-off relative to the one-way rates.
    live = nbr >= 0
    np.testing.assert_allclose(rf[live] - rb[live], -c[live] * z[live], rtol=0,
                               atol=1e-14 * np.abs(z[live]).max() * c.max() + 1e-300)


@pytest.mark.skipif(not hasattr(_kernels.fitted_rates, "py_func"),
                    reason="kernels not compiled (NUMBA_DISABLE_JIT=1)")
def test_fitted_rates_beyond_overflow_jit():
    # Compiled path: |z| > 709 overflows exp; the rates take their exact limits 0 and c |z|.
    c, z, nbr = fitted_inputs(1, BIG)
    nbr[:] = 1
    rf, rb = np.empty_like(c), np.empty_like(c)
    _kernels.fitted_rates(c, z, nbr, rf, rb)
    ref_f, ref_b = ref_fitted_rates(c, z, nbr)
    np.testing.assert_allclose(rf, ref_f, rtol=4 * np.finfo(float).eps, atol=0)
    np.testing.assert_allclose(rb, ref_b, rtol=4 * np.finfo(float).eps, atol=0)
    assert np.all(np.isfinite(rf)) and np.all(rf >= 0) and np.all(rb >= 0)


def test_fitted_rates_beyond_overflow_python_is_silent():
    c, z, nbr = fitted_inputs(1, BIG)
    nbr[:] = 1
    rf, rb = np.empty_like(c), np.empty_like(c)
    func = getattr(_kernels.fitted_rates, "py_func", _kernels.fitted_rates)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        func(c, z, nbr, rf, rb)
    ref_f, ref_b = ref_fitted_rates(c, z, nbr)
    np.testing.assert_allclose(rf, ref_f, rtol=4 * np.finfo(float).eps, atol=0)
    np.testing.assert_allclose(rb, ref_b, rtol=4 * np.finfo(float).eps, atol=0)


def ref_shifted_index(shape, periodic, off):
    """Neighbour map by rolling the array of flat indices (the obvious NumPy formulation)."""
    idx = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    nbr = np.roll(idx, shift=tuple(-int(o) for o in off), axis=tuple(range(len(shape))))
    for axis, o in enumerate(off):
        if o != 0 and not periodic[axis]:
            edge = [slice(None)] * len(shape)
            edge[axis] = -1 if o > 0 else 0
            nbr[tuple(edge)] = -1
    nbr = nbr.ravel()
    prev = np.full(nbr.size, -1, dtype=np.int64)
    src = np.flatnonzero(nbr >= 0)
    prev[nbr[src]] = src
    return nbr, prev


SHIFT_CASES = [((5,), (True,)), ((5,), (False,)), ((3, 4), (True, False)),
               ((4, 3), (False, False)), ((3, 5, 4), (True, False, True)),
               ((3, 3, 3), (True, True, True)), ((4, 3, 5), (False, False, False))]


@pytest.mark.parametrize("shape, periodic", SHIFT_CASES,
                         ids=["x".join(map(str, s)) + "-" + "".join("p" if q else "n" for q in p)
                              for s, p in SHIFT_CASES])
def test_shifted_index(kernel, shape, periodic):
    d = len(shape)
    offsets = np.array(np.meshgrid(*[[-1, 0, 1]] * d, indexing="ij")).reshape(d, -1).T
    for off in offsets.astype(np.int64):
        n = int(np.prod(shape))
        nbr = np.full(n, -7, dtype=np.int64)
        prev = np.full(n, -1, dtype=np.int64)
        kernel("shifted_index")(np.asarray(shape, dtype=np.int64),
                                np.asarray(periodic, dtype=np.bool_), off, nbr, prev)
        ref_nbr, ref_prev = ref_shifted_index(shape, periodic, off)
        np.testing.assert_array_equal(nbr, ref_nbr, err_msg=f"offset {off}")
        np.testing.assert_array_equal(prev, ref_prev, err_msg=f"offset {off}")
