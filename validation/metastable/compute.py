"""metastable: deep-barrier NESS and a 1e-300 tail, where only a componentwise-accurate solve
(GTH elimination, the default) gets the answer and a normwise sparse LU does not.

Three problems, each with an answer known exactly *for the discrete system* (so the numbers
measure the linear algebra, not the discretization):

1. 1-D symmetric double well given as a drift, ``a = -U'(x)``, ``U = b (x^2 - 1)^2``, ``b = 40``,
   ``D = 1`` on ``[-2, 2]`` (reflecting), default ("fitted") scheme.  The problem and the grid are
   mirror-symmetric, so each well holds exactly 1/2; a 1-D chain with reflecting walls has zero
   flux on every bond, so ``p_(i+1) / p_i = rf_i / rb_i`` of the operator's own (refitted) rates.
2. 2-D nonequilibrium double well ``a = -(I + Q) grad U``, ``U = b [(x^2 - 1)^2 + y^2]``,
   ``Q = [[0, 1], [-1, 0]]``, ``D = I`` on ``[-2, 2] x [-1.5, 1.5]``: a genuine NESS (the
   discrete drops do not sum to zero around plaquettes) that is point-symmetric, problem and grid,
   so ``p(x) = p(-x)`` cell by cell and each well holds exactly 1/2.  Solved on a grid where
   "auto" picks GTH and on one above ``GTH_LIMIT`` where the coarse solve's metastability test
   escalates to GTH.
3. 1-D linear drift ``a = -1``, ``D = 1`` on ``[0, 700]`` with plain Scharfetter-Gummel rates
   (``scheme="sg"``): the density falls by ``e^-700 ~ 1e-304`` across the box.  The exact
   discrete answer is the product of the bond-rate ratios, evaluated in 40-digit decimal
   arithmetic from the float rates of ``op.bonds`` (exact inputs), so the reference is exact to
   ~1e-35 on every platform.

For each, the normwise sparse LU (``method="direct"``) is run on the same operator for contrast.
"""

from __future__ import annotations

import time
import warnings
from decimal import Decimal, localcontext

import numpy as np

import fpsolve as fp
from fpsolve.solvers.stationary import GTH_LIMIT

BARRIER = 40.0          # b: barrier height of the double wells in units of D
ROTATION = 1.0          # q of Q = [[0, q], [-q, 0]]
TAIL_DRIFT = 1.0        # |a| of the linear drift
TAIL_BOX = (0.0, 700.0)
DIGITS = 40             # decimal digits of the exact chain products


# -- models ---------------------------------------------------------------------------------

def well_drift_1d(x):
    X = x[0]
    return (-4.0 * BARRIER * X * (X**2 - 1.0))[None]


def well_drift_2d(x):
    X, Y = x[0], x[1]
    grad = np.stack([4.0 * BARRIER * X * (X**2 - 1.0), 2.0 * BARRIER * Y])
    Q = np.array([[0.0, ROTATION], [-ROTATION, 0.0]])
    return -(grad + np.einsum("ij,j...->i...", Q, grad))


def tail_drift(x):
    return np.full_like(x, -TAIL_DRIFT)


# -- helpers --------------------------------------------------------------------------------

def timed_solve(op, method="auto"):
    """``(result, seconds, warning messages)`` of ``fp.solve_stationary(op, method=method)``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        res = fp.solve_stationary(op, method=method)
        seconds = time.perf_counter() - start
    return res, seconds, [f"{w.category.__name__}: {w.message}" for w in caught]


def well_masses(res) -> dict:
    """Masses left and right of ``x = 0`` and ``max |m - 1/2|`` (exact answer 1/2 each)."""
    x = res.grid.cell_centers()[0]
    left = float(res.p[x < 0].sum() * res.grid.cell_volume)
    right = float(res.p[x > 0].sum() * res.grid.cell_volume)
    return {"left_mass": left, "right_mass": right,
            "mass_error": max(abs(left - 0.5), abs(right - 0.5))}


def symmetry_defect(p) -> float:
    """``max |p - p(-x)| / p`` over all cells (reversal of every axis: mirror in 1-D, point
    reflection in 2-D); infinite where a cell is zero."""
    mirrored = p[tuple(slice(None, None, -1) for _ in range(p.ndim))]
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.abs(p - mirrored) / p
    return float(np.nanmax(np.where(p > 0, rel, np.inf)))


def exact_chain(op) -> list[Decimal]:
    """Exact stationary density of a 1-D reflecting chain, ``p_(i+1)/p_i = rf_i / rb_i``, from
    the float rates of ``op.bonds`` in ``DIGITS``-digit decimal arithmetic, normalized to
    ``sum p * h = 1``."""
    bonds = op.bonds
    rf, rb = bonds.rate_forward[0, :-1], bonds.rate_backward[0, :-1]
    assert np.all(bonds.neighbor[0, :-1] == np.arange(1, op.grid.size)), "not a 1-D chain"
    with localcontext() as ctx:
        ctx.prec = DIGITS
        p = [Decimal(1)]
        for forward, backward in zip(rf.tolist(), rb.tolist()):
            p.append(p[-1] * Decimal(forward) / Decimal(backward))
        total = sum(p) * Decimal(op.grid.cell_volume)
        return [v / total for v in p]


def relative_errors(p, exact: list[Decimal]) -> np.ndarray:
    """``|p_i - exact_i| / exact_i`` per cell, evaluated in decimal (then rounded to float)."""
    with localcontext() as ctx:
        ctx.prec = DIGITS
        return np.array([float(abs(Decimal(v) - e) / e)
                         for v, e in zip(np.ravel(p).tolist(), exact)])


def summary(res, seconds, caught) -> dict:
    cond = res.conditioning
    return {"method": res.method, "converged": res.converged, "seconds": seconds,
            "warned": bool(caught), "warnings": caught, "message": res.message,
            "kappa": float(cond["kappa"]), "bottleneck_axis": cond["axis"],
            "bottleneck_at": cond["at"], "floor": float(cond["floor"]),
            "dynamic_range": float(cond["dynamic_range"]),
            "zero_cells": int(np.count_nonzero(res.p <= 0))}


# -- the three problems ---------------------------------------------------------------------

def double_well_1d(n: int) -> tuple[dict, dict]:
    grid = fp.CartesianGrid([(-2.0, 2.0)], (n,))
    op = fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(well_drift_1d))
    out = {"n": n, "barrier": BARRIER}
    res, sec, caught = timed_solve(op)
    # The solve refits "fitted" rates to the density; res.operator carries the final rates.
    chain = relative_errors(res.p, exact_chain(res.operator))
    out["gth"] = {**summary(res, sec, caught), **well_masses(res),
                  "symmetry_defect": symmetry_defect(res.p),
                  "chain_rel_error_max": float(chain.max())}
    direct, sec, caught = timed_solve(op, "direct")
    out["direct"] = {**summary(direct, sec, caught), **well_masses(direct)}
    x = grid.axis_centers(0)
    return out, {"x": x, "p_gth": res.p, "p_direct": direct.p}


def double_well_2d(shape) -> tuple[dict, dict]:
    grid = fp.CartesianGrid([(-2.0, 2.0), (-1.5, 1.5)], shape)
    op = fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(well_drift_2d))
    out = {"shape": list(shape), "cells": grid.size, "gth_limit": GTH_LIMIT[2]}
    res, sec, caught = timed_solve(op)
    out["auto"] = {**summary(res, sec, caught), **well_masses(res),
                   "symmetry_defect": symmetry_defect(res.p)}
    direct, sec, caught = timed_solve(op, "direct")
    out["direct"] = {**summary(direct, sec, caught), **well_masses(direct),
                     "symmetry_defect": symmetry_defect(direct.p)}
    data = {"x": grid.axis_centers(0), "y": grid.axis_centers(1), "p_gth": res.p,
            "p_direct": direct.p, "J": fp.probability_current(res).cells,
            "bottleneck": (res.conditioning["axis"], res.conditioning["at"])}
    return out, data


def tail(n: int) -> tuple[dict, dict]:
    grid = fp.CartesianGrid([TAIL_BOX], (n,))
    op = fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(tail_drift), scheme="sg")
    exact = exact_chain(op)
    p_exact = np.array([float(v) for v in exact])
    rel_density = p_exact / p_exact.max()
    out = {"n": n, "box": list(TAIL_BOX), "exact_dynamic_range": float(rel_density.min())}
    res, sec, caught = timed_solve(op)
    err = relative_errors(res.p, exact)
    out["gth"] = {**summary(res, sec, caught), "rel_error_max": float(err.max()),
                  "cells_within_1e-6": int(np.count_nonzero(err <= 1e-6))}
    direct, sec, caught = timed_solve(op, "direct")
    err_d = relative_errors(direct.p, exact)
    bad = np.flatnonzero(err_d > 1e-6)
    first_bad = int(bad[0]) if bad.size else None
    outer = slice(int(0.9 * n), n)   # the outer tenth of the box: exact density 1e-270..1e-304
    with np.errstate(divide="ignore"):
        log_err = np.abs(np.log10(np.maximum(direct.p[outer], 0.0)) - np.log10(p_exact[outer]))
    above = rel_density >= direct.conditioning["floor"]
    out["direct"] = {
        **summary(direct, sec, caught),
        "rel_error_max": float(err_d.max()),
        "cells_within_1e-6": int(np.count_nonzero(err_d <= 1e-6)),
        # the density (relative to the largest) of the first cell whose error exceeds 1e-6
        "first_cell_above_1e-6": first_bad,
        "density_at_first_cell_above_1e-6": None if first_bad is None
        else float(rel_density[first_bad]),
        # absolute error relative to the largest density: the normwise noise level
        "abs_error_over_max": float(np.abs(direct.p - p_exact).max() / p_exact.max()),
        "rel_error_max_above_floor": float(err_d[above].max()),
        "log10_error_outer_min": float(log_err.min()),
        "log10_error_outer_max": float(log_err.max()),
    }
    data = {"rel_density": rel_density, "err_gth": err, "err_direct": err_d,
            "floor_direct": direct.conditioning["floor"]}
    return out, data


def main(quick: bool = False) -> dict:
    start = time.perf_counter()
    n_well = 400 if quick else 2000
    shape_gth = (80, 60) if quick else (160, 150)
    shape_big = (240, 190) if quick else (600, 400)
    n_tail = 2000 if quick else 4000
    well1, d1 = double_well_1d(n_well)
    well2, d2 = double_well_2d(shape_gth)
    big, _ = double_well_2d(shape_big)
    big.pop("direct")   # the contrast is made on the GTH-sized grid
    tail_out, d3 = tail(n_tail)
    return {
        "well_1d": well1,
        "well_2d": well2,
        "well_2d_above_limit": big,
        "tail": tail_out,
        "seconds": time.perf_counter() - start,
        "_data": {"well_1d": d1, "well_2d": d2, "tail": d3,
                  "masses": {"1-D well": (well1["gth"]["mass_error"],
                                          well1["direct"]["mass_error"]),
                             "2-D NESS": (well2["auto"]["mass_error"],
                                          well2["direct"]["mass_error"]),
                             "2-D above limit": (big["auto"]["mass_error"], None)}},
    }


if __name__ == "__main__":
    import json
    import sys

    from fpsolve.validation_checks import to_jsonable

    out = main(quick="--quick" in sys.argv)
    out.pop("_data")
    print(json.dumps(to_jsonable(out), indent=1))
