"""GTH elimination against the normwise solves: speed on well-conditioned problems, accuracy on
metastable ones.

Speed: the 2-D OU NESS (rotational A, correlated D, the benchmark problem of
bench_stationary.py) and a 3-D OU, with SG rates and no error report so that only the linear
solve differs.  For each size: ``method="gth"``, the sparse LU (``"direct"``), multigrid, and
what ``"auto"`` picks; median of ``--repeats`` runs, all in this process.  The issue target is
that ``"auto"`` on well-conditioned problems stays within 10 % of the fastest normwise solve it
replaced (direct up to 2.5e4 cells in 2-D, multigrid beyond).

Accuracy: the 2-D NESS double well ``a = -(I + Q) grad U`` with barrier 40 (point-symmetric,
so the left-well mass is 1/2 exactly) by GTH and by the sparse LU.

    python benchmarks/bench_gth.py [--sizes 100 200 400] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import fpsolve as fp

from _common import A_OU, D_OU, warm_up

A3 = np.array([[-1.0, 0.5, 0.0], [-0.5, -1.0, 0.3], [0.0, -0.3, -1.0]])


def seconds(op, method: str, repeats: int) -> tuple[float, str]:
    times, used = [], ""
    for _ in range(repeats):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            used = fp.solve_stationary(op, method=method, error=False).method
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), used


def speed(shape, repeats: int) -> None:
    d = len(shape)
    A, D = (A_OU, D_OU) if d == 2 else (A3, 1.0)
    grid = fp.CartesianGrid([(-7, 7)] * d, shape)
    op = fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(lambda x: np.tensordot(A, x, 1), D),
                                 scheme="sg")
    op.matrix()
    row = {m: seconds(op, m, repeats) for m in ("gth", "direct", "multigrid", "auto")}
    old = row["direct"][0] if grid.size <= 25_000 * (d == 2) + 8_000 * (d == 3) else \
        row["multigrid"][0]
    print(f"{'x'.join(map(str, shape)):>10} {grid.size:>8}  gth {row['gth'][0]:6.3f}  "
          f"direct {row['direct'][0]:6.3f}  multigrid {row['multigrid'][0]:6.3f}  "
          f"auto {row['auto'][0]:6.3f} ({row['auto'][1]})  auto / previous default "
          f"{row['auto'][0] / old:.2f}")


def accuracy(n: int) -> None:
    Q = np.array([[0.0, 1.0], [-1.0, 0.0]])

    def drift(x):
        grad = np.stack([160.0 * x[0] * (x[0] ** 2 - 1), 4.0 * x[1]])
        return -(grad + np.tensordot(Q, grad, 1))

    grid = fp.CartesianGrid([(-2, 2), (-2, 2)], (n, n))
    op = fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(drift, 1.0), scheme="sg")
    left = grid.cell_centers()[0] < 0
    for method in ("gth", "direct"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = fp.solve_stationary(op, method=method, error=False)
        mass = res.p[left].sum() * grid.cell_volume
        sym = np.max(np.abs(res.p - res.p[::-1, ::-1]) / np.maximum(res.p, 1e-300))
        print(f"barrier 40, {n}^2, {method:>6}: left-well mass {mass:.15f} (exact 1/2), "
              f"point-symmetry defect {sym:.1e}, converged {res.converged}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 200, 400])
    parser.add_argument("--sizes3", type=int, nargs="+", default=[16, 20, 24])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    warm_up()
    print("seconds (median), SG rates, no error report")
    for n in args.sizes:
        speed((n, n), args.repeats)
    for n in args.sizes3:
        speed((n, n, n), args.repeats)
    for n in (40, 100):
        accuracy(n)


if __name__ == "__main__":
    main()
