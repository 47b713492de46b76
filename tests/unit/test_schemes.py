"""Bond-rate schemes (fpsolve.operators.schemes): the properties every scheme must keep.

Each scheme -- and the "fitted" scheme after refits to a density -- must keep the exact discrete
Boltzmann density of gradient drifts with constant D, zero column sums, non-negative
off-diagonals, and the one-flux identity ``divergence(current) == -apply(p)``; the rate kernel
is checked against a NumPy reference; the time-dependent, spectral and absorbing solvers run on
every scheme.  Stationary densities come from a local bordered LU solve so that these tests
check the operator alone.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import fpsolve as fp
from fpsolve.errors import ModelError
from fpsolve.operators import SCHEMES, _kernels, refit_to_density
from fpsolve.results import StationaryResult

D2 = np.array([[1.0, 0.4], [0.4, 0.6]])
D3 = np.array([[1.0, 0.2, -0.1], [0.2, 0.7, 0.15], [-0.1, 0.15, 0.9]])
# "refit" is the fitted scheme after two refits to its own stationary densities.
VARIANTS = list(SCHEMES) + ["refit"]


def direct(op) -> StationaryResult:
    """Stationary density by a bordered LU solve ``[[G, 1], [V^T, 0]] [p; lam] = [0; 1]``."""
    G = op.matrix()
    n = G.shape[0]
    col = sp.csr_matrix(np.ones((n, 1)))
    row = sp.csr_matrix(np.full((1, n), op.grid.cell_volume))
    K = sp.bmat([[G, col], [row, None]], format="csc")
    rhs = np.zeros(n + 1)
    rhs[-1] = 1.0
    p = spla.spsolve(K, rhs)[:n].reshape(op.grid.shape)
    return StationaryResult(p=p, grid=op.grid, operator=op, residual=float("nan"),
                            converged=True)


def build(grid, model, variant):
    if variant != "refit":
        return fp.FokkerPlanckOperator(grid, model, scheme=variant)
    op = fp.FokkerPlanckOperator(grid, model, scheme="fitted")
    return refit_to_density(op, lambda o, _: direct(o), max_refits=2, rtol=0.0)[0]


def nonequilibrium(d):
    def drift(x):
        return np.stack([-x[k] + 0.8 * x[(k + 1) % d] - 0.8 * x[k - 1] + 0.3 * np.sin(x[k])
                         for k in range(d)])
    grid = fp.CartesianGrid([(-3.0, 3.0), (-2.5, 3.5), (-3.0, 2.0)][:d], (10, 9, 8)[:d])
    return grid, fp.FokkerPlanckModel(drift, D2 if d == 2 else D3)


def test_scheme_names_are_validated():
    grid = fp.CartesianGrid([(-1.0, 1.0)], (8,))
    with pytest.raises(ModelError, match="scheme"):
        fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(lambda x: -x), scheme="upwind")
    assert fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(lambda x: -x)).scheme == "fitted"


def test_needs_refit_only_before_the_first_refit():
    grid = fp.CartesianGrid([(-2.0, 2.0)], (16,))
    op = fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(lambda x: -x + np.sin(x)))
    assert op.needs_refit
    again = op.refitted(np.ones(grid.shape))
    assert not again.needs_refit and again.refits == 1 and op.refits == 0
    assert not fp.FokkerPlanckOperator(grid, op.model, scheme="sg").needs_refit


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("d", [2, 3])
def test_boltzmann_exact_for_every_scheme(variant, d):
    # Gradient drift a = -D grad U with a non-quadratic U and constant correlated D, as a
    # potential model: every scheme keeps rate ratio exp(-dU), so exp(-U) is the null vector.
    def U(x):
        return 0.5 * (x ** 2).sum(0) + 0.2 * np.sin(2 * x[0]) + 0.1 * x[0] * x[-1]

    grid = nonequilibrium(d)[0]
    op = build(grid, fp.FokkerPlanckModel.from_potential(U, D2 if d == 2 else D3), variant)
    expected = np.exp(-U(grid.cell_centers()))
    expected /= expected.sum() * grid.cell_volume
    res = direct(op)
    # Direct solve of <= 720 cells with an exact null vector: cond * eps, measured ~1e-15.
    assert np.abs(res.p - expected).max() <= 1e-12 * expected.max()
    # Zero net flux on every bond: each is a cancellation of two one-way fluxes whose ratio is
    # exp(-dU) to a few ulps (exponents of size |dU| <~ 10): measured <= 4e-16 of them.
    b = op.bonds
    oneway = np.max(b.rate_forward * expected.ravel())
    assert np.abs(op.bond_fluxes(expected)).max() <= 1e-12 * oneway


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("d", [2, 3])
def test_mass_conservation_and_m_matrix(variant, d):
    op = build(*nonequilibrium(d), variant)
    G = op.matrix().tocsc()
    scale = np.abs(G.diagonal()).max()
    # Each column sum adds the 2K+1 entries of one cell: a few eps of the diagonal.
    assert np.abs(np.asarray(G.sum(axis=0))).max() <= 1e-13 * scale
    off = G - sp.diags(G.diagonal())
    assert off.data.min() >= 0.0  # positive weights: rates are exact products, no rounding sign


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("d", [2, 3])
def test_divergence_of_current_is_minus_apply(variant, d):
    op = build(*nonequilibrium(d), variant)
    rng = np.random.default_rng(d)
    p = rng.random(op.grid.shape) + 0.05
    state = StationaryResult(p=p, grid=op.grid, operator=op, residual=float("nan"),
                             converged=False)
    div = fp.divergence(fp.probability_current(state, p))
    # Same bond fluxes summed in another order; round-off <= few eps of max|diag| p.
    scale = np.abs(op.matrix().diagonal()).max() * p.max()
    np.testing.assert_allclose(div, -op.apply(p), rtol=0, atol=1e-12 * scale)


def test_split_is_sg_for_drift_models_and_differs_for_potential_models():
    grid = fp.CartesianGrid([(-3.0, 3.0)] * 2, (12, 12))
    J = np.array([[0.0, 1.0], [-1.0, 0.0]])
    drift = fp.FokkerPlanckModel(lambda x: -x - np.tensordot(J, x, axes=1))
    sg = fp.FokkerPlanckOperator(grid, drift, scheme="sg").bonds.rate_forward
    split = fp.FokkerPlanckOperator(grid, drift, scheme="split").bonds.rate_forward
    np.testing.assert_array_equal(sg, split)  # no potential: nothing to split off
    pot = fp.FokkerPlanckModel.from_potential(lambda x: 0.5 * (x ** 2).sum(0),
                                              force=lambda x: -np.tensordot(J, x, axes=1))
    assert not np.allclose(fp.FokkerPlanckOperator(grid, pot, scheme="split").bonds.rate_forward,
                           sg)


def test_refit_ignores_densities_below_the_floor():
    # Zero and negative entries (round-off of a solve) keep SG rates instead of log(<= 0).
    grid, model = nonequilibrium(2)
    op = fp.FokkerPlanckOperator(grid, model, scheme="sg")
    p = np.ones(grid.shape)
    p[0, :] = 0.0
    p[1, :] = -1e-17
    new = op.refitted(p)
    assert np.all(np.isfinite(new.bonds.rate_forward))
    axis0 = 0  # bonds of family 0 leaving the first row end in rows with p <= 0: SG there
    np.testing.assert_allclose(new.bonds.rate_forward[axis0, :grid.shape[1]],
                               op.bonds.rate_forward[axis0, :grid.shape[1]], rtol=1e-13)


# --------------------------------------------------------------------------- kernel reference


def ref_weighted_rates(c, drop, fit, nbr):
    """``c w exp(-+drop/2)`` with ``w = (fit/2) / sinh(fit/2)``, straight from the formula."""
    w = np.ones_like(fit)
    nz = fit != 0
    w[nz] = (fit[nz] / 2) / np.sinh(fit[nz] / 2)
    rf = np.where(nbr >= 0, c * w * np.exp(-drop / 2), 0.0)
    rb = np.where(nbr >= 0, c * w * np.exp(drop / 2), 0.0)
    return rf, rb


@pytest.mark.parametrize("compiled", [True, False], ids=["jit", "python"])
def test_weighted_rates_against_reference(compiled):
    kernel = _kernels.weighted_rates
    if not compiled:
        kernel = getattr(kernel, "py_func", kernel)
    rng = np.random.default_rng(0)
    # Drops and fits over every regime the formula is evaluated in by NumPy without overflow:
    # the series branch (|fit| < 1e-3), moderate and large values (sinh up to e^300).
    fit = np.concatenate([rng.normal(0, 1e-4, 50), rng.normal(0, 3, 200),
                          rng.uniform(-600, 600, 50), [0.0, 1e-3, -1e-3]])
    drop = np.concatenate([fit[:150], rng.normal(0, 5, fit.size - 150)])
    c = rng.random(fit.size) + 0.1
    nbr = np.where(rng.random(fit.size) < 0.1, -1, 1).astype(np.int64)
    rf, rb = np.empty_like(c), np.empty_like(c)
    kernel(c, drop, fit, nbr, rf, rb)
    ref_f, ref_b = ref_weighted_rates(c, drop, fit, nbr)
    # log w and exp lose a few ulps times the exponent size (|drop|/2 + |fit|/2 <~ 400):
    # 400 * 4 eps ~ 4e-13 relative; the series branch truncates at fit^6 / 181440 < 1e-22.
    np.testing.assert_allclose(rf, ref_f, rtol=5e-13, atol=0)
    np.testing.assert_allclose(rb, ref_b, rtol=5e-13, atol=0)
    assert np.all(rf[nbr < 0] == 0) and np.all(rb[nbr < 0] == 0)


def test_weighted_rates_sg_limit_and_caps():
    # fit == drop is Scharfetter-Gummel: compare with the SG kernel; huge drops neither
    # overflow nor produce NaN (exponents are capped at 700).
    z = np.array([-1500.0, -40.0, -1.0, -1e-6, 0.0, 1e-6, 1.0, 40.0, 1500.0])
    c = np.full(z.size, 2.0)
    nbr = np.ones(z.size, dtype=np.int64)
    rf, rb, sf, sb = (np.empty_like(z) for _ in range(4))
    _kernels.weighted_rates(c, z, z, nbr, rf, rb)
    _kernels.fitted_rates(c, z, nbr, sf, sb)
    # Two evaluations of the same function, exp/log round-off ~ |z| eps relative for |z| <= 40;
    # beyond 700 both give the exact limits 0 and c|z| to double precision.
    np.testing.assert_allclose(rf, sf, rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(rb, sb, rtol=1e-13, atol=1e-300)
    _kernels.weighted_rates(c, z, np.zeros_like(z), nbr, rf, rb)  # SQRA at huge drops
    assert np.all(np.isfinite(rf)) and np.all(np.isfinite(rb))


# --------------------------------------------------------------------------- other solvers


@pytest.mark.parametrize("variant", VARIANTS)
def test_time_spectral_and_absorbing_solvers_run_on_every_scheme(variant):
    grid, model = nonequilibrium(2)
    op = build(grid, model, variant)
    p0 = np.exp(-(grid.cell_centers() ** 2).sum(0))
    p0 /= p0.sum() * grid.cell_volume
    out = fp.evolve(op, p0, [0.05, 0.1])
    # Mass conservation of the time stepper: column sums vanish to ~1e-15 per step.
    assert abs(out.p[-1].sum() * grid.cell_volume - 1.0) < 1e-10
    assert np.all(np.asarray(fp.relaxation_spectrum(op, 3).eigenvalues).real <= 1e-8)
    wall = fp.CartesianGrid([(-3.0, 3.0)] * 2, (10, 9), boundary="absorbing")
    scheme = "fitted" if variant == "refit" else variant
    absorbing = fp.FokkerPlanckOperator(wall, model, scheme=scheme)
    if variant == "refit":
        absorbing = absorbing.refitted(p0)  # no stationary state: refit to any positive density
    tau = fp.mean_first_passage_time(absorbing).tau
    assert np.all(np.isfinite(tau)) and np.all(tau > 0)
