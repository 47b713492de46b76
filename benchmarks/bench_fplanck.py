"""fpsolve vs fplanck (PyPI 0.2.2) on a 2-D problem both support: diagonal D, force field.

Problem: rotational OU force F = A x with A = [[-1, 0.8], [-0.8, -1]] and D = I on a box
[-6, 6)^2 with reflecting walls; exact stationary density N(0, S), A S + S A^T + 2 I = 0.
Both packages run end to end (set-up, matrix, stationary density) at 200^2 and 400^2, after
both are imported and fpsolve's kernels are compiled; the median of ``--repeats`` runs of each is
compared.  Each density's L1 error against the exact answer is printed.  Target: fpsolve >= 10x
faster.

fplanck calls the removed ``np.product``; this script aliases it to ``np.prod``.

    python benchmarks/bench_fplanck.py [--sizes 200 400] [--repeats 3]
"""

from __future__ import annotations

import argparse

import numpy as np
import scipy.linalg as sla

import fpsolve as fp

from _common import median_seconds, warm_up

A = np.array([[-1.0, 0.8], [-0.8, -1.0]])
L = 12.0


def exact(points) -> np.ndarray:
    S = sla.solve_continuous_lyapunov(A, -2.0 * np.eye(2))
    Si = np.linalg.inv(S)
    q = np.einsum("i...,ij,j...->...", points, Si, points)
    return np.exp(-0.5 * q) / (2 * np.pi * np.sqrt(np.linalg.det(S)))


def run_fpsolve(n: int):
    grid = fp.CartesianGrid([(-L / 2, L / 2)] * 2, (n, n))
    res = fp.solve_stationary(fp.FokkerPlanckOperator(
        grid, fp.FokkerPlanckModel(lambda x: np.tensordot(A, x, axes=1), 1.0)))
    return np.abs(res.p - exact(grid.cell_centers())).sum() * grid.cell_volume


def run_fplanck(n: int):
    import fplanck
    from scipy import constants

    np.product = np.prod  # removed in NumPy 2; fplanck 0.2.2 still calls it
    sim = fplanck.fokker_planck(temperature=1 / constants.k, drag=1.0, extent=[L, L],
                                resolution=L / n, boundary=fplanck.boundary.reflecting,
                                force=lambda x, y: np.array([A[0, 0] * x + A[0, 1] * y,
                                                             A[1, 0] * x + A[1, 1] * y]))
    p = sim.steady_state()
    h2 = (L / n) ** 2
    return np.abs(p / h2 - exact(sim.grid)).sum() * h2


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 400])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    try:
        import fplanck  # noqa: F401
    except ImportError:
        raise SystemExit("fplanck is not installed: pip install fplanck==0.2.2")
    warm_up()
    for n in args.sizes:
        t_fp, err_fp = median_seconds(lambda: run_fpsolve(n), args.repeats)
        t_pl, err_pl = median_seconds(lambda: run_fplanck(n), args.repeats)
        print(f"{n}^2: fpsolve {t_fp:.3f} s (L1 error {err_fp:.1e}), fplanck {t_pl:.2f} s "
              f"(L1 error {err_pl:.1e}); speed-up {t_pl / t_fp:.1f}x (target >= 10x); "
              f"medians of {args.repeats} runs")


if __name__ == "__main__":
    main()
