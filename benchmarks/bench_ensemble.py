"""Ensemble throughput: 2-D Ornstein-Uhlenbeck, Euler-Maruyama, 1e5 trajectories.

Problem: dx = A x dt + sigma dW with A = [[-1, 0.8], [-0.8, -1]], sigma sigma^T = 2 D,
D = [[1, 0.3], [0.3, 0.5]], reflecting box [-8, 8]^2 (never reached), no stored paths.
Measured in the same run, best of ``--repeats`` (JIT compilation excluded):

* fpsolve ``simulate`` (walls, counter-based Philox + ziggurat normals; the affine OU drift is
  detected in its table and evaluated as ``b + M x``), and the same with a non-affine drift
  ``A x + 0.1 sin(x)`` that is interpolated from its 256^2 table;
* (a) a naive numba ``prange`` loop calling ``np.random.standard_normal`` (numba's per-thread
  Mersenne Twister: not reproducible across thread counts), no tables, no walls;
* (b) a vectorized NumPy loop (``Generator.standard_normal`` per step).

Printed: particle-steps per second (wall clock), the same per CPU-second (insensitive to other
load on shared machines), ratios, and the covariance of each ensemble as a sanity check.
Target: fpsolve >= 5e7 particle-steps/s on 2 cores.

    python benchmarks/bench_ensemble.py [--n-traj 100000] [--n-steps 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from _common import A_OU, D_OU

import fpsolve as fp
from fpsolve._numba import get_num_threads, jit_parallel, prange, set_num_threads
from fpsolve.stochastic import simulate

DT = 0.01


@jit_parallel
def naive_em(x, A, L, dt, n_steps):
    """Baseline (a): one trajectory per prange iteration, numba's global normal generator."""
    sq = math.sqrt(dt)
    for i in prange(x.shape[0]):
        x0, x1 = x[i, 0], x[i, 1]
        for _ in range(n_steps):
            z0, z1 = np.random.standard_normal(), np.random.standard_normal()
            a0, a1 = A[0, 0] * x0 + A[0, 1] * x1, A[1, 0] * x0 + A[1, 1] * x1
            x0, x1 = (x0 + a0 * dt + sq * L[0, 0] * z0,
                      x1 + a1 * dt + sq * (L[1, 0] * z0 + L[1, 1] * z1))
        x[i, 0], x[i, 1] = x0, x1


def numpy_em(x, A, L, dt, n_steps, rng):
    """Baseline (b): vectorized over trajectories, one Python iteration per step."""
    sq = math.sqrt(dt)
    for _ in range(n_steps):
        x = x + dt * (x @ A.T) + sq * (rng.standard_normal(x.shape) @ L.T)
    return x


def timed(func, repeats):
    """Best wall and CPU seconds of ``repeats`` calls, and the last result."""
    best_wall, best_cpu, out = math.inf, math.inf, None
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        out = func()
        best_wall = min(best_wall, time.perf_counter() - w0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return best_wall, best_cpu, out


def runners(n, m):
    """The three contenders (and the tabulated-drift variant) as ``steps -> positions``."""
    L = np.linalg.cholesky(2 * D_OU)
    grid = fp.CartesianGrid([(-8.0, 8.0)] * 2, 64)
    ou = fp.FokkerPlanckModel(lambda x: np.tensordot(A_OU, x, axes=1), D_OU)
    bent = fp.FokkerPlanckModel(lambda x: np.tensordot(A_OU, x, axes=1) + 0.1 * np.sin(x), D_OU)
    x0, rng = np.zeros((n, 2)), np.random.default_rng(1)

    def fpsolve_run(model):
        return lambda steps=m: simulate(model, x0, grid=grid, dt=DT, n_steps=steps, rng=1,
                                        record_every=0).final_positions

    def naive(steps=m):
        x = x0.copy()
        naive_em(x, A_OU, L, DT, steps)
        return x

    return {"fpsolve simulate": fpsolve_run(ou), "fpsolve, tabulated drift": fpsolve_run(bent),
            "(a) naive numba prange": naive,
            "(b) vectorized NumPy": lambda steps=m: numpy_em(x0, A_OU, L, DT, steps, rng)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-traj", type=int, default=100_000)
    parser.add_argument("--n-steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n, m = args.n_traj, args.n_steps
    funcs = runners(n, m)
    for func in funcs.values():
        func(2)                                                   # JIT compilation
    results = {name: timed(func, args.repeats) for name, func in funcs.items()}
    threads = get_num_threads()
    set_num_threads(1)
    results["fpsolve simulate, 1 thread"] = timed(funcs["fpsolve simulate"], args.repeats)
    set_num_threads(threads)
    print(f"2-D OU, Euler-Maruyama, {n} trajectories x {m} steps, {threads} threads")
    print(f"{'':30s} {'steps/s (wall)':>15s} {'steps/CPU-s':>13s} {'ratio':>8s}  cov(x)")
    ref = n * m / results["fpsolve simulate"][0]
    for name, (wall, cpu, x) in results.items():
        cov = np.cov(x.T)
        print(f"{name:30s} {n * m / wall:15.3e} {n * m / cpu:13.3e} {ref * wall / (n * m):8.2f}"
              f"  [{cov[0, 0]:.3f} {cov[0, 1]:.3f} {cov[1, 1]:.3f}]")
    print("ratio = fpsolve simulate / row, wall clock; target fpsolve >= 5.0e+07 steps/s on 2 "
          "cores.  steps/CPU-s counts all threads' CPU time: per-core speed, immune to load.")


if __name__ == "__main__":
    main()
