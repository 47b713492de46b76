"""Stationary solve of a 3-D OU NESS with full D at 128^3 (target <= 60 s on 2 cores).

    python benchmarks/bench_3d.py [--n 128]

Prints assembly and solve times, the relative residual, the density's L1 error against the exact
Gaussian, and the peak memory.  Baseline in the same run: one sparse matrix-vector product of the
generator, to express the solve time in matvec units.
"""

from __future__ import annotations

import argparse

import numpy as np

import fpsolve as fp

from _common import peak_rss_gb, timer, warm_up

A = np.array([[-1.0, 0.5, 0.0], [-0.5, -1.0, 0.3], [0.0, -0.3, -1.2]])
D = np.array([[1.0, 0.2, 0.1], [0.2, 0.8, 0.15], [0.1, 0.15, 0.6]])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=128)
    args = parser.parse_args()
    warm_up()
    t: dict = {}
    ou = fp.models.OrnsteinUhlenbeck(A, D)
    grid = fp.CartesianGrid([(-6, 6)] * 3, (args.n,) * 3)
    with timer(t, "assembly"):
        op = fp.FokkerPlanckOperator(grid, ou.model)
        G = op.matrix()
    with timer(t, "solve"):
        res = fp.solve_stationary(op)
    p = np.ones(grid.size)
    with timer(t, "matvec"):
        G @ p
    err = np.abs(res.p - ou.stationary_density(grid.cell_centers())).sum() * grid.cell_volume
    print(f"{args.n}^3 = {grid.size} cells, nnz {G.nnz}: assembly {t['assembly']:.1f} s, solve "
          f"({res.method}) {t['solve']:.1f} s = {t['solve'] / t['matvec']:.0f} matvecs, total "
          f"{t['assembly'] + t['solve']:.1f} s (target <= 60 s); residual {res.residual:.1e}; "
          f"L1 error {err:.2e}; peak RSS {peak_rss_gb():.2f} GB")


if __name__ == "__main__":
    main()
