"""Mean first-passage time of the 2-D OU process (rotational drift, correlated D) leaving the
box [-3, 3]^2 through absorbing walls: multigrid ("auto") against the sparse LU of the same
backward system, run in the same script.

    python benchmarks/bench_first_passage.py [--sizes 256 512 1024]

The direct solve is skipped above 512^2 (it takes a minute and GBs there).
"""

from __future__ import annotations

import argparse

import numpy as np

import fpsolve as fp

from _common import A_OU, D_OU, median_seconds, warm_up


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    args = parser.parse_args()
    warm_up()
    model = fp.FokkerPlanckModel(lambda x: np.tensordot(A_OU, x, axes=1), D_OU)
    for n in args.sizes:
        grid = fp.CartesianGrid([(-3.0, 3.0)] * 2, (n, n), boundary="absorbing")
        op = fp.FokkerPlanckOperator(grid, model)
        op.matrix()
        t_mg, mg = median_seconds(lambda op=op: fp.mean_first_passage_time(op), 1)
        line = f"{n}^2: auto {t_mg:.2f} s ({mg.message})"
        if n <= 512:
            t_lu, lu = median_seconds(
                lambda op=op: fp.mean_first_passage_time(op, method="direct"), 1)
            gap = np.abs(mg.tau - lu.tau).max() / lu.tau.max()
            line += f"; direct {t_lu:.2f} s; ratio {t_lu / t_mg:.1f}x; max |tau gap| {gap:.1e}"
        print(line)


if __name__ == "__main__":
    main()
