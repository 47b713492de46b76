"""Every bond-rate scheme converges at second order on NESS problems with known densities.

Problems: the rotational OU NESS (a = A x, D = I, exact N(0, S)) and a nonlinear NESS of the
family a = -(D + Q) grad U with antisymmetric Q, whose density is exp(-U) exactly.  The error is
the L1 distance to the exact density at the cell centers (normalized on the grid); the observed
order is the least-squares log-log slope over the resolutions.  Densities come from a bordered
LU solve (the operator alone is under test); "fitted" is refitted to its own density until the
change stalls (fpsolve.operators.refit_to_density).
"""

from __future__ import annotations

import numpy as np
import pytest

import fpsolve as fp
from fpsolve.operators import SCHEMES, refit_to_density

from convergence_orders import assert_order

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "unit"))
from test_schemes import direct  # noqa: E402

A = np.array([[-1.0, 0.8], [-0.8, -1.0]])
Q = np.array([[0.0, 1.0], [-1.0, 0.0]])
DN = np.diag([1.0, 0.5])
SIZES = (24, 48, 96)


def U(x):
    return x[0] ** 4 / 4 + x[1] ** 2 / 2 + 0.3 * x[0] * x[1]


def grad_U(x):
    return np.stack([x[0] ** 3 + 0.3 * x[1], x[1] + 0.3 * x[0]])


def errors(problem, scheme):
    h, err = [], []
    for n in SIZES:
        if problem == "ou":
            ou = fp.models.gallery.OrnsteinUhlenbeck(A, 1.0)
            grid, model, exact = fp.CartesianGrid([(-6, 6)] * 2, (n, n)), ou.model, None
            exact = ou.stationary_density(grid.cell_centers())
        else:
            grid = fp.CartesianGrid([(-3.5, 3.5), (-7.0, 7.0)], (n, 2 * n))
            model = fp.FokkerPlanckModel(lambda x: -np.tensordot(DN + Q, grad_U(x), axes=1), DN)
            exact = np.exp(-U(grid.cell_centers()))
        exact = exact / (exact.sum() * grid.cell_volume)
        op = fp.FokkerPlanckOperator(grid, model, scheme=scheme)
        res = direct(op)
        if op.needs_refit:
            op, res = refit_to_density(op, lambda o, _: direct(o), res)
        h.append(grid.spacing[0])
        err.append(np.abs(res.p - exact).sum() * grid.cell_volume)
    return np.array(h), np.array(err)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("problem", ["ou", "nonlinear"])
def test_scheme_second_order(problem, scheme):
    h, err = errors(problem, scheme)
    # Two-sided 2 +- ORDER_TOL (convergence_orders.py); the boxes hold the densities to
    # < 1e-7 of their mass, far below the smallest discretization error (~1e-5).
    assert_order(f"{problem} density, scheme {scheme}", h, err)
