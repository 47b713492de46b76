"""Absorbing walls: mean first-passage times and quasi-stationary states against exact answers."""

import numpy as np
import pytest
from scipy.integrate import simpson

import fpsolve as fp
from fpsolve.errors import BoundaryError
from fpsolve.solvers.absorbing import mean_first_passage_time, solve_quasi_stationary
from fpsolve.solvers.evolve import evolve
from fpsolve.solvers.spectrum import relaxation_spectrum

A, B, D = -1.0, 2.0, 0.7
RESOLUTIONS = (50, 100, 200, 400)


def _interval(n, v=0.0, bounds=(A, B), diffusion=D):
    grid = fp.CartesianGrid([bounds], (n,), boundary="absorbing")
    return fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(lambda x: v + 0 * x, diffusion))


def _exact_tau(x, v):
    """MFPT of dX = v dt + sqrt(2 D) dW from x in [A, B] to either end: v tau' + D tau'' = -1."""
    if v == 0:
        return (x - A) * (B - x) / (2 * D)
    return (-(x - A) + (B - A) * np.expm1(-v * (x - A) / D) / np.expm1(-v * (B - A) / D)) / v


def _slope(hs, errs):
    return np.polyfit(np.log(hs), np.log(errs), 1)[0]


@pytest.mark.parametrize("v", [0.0, 1.5, -4.0])
def test_mfpt_of_drifted_brownian_motion_is_second_order(v):
    errs, hs = [], []
    for n in RESOLUTIONS:
        res = mean_first_passage_time(_interval(n, v))
        x = res.grid.axis_centers(0)
        exact = _exact_tau(x, v)
        assert res.converged and res.tau.min() > 0
        errs.append(np.abs(res.tau - exact).max() / exact.max())
        hs.append(res.grid.spacing[0])
    slope = _slope(hs, errs)
    # Measured 2.000 (v = 0, 1.5) and 1.999 (v = -4, Peclet h v / D up to 0.34); 0.1 allows the
    # higher-order terms on the coarsest grid.  The absorbing half-cell closure has an O(1)
    # local truncation error in the wall cell, yet the global error stays O(h^2).
    assert abs(slope - 2) < 0.1, f"observed order {slope:.3f}"
    # Error constant (relative error / h^2 at n = 400): measured 0.11 (v = 0), 0.16 (v = 1.5),
    # 0.31 (v = -4); bound 0.45.
    assert errs[-1] < 0.45 * hs[-1] ** 2


def test_mfpt_on_a_strip_depends_on_the_absorbing_axis_only():
    # Absorbing in x, periodic in y: tau(x, y) = (x - A)(B - x) / (2 D) exactly in y.
    grid = fp.CartesianGrid([(A, B), (0, 1)], (120, 6), boundary=("absorbing", "periodic"))
    op = fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(lambda x: 0 * x, D))
    res = mean_first_passage_time(op)
    x = grid.cell_centers()[0]
    # Same x-discretization as the 1-D problem: relative error 0.11 h^2 = 7e-5 at h = 0.025
    # (measured 6.9e-5); bound 2e-4.
    np.testing.assert_allclose(res.tau, _exact_tau(x, 0.0), rtol=0,
                               atol=2e-4 * _exact_tau(x, 0.0).max())


def test_mfpt_equals_integrated_survival():
    # Mean exit time from p0 = integral over t of the survival S(t) = sum(exp(tG) p0) h.
    op = _interval(40, 0.8)
    x, h = op.grid.axis_centers(0), op.grid.spacing[0]
    p0 = np.exp(-x**2 / (2 * 0.3**2))
    p0 /= p0.sum() * h
    mean_exit = (mean_first_passage_time(op).tau * p0).sum() * h
    times = np.linspace(0, 30, 301)
    survival = evolve(op, p0, times, method="expm").p.sum(axis=1) * h
    # Same discrete operator, so only quadrature error: Simpson on the stiff initial transient,
    # measured 2.8e-5 relative, plus the truncated tail S(30) ~ 2e-13; bound 1e-4.
    assert abs(simpson(survival, x=times) - mean_exit) < 1e-4 * mean_exit


def test_mean_exit_time_from_quasi_stationary_state_is_inverse_decay_rate():
    # G^T tau = -1 and G p = -kappa p give kappa sum(tau p) h = sum(p) h = 1 exactly.
    op = _interval(250, -1.2)
    tau = mean_first_passage_time(op).tau
    qsd = solve_quasi_stationary(op)
    # An identity of the discrete operator: round-off and solver residuals (~1e-12) only.
    assert abs(qsd.decay_rate * (tau * qsd.p).sum() * op.grid.spacing[0] - 1) < 1e-9


def test_quasi_stationary_free_diffusion_is_second_order():
    # Free diffusion on [0, L] with absorbing ends: kappa = D pi^2 / L^2,
    # p = pi / (2 L) sin(pi x / L).
    L, diff = 3.0, 0.5
    kappa = diff * np.pi**2 / L**2
    ek, ep, hs = [], [], []
    for n in RESOLUTIONS:
        res = solve_quasi_stationary(_interval(n, bounds=(0, L), diffusion=diff))
        x = res.grid.axis_centers(0)
        exact = np.pi / (2 * L) * np.sin(np.pi * x / L)
        assert res.converged and res.p.min() > 0
        ek.append(abs(res.decay_rate - kappa) / kappa)
        ep.append(np.abs(res.p - exact).max() / exact.max())
        hs.append(L / n)
    sk, sp = _slope(hs, ek), _slope(hs, ep)
    # Measured orders 2.000 (kappa) and 2.000 (p); 0.1 as above.
    assert abs(sk - 2) < 0.1 and abs(sp - 2) < 0.1, f"observed orders {sk:.3f}, {sp:.3f}"
    # Relative error of kappa: measured 0.091 h^2 (L = 3) with this half-cell wall closure;
    # bound 0.15 h^2.
    assert ek[-1] < 0.15 * hs[-1] ** 2


def test_quasi_stationary_rate_is_slowest_relaxation_rate():
    op = _interval(300, v=1.0)
    qsd = solve_quasi_stationary(op)
    spec = relaxation_spectrum(op, k=2, return_modes=True)
    # Same eigenpair of the same matrix by two solver paths: ARPACK residuals ~1e-12.
    assert abs(spec.rates[0] - qsd.decay_rate) < 1e-9 * qsd.decay_rate
    np.testing.assert_allclose(spec.modes[0].real, qsd.p, atol=1e-8 * qsd.p.max())


def test_solve_stationary_with_absorbing_walls_points_to_quasi_stationary():
    with pytest.raises(BoundaryError, match="solve_quasi_stationary"):
        fp.solve_stationary(_interval(20))


@pytest.mark.parametrize("solver", [mean_first_passage_time, solve_quasi_stationary])
@pytest.mark.parametrize("boundary", ["reflecting", "periodic"])
def test_absorbing_solvers_need_an_absorbing_wall(solver, boundary):
    grid = fp.CartesianGrid([(A, B)], (20,), boundary=boundary)
    op = fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(lambda x: -x, D))
    with pytest.raises(BoundaryError, match=r"op: .*absorbing wall.*fp\.solve_stationary"):
        solver(op)
