"""The error report against exact answers: estimate within a factor 3 of the true L1 error of
the density, and an AccuracyWarning on every result whose true error exceeds 5 %.

Cases from ``accuracy_cases.py``; the table in docs/theory.md ("Error estimates and
extrapolation") lists the measured ratios (``python benchmarks/bench_error_report.py``).
"""

from __future__ import annotations

import warnings

import pytest
from accuracy_cases import (NonlinearNESS, double_well_1d, fast_rotation, high_peclet, ou_ness,
                            position_dependent, tilted_ring)

import fpsolve as fp
from fpsolve.errors import AccuracyWarning

#: The issue's target: the estimate is within a factor 3 of the true error (measured ratios
#: 0.47-1.93 on these cases with the default "fitted" rates, docs/theory.md).
FACTOR = 3.0
#: True density L1 error above which a result must warn (the issue's 5 %).
WRONG = 0.05


def report(case, shape):
    res = fp.solve_stationary(case.operator(shape), error=False)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        # the refitted operator of the result: the current is the flux of its rates
        rep = fp.estimate_error(res.operator, res.p)
    warned = any(issubclass(w.category, AccuracyWarning) for w in rec)
    return rep, case.density_error(res.grid, res.p), warned


CASES = [
    (ou_ness, (64, 64)), (ou_ness, (24, 24)), (fast_rotation, (200, 200)),
    (tilted_ring, (64,)), (tilted_ring, (16,)), (position_dependent, (100,)),
    (lambda: position_dependent("ito"), (20,)), (double_well_1d, (200,)),
    (double_well_1d, (24,)), (lambda: double_well_1d(12.0), (40,)), (NonlinearNESS, (64, 64)),
    (NonlinearNESS, (24, 24)),
]


@pytest.mark.parametrize("make, shape", CASES)
def test_estimate_within_factor_3_and_wrong_results_warn(make, shape):
    case = make()
    rep, true, warned = report(case, shape)
    ratio = rep.density_l1 / true
    assert 1 / FACTOR <= ratio <= FACTOR, (
        f"{case.name} {shape}: estimate {rep.density_l1:.3g}, true {true:.3g} (ratio "
        f"{ratio:.2f}, order {rep.orders['density']:.2f})")
    assert warned or true <= WRONG, f"{case.name} {shape}: true L1 {true:.3g} and no warning"
    assert warned == rep.pre_asymptotic


@pytest.mark.parametrize("make, shape", [(ou_ness, (200, 200)), (NonlinearNESS, (200, 200))])
def test_well_resolved_2d_cases_do_not_warn(make, shape):
    case = make()
    rep, true, warned = report(case, shape)
    assert not warned and true < WRONG
    assert 1 / FACTOR <= rep.density_l1 / true <= FACTOR, (rep.density_l1, true)


def test_fast_rotation_warns_with_peclet_and_spacing():
    # A = -I + 100 J on 200^2: cell Peclet ~26-36 where the mass sits
    res = fp.solve_stationary(fast_rotation().operator((200, 200)), error=False)
    with pytest.warns(AccuracyWarning, match=r"cell Peclet number .* > 10"):
        rep = fp.estimate_error(res.operator, res.p)
    assert max(rep.suggested_spacing) < 0.4 * res.grid.spacing[0]


@pytest.mark.parametrize("shape", [(64, 64), (200, 200)])
def test_high_peclet_ness_is_never_underestimated(shape):
    # a = -(eps I + J) x, D = eps = 0.05.  With the "fitted" rates the true error falls
    # erratically (3.4e-2, 2.0e-3, 5.9e-5, 1.2e-5 on 50^2 ... 400^2), so an estimate from
    # coarser grids overestimates at 64^2 (3.4x) and 200^2 (11x, both far below the
    # threshold).  What must hold: no dangerous underestimate, and a warning when wrong.
    rep, true, warned = report(high_peclet(), shape)
    assert rep.density_l1 >= true / FACTOR, (rep.density_l1, true)
    assert warned or true <= WRONG, (true, rep.message)


def test_coarse_grids_warn():
    for make, shape in [(NonlinearNESS, (24, 24)), (high_peclet, (64, 64)),
                        (double_well_1d, (24,))]:
        op = make().operator(shape)
        with pytest.warns(AccuracyWarning, match="pre-asymptotic"):
            res = fp.solve_stationary(op, error=False)
            fp.estimate_error(res.operator, res.p)
