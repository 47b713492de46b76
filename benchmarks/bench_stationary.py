"""Stationary solve of the 2-D OU NESS (rotational A, correlated D) at large resolutions.

Targets (issue "core solver"): 1024^2 in <= 5 s total (assembly + solve) with relative residual
<= 1e-10; peak memory <= 4 GB.  Baseline in the same run: scipy.sparse.linalg.spsolve on the same
pinned matrix (skip it with --no-baseline; it takes minutes at 1024^2).

    python benchmarks/bench_stationary.py [--n 1024] [--no-baseline]
"""

from __future__ import annotations

import argparse

import numpy as np
import scipy.sparse.linalg as spla

import fpsolve as fp
from fpsolve.solvers.pinned import _pin_cell, pinned_system, relative_residual

from _common import A_OU, D_OU, peak_rss_gb, timer, warm_up


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1024)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    warm_up()
    t: dict = {}
    grid = fp.CartesianGrid([(-7, 7), (-7, 7)], (args.n, args.n))
    model = fp.FokkerPlanckModel(lambda x: np.tensordot(A_OU, x, axes=1), D_OU)
    with timer(t, "assembly"):
        op = fp.FokkerPlanckOperator(grid, model)
        op.matrix()
    with timer(t, "solve"):
        res = fp.solve_stationary(op)
    total = t["assembly"] + t["solve"]
    print(f"{args.n}^2 = {grid.size} cells: assembly {t['assembly']:.2f} s, solve ({res.method}) "
          f"{t['solve']:.2f} s, total {total:.2f} s (target <= 5 s); residual {res.residual:.1e} "
          f"(target <= 1e-10), {res.iterations} iterations; peak RSS {peak_rss_gb():.2f} GB "
          "(target <= 4 GB)")
    if args.no_baseline:
        return
    A, b, _ = pinned_system(op.matrix(), _pin_cell(op))
    with timer(t, "spsolve"):
        q = spla.spsolve(A.tocsc(), b)
    print(f"baseline scipy spsolve on the same pinned matrix: {t['spsolve']:.2f} s, residual "
          f"{relative_residual(op.matrix(), q):.1e}; ratio spsolve / fpsolve solve = "
          f"{t['spsolve'] / t['solve']:.1f}x")


if __name__ == "__main__":
    main()
