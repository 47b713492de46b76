"""Property tests of the finite-volume operator on random small problems (hypothesis).

Random grids (1-3 axes, 3-6 cells each, random box sizes, random boundary kind per axis),
random diffusion tensors that are diagonally dominant *for the spacing*
(``D_ii / h_i >= sum_j |D_ij| / h_j``, the M-matrix condition of the bond decomposition),
constant or modulated by a smooth positive field, and random smooth drifts.  Properties:

* columns of G sum to zero, or to minus the exit rate with absorbing walls;
* off-diagonals >= 0, diagonal <= 0, no PositivityWarning;
* without absorbing walls: the stationary density is positive with unit mass;
* divergence(current) == -apply(p) and matrix() @ p == apply(p) for random p.

The number of examples comes from the hypothesis profile in ``tests/conftest.py`` ("small" by
default); deadlines are off because the first examples pay for numba and SuperLU warm-up.
"""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import fpsolve as fp
from fpsolve.errors import PositivityWarning
from fpsolve.results import StationaryResult

BOUNDARIES = ("reflecting", "periodic", "absorbing")


@st.composite
def problems(draw, *, allow_absorbing: bool = True):
    d = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(3, 6), min_size=d, max_size=d)))
    lengths = draw(st.lists(st.floats(0.5, 4.0), min_size=d, max_size=d))
    lows = draw(st.lists(st.floats(-3.0, 1.0), min_size=d, max_size=d))
    kinds = BOUNDARIES if allow_absorbing else BOUNDARIES[:2]
    boundary = tuple(draw(st.lists(st.sampled_from(kinds), min_size=d, max_size=d)))
    grid = fp.CartesianGrid([(lo, lo + ln) for lo, ln in zip(lows, lengths)], shape,
                            boundary=boundary)
    h = np.asarray(grid.spacing)

    # D = diag(h) M diag(h) with M symmetric and strictly diagonally dominant: the bond weights
    # c_i = M_ii - sum_j |M_ij| > 0 and c_(i+-j) = max(+-M_ij, 0) >= 0 whatever the spacing.
    # D is SPD by congruence.  An overall factor brings D back to O(1).
    off = np.array(draw(st.lists(st.floats(-1.0, 1.0), min_size=d * d, max_size=d * d)))
    off = np.triu(off.reshape(d, d), 1)
    M = off + off.T
    M += np.diag(np.abs(M).sum(1) + np.array(
        draw(st.lists(st.floats(0.05, 2.0), min_size=d, max_size=d))))
    D0 = (np.diag(h) @ M @ np.diag(h)) / np.mean(h) ** 2
    modulated = draw(st.booleans())
    amp = draw(st.floats(0.0, 0.5))
    if modulated:
        def diffusion(x):  # a positive scalar field times D0 keeps the dominance pointwise
            return np.einsum("ij,...->ij...", D0, 1.0 + amp * np.sin(x.sum(0)))
    else:
        diffusion = D0

    # Smooth drift: random linear part plus bounded nonlinearity; magnitudes keep the Peclet
    # numbers moderate so that no density underflows on these boxes.
    B = np.array(draw(st.lists(st.floats(-1.5, 1.5), min_size=d * d, max_size=d * d)))
    B = B.reshape(d, d)
    c = np.array(draw(st.lists(st.floats(-1.0, 1.0), min_size=d, max_size=d)))

    def drift(x):
        return np.tensordot(B, x, axes=1) + c.reshape((d,) + (1,) * (x.ndim - 1)) * np.sin(
            x[::-1])

    convention = draw(st.sampled_from(["ito", "stratonovich", "anti-ito"]))
    model = fp.FokkerPlanckModel(drift, diffusion, convention)
    seed = draw(st.integers(0, 2**32 - 1))
    return grid, model, seed


def build(grid, model):
    with warnings.catch_warnings():
        warnings.simplefilter("error", PositivityWarning)  # M-matrix by construction
        return fp.FokkerPlanckOperator(grid, model)


@settings(deadline=None)
@given(problems())
def test_columns_sum_to_minus_exit_rate(problem):
    grid, model, _ = problem
    op = build(grid, model)
    G = op.matrix()
    col = np.asarray(G.sum(axis=0)).ravel()
    # (2K + 1) <= 19 terms bounded by max|diag|: round-off <= 19 eps max|diag| = 4e-15.
    tol = 1e-13 * np.abs(G.diagonal()).max()
    assert np.abs(col + op.bonds.exit_rate).max() <= tol
    if not grid.has_absorbing:
        assert np.all(op.bonds.exit_rate == 0)


@settings(deadline=None)
@given(problems())
def test_m_matrix_sign_pattern(problem):
    grid, model, _ = problem
    op = build(grid, model)
    G = op.matrix().tocoo()
    off = G.row != G.col
    assert np.all(G.data[off] >= 0)          # exact: products of non-negative factors
    assert np.all(op.matrix().diagonal() <= 0)
    assert np.all(op.bonds.rate_forward >= 0) and np.all(op.bonds.rate_backward >= 0)


@settings(deadline=None)
@given(problems(allow_absorbing=False))
def test_stationary_density_positive_with_unit_mass(problem):
    grid, model, _ = problem
    op = build(grid, model)
    res = fp.solve_stationary(op)
    assert res.converged, res.message
    # Irreducible M-matrix generator: the null vector is strictly positive (Perron-Frobenius).
    # A direct solve carries an absolute round-off of a few eps * max(p) in every entry, so an
    # exact density below that level may come out as a zeroed round-off negative: the computed
    # density is non-negative, and every zero entry is a reported round-off correction.
    assert np.all(res.p >= 0)
    n_zero = int((res.p == 0).sum())
    assert n_zero == 0 or f"{n_zero} round-off negative" in res.message
    # Normalization is a division by the computed mass: exact up to a few ulps.
    assert abs(res.p.sum() * grid.cell_volume - 1.0) < 1e-12
    # It is the null vector: relative residual ||G p|| / ||diag(G) p|| at round-off (LU of at
    # most 216 cells; measured ~1e-16).
    assert res.residual < 1e-10


@settings(deadline=None)
@given(problems())
def test_divergence_identity_and_matrix_apply(problem):
    grid, model, seed = problem
    op = build(grid, model)
    rng = np.random.default_rng(seed)
    p = rng.random(grid.shape) + 0.05
    Gp = op.apply(p)
    state = StationaryResult(p=p, grid=grid, operator=op, residual=float("nan"),
                             converged=False)
    div = fp.divergence(fp.probability_current(state, p))
    # Same bond fluxes summed in different orders; fluxes are bounded by max|diag| max p, so
    # round-off is a few eps of that (measured <= 1e-15); 1e-12 with margin.
    scale = np.abs(op.matrix().diagonal()).max() * p.max()
    assert np.abs(div + Gp).max() <= 1e-12 * scale
    assert np.abs(op.matrix() @ p.ravel() - Gp.ravel()).max() <= 1e-13 * scale
