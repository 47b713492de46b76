"""Assembly of a 10^6-cell 2-D operator with full position-dependent D(x).

Target (issue "core solver"): < 1 s on 2 cores.  Baseline in the same run: one evaluation of the
user's callables on the cells (the floor any assembly has to pay) and a plain
``scipy.sparse.coo_matrix(...).tocsr()`` conversion of a 9-point stencil of the same size.

    python benchmarks/bench_assembly.py [--n 1000]
"""

from __future__ import annotations

import argparse

import numpy as np
import scipy.sparse as sp

import fpsolve as fp

from _common import timer, warm_up


def diffusion(x):
    """Smooth, anisotropic, diagonally dominant D(x) with off-diagonal terms."""
    s, c = np.sin(x[0]), np.cos(x[1])
    return np.array([[1.0 + 0.3 * s**2, 0.2 * s * c], [0.2 * s * c, 0.6 + 0.2 * c**2]])


def drift(x):
    return np.array([-x[0] + 0.8 * x[1], -0.8 * x[0] - x[1]])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    args = parser.parse_args()
    warm_up()
    t: dict = {}
    grid = fp.CartesianGrid([(-6, 6), (-6, 6)], (args.n, args.n))
    model = fp.FokkerPlanckModel(drift, diffusion)
    with timer(t, "callables"):
        x = grid.cell_centers()
        drift(x), diffusion(x)
    with timer(t, "assembly"):
        op = fp.FokkerPlanckOperator(grid, model)
        G = op.matrix()
    n = grid.size
    rows = np.repeat(np.arange(n), 9)
    cols = (rows + np.tile(np.arange(-4, 5), n)) % n
    with timer(t, "coo"):
        sp.coo_matrix((np.ones(9 * n), (rows, cols)), shape=(n, n)).tocsr()
    print(f"{grid.size} cells, nnz {G.nnz}: assembly {t['assembly']:.2f} s (target < 1 s); "
          f"evaluating the callables alone {t['callables']:.2f} s "
          f"(ratio {t['assembly'] / t['callables']:.1f}x); COO->CSR of a 9-point stencil alone "
          f"{t['coo']:.2f} s (ratio {t['assembly'] / t['coo']:.1f}x)")


if __name__ == "__main__":
    main()
