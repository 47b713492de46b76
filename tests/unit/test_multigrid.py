"""Geometric multigrid: transfer operators, Galerkin hierarchy, and stationary solves through it."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import fpsolve as fp
from fpsolve.solvers import pinned, stationary
from fpsolve.solvers.multigrid import (aggregation_1d, axis_couplings, cartesian_hierarchy,
                                       coarsened_axes, interpolation_1d, krylov_solve)

A_OU = np.array([[-1.0, 0.8], [-0.8, -1.0]])
D_OU = np.array([[1.0, 0.3], [0.3, 0.5]])


def _coarse_centers(n):
    """Coarse cell centers in fine-cell units: 2J + 1/2, or 2J for an odd last cell."""
    c = 2.0 * np.arange((n + 1) // 2) + 0.5
    if n % 2:
        c[-1] = n - 1.0
    return c


@pytest.mark.parametrize("n", [4, 7, 10, 33])
@pytest.mark.parametrize("periodic", [False, True])
def test_interpolation_rows_are_convex_weights(n, periodic):
    P = interpolation_1d(n, periodic).toarray()
    assert P.shape == (n, (n + 1) // 2)
    assert P.min() >= 0.0
    # Rows are partitions of unity (exact in floating point up to one rounding).
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=0, atol=1e-15)


@pytest.mark.parametrize("n", [8, 9, 31])
def test_interpolation_is_exact_for_linear_functions_between_coarse_centers(n):
    c = _coarse_centers(n)
    f = lambda x: 3.0 - 0.7 * x  # noqa: E731
    fine = np.arange(n, dtype=float)
    inside = (fine >= c[0]) & (fine <= c[-1])
    got = interpolation_1d(n) @ f(c)
    # Linear interpolation reproduces linear data to round-off (values ~ n, eps ~ 1e-16).
    np.testing.assert_allclose(got[inside], f(fine[inside]), rtol=0, atol=1e-12)
    # Beyond the outermost centers of a walled axis the value is held constant.
    np.testing.assert_allclose(got[fine < c[0]], f(c[0]), rtol=0, atol=1e-12)


def test_periodic_interpolation_wraps_around_the_ring():
    P = interpolation_1d(8, periodic=True).toarray()
    # Fine cell 0 lies 1/4 coarse spacing after the left image of coarse cell 3.
    np.testing.assert_array_equal(P[0], [0.75, 0.0, 0.0, 0.25])
    np.testing.assert_array_equal(P[7], [0.25, 0.0, 0.0, 0.75])
    # Periodic data sampled at the coarse centers: the interpolant of a cosine mode has the
    # second-order error of linear interpolation, (h^2/8) max|f''| with h = 2 fine cells.
    n = 64
    f = lambda x: np.cos(2 * np.pi * x / n)  # noqa: E731
    err = np.abs(interpolation_1d(n, True) @ f(_coarse_centers(n)) - f(np.arange(n))).max()
    assert err <= (2.0 ** 2 / 8) * (2 * np.pi / n) ** 2 * 1.01


@pytest.mark.parametrize("n", [6, 7])
def test_aggregation_conserves_sums(n):
    R = aggregation_1d(n)
    v = np.random.default_rng(0).random(n)
    assert R.shape == ((n + 1) // 2, n)
    # 1^T R = 1^T: the restricted vector has the same total (round-off of a sum of n terms).
    assert abs((R @ v).sum() - v.sum()) <= 1e-15 * n


@pytest.mark.parametrize("shape,boundary", [((40, 33), "reflecting"), ((24, 18), "periodic"),
                                            ((12, 10, 9), "reflecting")])
def test_galerkin_levels_conserve_mass(shape, boundary):
    d = len(shape)
    A = -0.5 * np.eye(d) + 0.3 * (np.eye(d, k=1) - np.eye(d, k=-1))
    grid = fp.CartesianGrid([(-4.0, 4.0)] * d, shape, boundary=boundary)
    op = fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(lambda x: np.tensordot(A, x, 1),
                                                           0.6 * np.eye(d) + 0.1))
    G = op.matrix()
    ml = cartesian_hierarchy(G, shape, grid.periodic, coarse_cells=20)
    assert len(ml.levels) >= 3
    for level in ml.levels:
        scale = np.abs(level.A.diagonal()).max()
        # Summing restriction: 1^T R G P = 1^T G P = 0 on every level (round-off of the
        # Galerkin sums, relative to the largest diagonal entry).
        assert np.abs(np.asarray(level.A.sum(axis=0))).max() <= 1e-13 * scale


def test_axis_couplings_and_semi_coarsening():
    grid = fp.CartesianGrid([(-1.0, 1.0)] * 2, (40, 40))
    iso = fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(lambda x: -x, 1.0)).matrix()
    aniso = fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(lambda x: 0 * x, [1.0, 0.01]))
    aniso = aniso.matrix()
    h = 2.0 / 40
    # Without drift every axis bond has the rate D_aa / h^2 (round-off only).
    np.testing.assert_allclose(axis_couplings(aniso, grid.shape), [1 / h ** 2, 0.01 / h ** 2],
                               rtol=1e-12)
    assert coarsened_axes(iso, grid.shape) == (True, True)
    assert coarsened_axes(aniso, grid.shape) == (True, False)
    # An axis of fewer than 3 cells is never coarsened.
    assert coarsened_axes(sp.identity(80, format="csr"), (40, 2)) == (True, False)
    ml = cartesian_hierarchy(aniso, grid.shape, grid.periodic, coarse_cells=50)
    # D_11 / D_00 = 0.01: axis 0 is coarsened alone until the couplings are within 4x.
    sizes = [level.A.shape[0] for level in ml.levels]
    assert sizes[:4] == [1600, 800, 400, 200]


def test_hierarchy_rejects_a_shape_that_does_not_match():
    with pytest.raises(ValueError, match="A: expected 12 rows"):
        cartesian_hierarchy(sp.identity(10, format="csr"), (3, 4), (False, False))


def _ou(shape, D=D_OU, L=7.0, boundary="reflecting"):
    grid = fp.CartesianGrid([(-L, L)] * len(shape), shape, boundary=boundary)
    return fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(lambda x: np.tensordot(A_OU, x, 1),
                                                              D))


# (181, 150): unequal spacings that keep the bond weights of D_OU non-negative.
@pytest.mark.parametrize("shape", [(160, 160), (161, 127), (181, 150)])
def test_multigrid_matches_direct_solve(shape):
    op = _ou(shape)
    mg = fp.solve_stationary(op, method="multigrid")
    direct = fp.solve_stationary(op, method="direct")
    assert mg.converged and mg.method == "multigrid"
    assert mg.residual <= 1e-10
    # Both solve the same linear system; the iterative one to a relative residual <= 1e-10,
    # so the densities agree to ~1e-10 in L1 (x 100 margin for the conditioning).
    l1 = np.abs(mg.p - direct.p).sum() * op.grid.cell_volume
    assert l1 <= 1e-8
    assert mg.p.min() >= 0.0


def test_multigrid_on_a_torus_and_in_3d():
    # Uniform force on a periodic box: the stationary density is uniform, the current F p.
    grid = fp.CartesianGrid([(0.0, 1.0)] * 2, (96, 80), boundary="periodic")
    force = lambda x: np.stack([np.ones_like(x[0]), -0.5 * np.ones_like(x[1])])  # noqa: E731
    op = fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(force, 0.2))
    res = fp.solve_stationary(op, method="multigrid")
    assert res.converged
    # Exact uniform density (the discrete one is exact too); iterative residual ~1e-10.
    np.testing.assert_allclose(res.p, 1.0, rtol=0, atol=1e-8)

    A3 = np.array([[-1.0, 0.5, 0.0], [-0.5, -1.0, 0.3], [0.0, -0.3, -1.0]])
    D3 = np.array([[1.0, 0.2, 0.1], [0.2, 0.8, 0.1], [0.1, 0.1, 0.6]])
    grid = fp.CartesianGrid([(-6.0, 6.0)] * 3, (24, 24, 22))
    op = fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(lambda x: np.tensordot(A3, x, 1), D3))
    mg = fp.solve_stationary(op, method="multigrid")
    direct = fp.solve_stationary(op, method="direct")
    assert mg.converged
    assert np.abs(mg.p - direct.p).sum() * grid.cell_volume <= 1e-8


def test_multigrid_with_a_drift_array_has_no_coarse_guess():
    # A drift given on the fine grid cannot be evaluated on a coarser one: the pin comes from
    # the inflow/outflow balance and the iteration starts from zero.
    grid = fp.CartesianGrid([(-6.0, 6.0)] * 2, (120, 120))
    drift = np.tensordot(A_OU, grid.cell_centers(), 1)
    op = fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(drift, 1.0))
    assert pinned.coarse_guess(op) == (None, None, None)
    mg = fp.solve_stationary(op, method="multigrid")
    direct = fp.solve_stationary(op, method="direct")
    assert mg.converged
    assert np.abs(mg.p - direct.p).sum() * grid.cell_volume <= 1e-8


def _strong_rotation(n):
    # Cell Peclet number |a| h / D up to ~2.5 at n = 96: the linear-interpolation Galerkin
    # hierarchy breaks down a few levels down.
    rot = np.array([[-1.0, 5.0], [-5.0, -1.0]])
    grid = fp.CartesianGrid([(-1.0, 1.0)] * 2, (n, n))
    # SG rates: the fallbacks are the point here, and "fitted" would repeat every (slow) AMG
    # solve for each refit.
    return fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(lambda x: np.tensordot(rot, x, 1),
                                                              0.01), scheme="sg")


@pytest.mark.parametrize("fallback", ["gth", "amg"])
def test_auto_falls_back_when_multigrid_fails(monkeypatch, fallback):
    op = _strong_rotation(96)
    with warnings.catch_warnings(record=True):
        alone = fp.solve_stationary(op, method="multigrid")
    assert not alone.converged
    # The failure is caught by the 10-iteration probe, not after maxiter.
    assert alone.iterations <= 10
    monkeypatch.setitem(stationary.GTH_LIMIT, 2, 1000)
    monkeypatch.setitem(stationary.GTH_FALLBACK_LIMIT, 2, 10**5 if fallback == "gth" else 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        auto = fp.solve_stationary(op, error=False)
    assert auto.converged and auto.method == f"multigrid -> {fallback}"
    direct = fp.solve_stationary(op, method="direct")
    assert np.abs(auto.p - direct.p).sum() * op.grid.cell_volume <= 1e-8


def test_explicit_multigrid_failure_warns_without_blaming_the_operator():
    op = _strong_rotation(96)
    with pytest.warns(fp.errors.ConvergenceWarning, match="did not converge") as rec:
        fp.solve_stationary(op, method="multigrid")
    assert not any("M-matrix" in str(w.message) for w in rec)


def test_krylov_solve_returns_the_true_residual():
    lap = sp.diags([-1.0, 2.05, -1.0], [-1, 0, 1], shape=(256, 256), format="csr")
    b = np.ones(256)
    ml = cartesian_hierarchy(lap, (256,), (False,), coarse_cells=16)
    x, its, rel = krylov_solve(ml, b, tol=1e-12, maxiter=50, probe=3)
    assert rel == pytest.approx(np.linalg.norm(b - lap @ x) / np.linalg.norm(b), rel=1e-12)
    # GMRES stops when the preconditioned residual is below 1e-12 relative; the true one is
    # within the preconditioner's condition number (~10 here) of it.
    assert rel <= 1e-10
    assert its >= 1


def test_auto_picks_multigrid_above_the_gth_limit():
    op = _ou((220, 220))          # 48400 cells > GTH_LIMIT[2]
    assert op.grid.size > stationary.GTH_LIMIT[2]
    res = fp.solve_stationary(op)
    assert res.method == "multigrid" and res.converged


def test_mean_first_passage_time_by_multigrid_matches_direct():
    grid = fp.CartesianGrid([(-3.0, 3.0)] * 2, (128, 120), boundary="absorbing")
    op = fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(lambda x: np.tensordot(A_OU, x, 1),
                                                           D_OU))
    direct = fp.mean_first_passage_time(op, method="direct")
    mg = fp.mean_first_passage_time(op, method="multigrid")
    assert mg.converged and mg.message.startswith("multigrid")
    assert mg.residual <= 1e-10
    # Same linear system; the scaled residual ~1e-11 bounds the relative error of tau
    # times the conditioning of the backward generator (x 100 margin).
    assert np.abs(mg.tau - direct.tau).max() <= 1e-8 * direct.tau.max()


def test_mean_first_passage_time_auto_and_bad_method(monkeypatch):
    grid = fp.CartesianGrid([(-3.0, 3.0)] * 2, (64, 64), boundary=("absorbing", "periodic"))
    op = fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(lambda x: -0.5 * x, 1.0))
    small = fp.mean_first_passage_time(op)
    assert small.message.startswith("direct")
    monkeypatch.setitem(pinned.DIRECT_LIMIT, 2, 100)
    large = fp.mean_first_passage_time(op)
    assert large.message.startswith("multigrid:") and large.converged
    # Both solve G^T tau = -1; agreement to the iterative tolerance (x 100 margin).
    assert np.abs(large.tau - small.tau).max() <= 1e-8 * small.tau.max()
    with pytest.raises(fp.errors.SolverError, match="method: unknown name"):
        fp.mean_first_passage_time(op, method="lu")


def test_mean_first_passage_time_falls_back_when_multigrid_fails(monkeypatch):
    rot = np.array([[-1.0, 5.0], [-5.0, -1.0]])
    grid = fp.CartesianGrid([(-1.0, 1.0)] * 2, (96, 96), boundary="absorbing")
    op = fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(lambda x: np.tensordot(rot, x, 1),
                                                           0.01))
    monkeypatch.setitem(pinned.DIRECT_LIMIT, 2, 100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = fp.mean_first_passage_time(op)
    assert res.converged
    direct = fp.mean_first_passage_time(op, method="direct")
    # Whichever path "auto" took, it must agree with the direct solve.
    assert np.abs(res.tau - direct.tau).max() <= 1e-8 * direct.tau.max()
