"""Unit tests of the error report (fpsolve.solvers.accuracy) and its grid transfers."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

import fpsolve as fp
from fpsolve.errors import AccuracyWarning, SolverError
from fpsolve.io import load, save
from fpsolve.solvers.accuracy import cell_peclet, estimate_error, mass_support
from fpsolve.solvers.extrapolation import coarsened, interpolate_cubic, interpolate_density


def solve(op):
    return fp.solve_stationary(op, error=False)


def ou_1d(n, k=1.0, bounds=(-6.0, 6.0)):
    grid = fp.CartesianGrid([bounds], (n,))
    return fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(lambda x: -k * x - np.sin(3 * x)))


@pytest.mark.parametrize("boundary", ["reflecting", "periodic"])
def test_cubic_transfer_is_exact_on_cubics_and_fourth_order(boundary):
    coarse = fp.CartesianGrid([(0, 1), (-1, 2)], (10, 12), boundary=boundary)
    fine = coarse.refined(2)
    if boundary == "reflecting":
        # one-sided stencils at walls keep cubics exact: only round-off (~1e-15) remains
        def f(x):
            return x[0] ** 3 - 2 * x[0] * x[1] ** 2 + x[1]
        out = interpolate_cubic(f(coarse.cell_centers()), coarse, fine)
        np.testing.assert_allclose(out, f(fine.cell_centers()), atol=1e-12)
        return
    errs = []
    for m in (8, 16, 32):
        c = fp.CartesianGrid([(0, 2 * np.pi)], (m,), boundary="periodic")
        f = c.refined(2)
        out = interpolate_cubic(np.sin(c.axis_centers(0)), c, f)
        errs.append(np.abs(out - np.sin(f.axis_centers(0))).max())
    # interpolation error C H^4: halving H divides it by 16 (local order within 0.3 of 4)
    assert np.all(np.abs(np.log2(np.array(errs[:-1]) / errs[1:]) - 4) < 0.3), errs


def test_log_transfer_is_exact_on_gaussians_and_safe_on_zeros():
    coarse = fp.CartesianGrid([(-8, 8)], (20,))
    fine = coarse.refined(2)

    def g(x):
        return np.exp(-0.5 * x ** 2)
    out = interpolate_density(g(coarse.axis_centers(0)), coarse, fine)
    # log p is quadratic: the cubic reproduces it up to round-off of log/exp (~1e-14 relative)
    np.testing.assert_allclose(out, g(fine.axis_centers(0)), rtol=1e-12)
    p = g(coarse.axis_centers(0))
    p[:3] = 0.0                               # round-off zeros of an iterative solve
    out = interpolate_density(p, coarse, fine)
    assert np.all(np.isfinite(out)) and out.max() <= 1.0 + 1e-12


def test_cell_peclet_is_the_bond_potential_drop():
    op = ou_1d(60, k=3.0)
    x, h = op.grid.axis_centers(0), op.grid.spacing[0]
    F = -3.0 * x - np.sin(3 * x)
    drop = np.abs(0.5 * (F[1:] + F[:-1]) * h)     # trapezoid rule of the operator's drops
    expected = np.maximum(np.r_[drop, 0.0], np.r_[0.0, drop])
    # the drop is read back as log(rate ratio): round-off of log of O(1) rates, ~1e-13
    np.testing.assert_allclose(cell_peclet(op), expected, rtol=1e-10, atol=1e-12)


def test_mass_support_holds_the_fraction_in_the_fewest_cells():
    p = np.array([0.5, 0.3, 0.15, 0.04, 0.01])
    np.testing.assert_array_equal(mass_support(p, 0.95), [True, True, True, False, False])
    np.testing.assert_array_equal(mass_support(p, 0.96), [True, True, True, True, False])


def test_report_of_a_resolved_problem_is_quiet_and_accurate():
    op = ou_1d(400)
    p = solve(op).p
    with warnings.catch_warnings():
        warnings.simplefilter("error", AccuracyWarning)
        rep = estimate_error(op, p, solve=solve)
    assert not rep.pre_asymptotic and rep.suggested_spacing is None
    assert rep.shapes == ((400,), (200,), (100,))
    # three grids in the asymptotic range: the observed order is 2 to within 0.05 (measured)
    assert abs(rep.orders["density"] - 2) < 0.05
    assert rep.density_cells.shape == op.grid.shape
    assert rep.density_max == pytest.approx(np.abs(rep.density_cells).max())
    assert rep.epr < 1e-12          # 1-D reflecting: zero current, the estimate sees no error


def test_report_of_a_coarse_grid_warns_where_how_large_and_what_spacing():
    op = ou_1d(12, k=4.0)
    p = solve(op).p
    with pytest.warns(AccuracyWarning, match=r"pre-asymptotic.*at x = .*Spacing") as rec:
        rep = estimate_error(op, p, solve=solve, levels=2)
    assert rep.pre_asymptotic and str(rec[0].message) == rep.message
    assert rep.suggested_spacing[0] < op.grid.spacing[0]
    # a user threshold above the estimate (and a Peclet limit above the Peclet number) silences
    with warnings.catch_warnings():
        warnings.simplefilter("error", AccuracyWarning)
        quiet = estimate_error(op, p, solve=solve, levels=2, threshold=10 * rep.density_l1,
                               peclet_limit=10 * rep.peclet)
    assert not quiet.pre_asymptotic


def test_densities_spanning_hundreds_of_decades_give_finite_reports():
    # p ~ exp(-25 x^2) on [-8, 8]: 1e-695 at the walls, i.e. hundreds of cells underflow to 0
    grid = fp.CartesianGrid([(-8, 8)], (400,))
    op = fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(lambda x: -x, 0.02))
    p = solve(op).p
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        rep = estimate_error(op, p, solve=solve)
    values = [rep.density_l1, rep.density_max, rep.current_l1, rep.epr, rep.peclet]
    assert np.all(np.isfinite(values)) and np.all(np.isfinite(rep.density_cells))


def test_stationary_result_with_a_report_round_trips_through_io(tmp_path):
    op = ou_1d(48)
    res = fp.solve_stationary(op)
    rep = estimate_error(op, res.p, solve=solve, warn=False)
    res = dataclasses.replace(res, error=rep)
    back = load(save(tmp_path / "res", res))
    for f in dataclasses.fields(rep):
        a, b = getattr(back.error, f.name), getattr(rep, f.name)
        if isinstance(b, np.ndarray):
            np.testing.assert_array_equal(a, b)
        else:
            assert a == b, f.name


def test_bad_arguments_are_named():
    op = ou_1d(48)
    p = solve(op).p
    for kwargs, name in [({"levels": 4}, "levels"), ({"ratio": 1}, "ratio"),
                         ({"threshold": 0.0}, "threshold"), ({"mass_fraction": 2.0},
                                                             "mass_fraction")]:
        with pytest.raises(SolverError, match=name):
            estimate_error(op, p, solve=solve, **kwargs)
    with pytest.raises(SolverError, match="too small"):
        estimate_error(ou_1d(8), np.ones(8) / 12, solve=solve)
    with pytest.raises(SolverError, match="ratio"):
        coarsened(op.grid, 10)
    with pytest.raises(SolverError, match="divisible"):
        fp.extrapolate_stationary(ou_1d(50), ratio=4)
