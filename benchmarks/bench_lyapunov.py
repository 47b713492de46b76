"""Eigenbasis Lyapunov solver against Bartels-Stewart on symmetric (Hessian-like) drifts.

For each size ``d``: ``symmetric_stationary_covariance`` (one symmetric eigendecomposition and an
entrywise division) and ``scipy.linalg.solve_continuous_lyapunov`` (Bartels-Stewart) on the same
random problem, ``A = -H`` with ``H`` positive definite (condition number 1e3), median of
``--repeats`` runs each, in this process; and the same for the discrete (SGD) equation against
``scipy.linalg.solve_discrete_lyapunov``.  Prints the seconds, the speed ratio and the largest
relative difference of the two solutions.  Set the BLAS threads (e.g. OMP_NUM_THREADS=1) to
compare like with like.

    python benchmarks/bench_lyapunov.py [--sizes 100 300 500] [--repeats 3]
"""

from __future__ import annotations

import argparse

import numpy as np
import scipy.linalg as sla

from fpsolve.linear import (symmetric_discrete_stationary_covariance,
                            symmetric_stationary_covariance)

from _common import median_seconds


def problem(d: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    Q = np.linalg.qr(rng.normal(size=(d, d)))[0]
    H = (Q * np.geomspace(1.0, 1e3, d)) @ Q.T
    B = rng.normal(size=(d, d))
    return 0.5 * (H + H.T), B @ B.T / d


def compare(d: int, repeats: int) -> None:
    H, D = problem(d)
    eta = 1.0 / 1e3                       # eta * lambda_max = 1, as for SGD near its edge
    M = np.eye(d) - eta * H
    rows = (("continuous", lambda: symmetric_stationary_covariance(-H, D),
             lambda: sla.solve_continuous_lyapunov(-H, -2.0 * D)),
            ("discrete", lambda: symmetric_discrete_stationary_covariance(M, 2.0 * D),
             lambda: sla.solve_discrete_lyapunov(M, 2.0 * D)))
    for name, eigen, bartels in rows:
        t_e, S_e = median_seconds(eigen, repeats)
        t_b, S_b = median_seconds(bartels, repeats)
        diff = np.abs(S_e - S_b).max() / np.abs(S_b).max()
        print(f"{d:6d}  {name:10s}  {t_e:9.4f}  {t_b:9.4f}  {t_b / t_e:7.2f}x  {diff:9.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 500])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print("     d  equation      eigen [s]  Bartels-Stewart [s]  ratio  rel. diff")
    for d in args.sizes:
        compare(d, args.repeats)


if __name__ == "__main__":
    main()
