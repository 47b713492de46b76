"""Stationary solve of the 2-D OU NESS (rotational A, correlated D) at large resolutions.

Targets (issue "core solver"): 1024^2 in <= 5 s total (assembly + solve) with relative residual
<= 1e-10; peak memory <= 4 GB.  Both bond-rate schemes are run, SG and the default "fitted"
(2-3 more solves for the refits), with the L1 error of each against the exact density.  Baseline
in the same run: scipy.sparse.linalg.spsolve on the same pinned matrix (skip it with
--no-baseline; it takes minutes at 1024^2).

    python benchmarks/bench_stationary.py [--n 1024] [--no-baseline]
"""

from __future__ import annotations

import argparse

import numpy as np
import scipy.linalg as sla
import scipy.sparse.linalg as spla

import fpsolve as fp
from fpsolve.solvers.gth import mode_estimate
from fpsolve.solvers.pinned import pinned_system, relative_residual

from _common import A_OU, D_OU, peak_rss_gb, timer, warm_up


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1024)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    warm_up()
    grid = fp.CartesianGrid([(-7, 7), (-7, 7)], (args.n, args.n))
    model = fp.FokkerPlanckModel(lambda x: np.tensordot(A_OU, x, axes=1), D_OU)
    exact = exact_density(grid)
    for scheme in ("sg", "fitted"):
        t: dict = {}
        with timer(t, "assembly"):
            op = fp.FokkerPlanckOperator(grid, model, scheme=scheme)
            op.matrix()
        with timer(t, "solve"):
            res = fp.solve_stationary(op)
        total = t["assembly"] + t["solve"]
        l1 = np.abs(res.p - exact).sum() * grid.cell_volume
        print(f"{args.n}^2 = {grid.size} cells, scheme {scheme!r}: assembly {t['assembly']:.2f} s, "
              f"solve ({res.method}) {t['solve']:.2f} s, total {total:.2f} s (target <= 5 s); "
              f"residual {res.residual:.1e} (target <= 1e-10), {res.iterations} iterations; "
              f"L1 error {l1:.2e}; peak RSS {peak_rss_gb():.2f} GB (target <= 4 GB)")
    if args.no_baseline:
        return
    op = fp.FokkerPlanckOperator(grid, model, scheme="sg")
    A, b, _ = pinned_system(op.matrix(), mode_estimate(op.matrix()))
    with timer(t, "spsolve"):
        q = spla.spsolve(A.tocsc(), b)
    print(f"baseline scipy spsolve on the same pinned matrix (SG rates): {t['spsolve']:.2f} s, "
          f"residual {relative_residual(op.matrix(), q):.1e}")


def exact_density(grid) -> np.ndarray:
    """The exact N(0, S) density at the cell centers, S from the Lyapunov equation."""
    S = sla.solve_continuous_lyapunov(A_OU, -2.0 * D_OU)
    x = grid.cell_centers()
    q = np.einsum("i...,ij,j...->...", x, np.linalg.inv(S), x)
    return np.exp(-0.5 * q) / (2 * np.pi * np.sqrt(np.linalg.det(S)))


if __name__ == "__main__":
    main()
