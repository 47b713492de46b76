"""ou-ness: finite-volume solution of the 2-D OU NESS against the exact Gaussian answer."""

from __future__ import annotations

import numpy as np

import fpsolve as fp
from fpsolve.analysis import observed_order

A = np.array([[-1.0, 0.8], [-0.8, -1.0]])
D = np.array([[1.0, 0.3], [0.3, 0.5]])
BOX = [(-7.0, 7.0), (-7.0, 7.0)]


def solve_at(ou, n: int) -> dict:
    """Errors of the grid solution at ``n x n`` cells against the exact OU answers."""
    grid = fp.CartesianGrid(BOX, (n, n), boundary="reflecting")
    res = fp.solve_stationary(fp.FokkerPlanckOperator(grid, ou.model))
    op = res.operator            # the default "fitted" rates: the operator refitted to res.p
    cur = fp.probability_current(res)
    x = grid.cell_centers()
    p_exact, J_exact = ou.stationary_density(x), ou.current(x)
    epr = ou.entropy_production_rate
    # dp/dt = -div J; scaled by the gross outflow |G_xx| p_x since dp/dt itself is ~0 here.
    gross = np.abs(op.matrix().diagonal().reshape(grid.shape) * res.p).max()
    div_gap = np.abs(fp.divergence(cur) + op.apply(res.p)).max() / gross
    return {
        "n": n, "h": grid.spacing[0], "residual": res.residual,
        "density_l1_error": float(np.abs(res.p - p_exact).sum() * grid.cell_volume),
        "current_l1_error": float(np.abs(cur.cells - J_exact).sum() * grid.cell_volume),
        "epr_bonds_rel_error": abs(fp.entropy_production_rate(res) - epr) / epr,
        "epr_field_rel_error": abs(fp.entropy_production_rate(res, method="field") - epr) / epr,
        "divergence_identity": float(div_gap),
        "_fields": (grid, res.p, cur.cells, p_exact, J_exact),
    }


def main(quick: bool = False) -> dict:
    ou = fp.models.OrnsteinUhlenbeck(A, D)
    sizes = [32, 64, 128] if quick else [32, 64, 128, 256, 512]
    runs = [solve_at(ou, n) for n in sizes]
    h = [r["h"] for r in runs]
    keys = {"density": "density_l1_error", "current": "current_l1_error",
            "epr_bonds": "epr_bonds_rel_error", "epr_field": "epr_field_rel_error"}
    finest = {k: v for k, v in runs[-1].items() if not k.startswith("_")}
    grid, p, J, p_exact, J_exact = runs[-1]["_fields"]
    return {
        "sizes": sizes,
        "exact_entropy_production_rate": ou.entropy_production_rate,
        "orders": {name: observed_order(h, [r[key] for r in runs]) for name, key in keys.items()},
        "errors": {key: [r[key] for r in runs] for key in keys.values()},
        "h": h,
        "finest": finest,
        "_data": {"x": grid.cell_centers(), "p": p, "J": J, "p_exact": p_exact,
                  "J_exact": J_exact},
    }
