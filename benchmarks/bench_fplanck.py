"""fpsolve vs fplanck (PyPI 0.2.2) on a 2-D problem both support: diagonal D, force field.

Problem: rotational OU force F = A x with A = [[-1, 0.8], [-0.8, -1]] and D = I on a box
[-6, 6)^2 with reflecting walls; exact stationary density N(0, S), A S + S A^T + 2 I = 0.
Both packages run end to end (set-up, matrix, stationary density) at 200^2 and 400^2, after
both are imported and fpsolve's kernels are compiled; the median of ``--repeats`` runs of each is
compared.  Each density's L1 error against the exact answer is printed.  Target: fpsolve >= 10x
faster.

``--accuracy`` prints error against run time for both instead: for each grid the seconds, the L1
density error and the relative error of the entropy production rate (exact value from
``fpsolve.linear``; each package's Schnakenberg sum over its own rates and density), for fpsolve
with its default scheme (``"fitted"``: SG solve plus density refits), with ``"sg"`` and with
``"sqra"`` (fplanck's own rates).  Then
for every fplanck run the most accurate fpsolve run that took no longer.  Target: at equal run
time fpsolve's density and EPR errors are no worse than fplanck's.

fplanck calls the removed ``np.product``; this script aliases it to ``np.prod``.

    python benchmarks/bench_fplanck.py [--sizes 200 400] [--repeats 3]
    python benchmarks/bench_fplanck.py --accuracy [--fpsolve-sizes 50 100 200 400]
                                                  [--fplanck-sizes 50 100 200]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.linalg as sla

import fpsolve as fp
from fpsolve.linear import entropy_production_rate

from _common import median_seconds, warm_up

A = np.array([[-1.0, 0.8], [-0.8, -1.0]])
L = 12.0
EPR = entropy_production_rate(A, np.eye(2))


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
    sim = _fplanck_steady(n)
    p = sim.steady_state()
    h2 = (L / n) ** 2
    return np.abs(p / h2 - exact(sim.grid)).sum() * h2


def _fplanck_steady(n: int):
    import fplanck
    from scipy import constants

    np.product = np.prod  # removed in NumPy 2; fplanck 0.2.2 still calls it
    return fplanck.fokker_planck(temperature=1 / constants.k, drag=1.0, extent=[L, L],
                                resolution=L / n, boundary=fplanck.boundary.reflecting,
                                force=lambda x, y: np.array([A[0, 0] * x + A[0, 1] * y,
                                                             A[1, 0] * x + A[1, 1] * y]))


def accuracy_fpsolve(n: int, scheme: str):
    """``(seconds, L1 error, relative EPR error)`` of fpsolve end to end with ``scheme``."""
    t0 = time.perf_counter()
    grid = fp.CartesianGrid([(-L / 2, L / 2)] * 2, (n, n))
    op = fp.FokkerPlanckOperator(
        grid, fp.FokkerPlanckModel(lambda x: np.tensordot(A, x, axes=1), 1.0), scheme=scheme)
    res = fp.solve_stationary(op)          # refits "fitted" rates itself
    op = res.operator
    seconds = time.perf_counter() - t0
    l1 = np.abs(res.p - exact(grid.cell_centers())).sum() * grid.cell_volume
    return seconds, l1, abs(fp.entropy_production_rate(res) / EPR - 1)


def accuracy_fplanck(n: int):
    """``(seconds, L1 error, relative EPR error)`` of fplanck; EPR is Schnakenberg's sum over
    its master matrix ``M`` (``dp/dt = M p``, ``M[i, j]`` the rate ``j -> i``) and density."""
    t0 = time.perf_counter()
    sim = _fplanck_steady(n)
    p = sim.steady_state()
    seconds = time.perf_counter() - t0
    h2 = (L / n) ** 2
    l1 = np.abs(p / h2 - exact(sim.grid)).sum() * h2
    M = sim.master_matrix.tocoo()
    q = np.clip(p.ravel(), 0.0, None)
    off = (M.row < M.col) & (M.data > 0)
    i, j, r_ji = M.row[off], M.col[off], M.data[off]
    r_ij = np.asarray(sim.master_matrix[j, i]).ravel()
    fwd, bwd = r_ji * q[j], r_ij * q[i]
    ok = (fwd > 0) & (bwd > 0)
    epr = np.sum((fwd - bwd)[ok] * np.log(fwd[ok] / bwd[ok]))
    return seconds, l1, abs(epr / EPR - 1)


def accuracy(fp_sizes, pl_sizes) -> None:
    """Print error against time for both packages and the equal-time comparison."""
    rows = []
    for n in fp_sizes:
        for scheme in ("fitted", "sg", "sqra"):
            rows.append((f"fpsolve {scheme}", n) + accuracy_fpsolve(n, scheme))
    for n in pl_sizes:
        rows.append(("fplanck", n) + accuracy_fplanck(n))
    print(f"{'package':16s} {'n':>5s} {'seconds':>8s} {'L1 density':>11s} {'EPR rel.':>9s}")
    for name, n, t, l1, e in rows:
        print(f"{name:16s} {n:5d} {t:8.3f} {l1:11.2e} {e:9.2e}")
    for scheme in ("fitted", "sqra"):
        ours = [r for r in rows if r[0] == f"fpsolve {scheme}"]
        for _, n, t, l1, e in (r for r in rows if r[0] == "fplanck"):
            faster = [r for r in ours if r[2] <= t]
            if not faster:
                print(f"fplanck {n}^2 ({t:.3f} s): no fpsolve {scheme} run as fast")
                continue
            best = min(faster, key=lambda r: r[3])
            print(f"equal time: fplanck {n}^2 {t:.3f} s L1 {l1:.2e} EPR {e:.2e} | fpsolve "
                  f"{scheme} {best[1]}^2 {best[2]:.3f} s L1 {best[3]:.2e} EPR {best[4]:.2e} -> "
                  f"{'OK' if best[3] <= l1 and best[4] <= e else 'WORSE'}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 400])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--accuracy", action="store_true", help="error against run time")
    parser.add_argument("--fpsolve-sizes", type=int, nargs="+", default=[50, 100, 200, 400])
    parser.add_argument("--fplanck-sizes", type=int, nargs="+", default=[50, 100, 200])
    args = parser.parse_args()
    try:
        import fplanck  # noqa: F401
    except ImportError:
        raise SystemExit("fplanck is not installed: pip install fplanck==0.2.2") from None
    warm_up()
    if args.accuracy:
        accuracy(args.fpsolve_sizes, args.fplanck_sizes)
        return
    for n in args.sizes:
        t_fp, err_fp = median_seconds(lambda n=n: run_fpsolve(n), args.repeats)
        t_pl, err_pl = median_seconds(lambda n=n: run_fplanck(n), args.repeats)
        print(f"{n}^2: fpsolve {t_fp:.3f} s (L1 error {err_fp:.1e}), fplanck {t_pl:.2f} s "
              f"(L1 error {err_pl:.1e}); speed-up {t_pl / t_fp:.1f}x (target >= 10x); "
              f"medians of {args.repeats} runs")


if __name__ == "__main__":
    main()
