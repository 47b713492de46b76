"""Shared helpers of the benchmark scripts: timing and peak-memory readings."""

from __future__ import annotations

import resource
import time
from contextlib import contextmanager

import numpy as np

A_OU = np.array([[-1.0, 0.8], [-0.8, -1.0]])
D_OU = np.array([[1.0, 0.3], [0.3, 0.5]])


def median_seconds(fn, repeats: int):
    """``(median wall-clock seconds, last result)`` of ``repeats`` calls of ``fn()``."""
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


@contextmanager
def timer(store: dict, key: str):
    """Store the wall-clock seconds of the block in ``store[key]``."""
    t0 = time.perf_counter()
    yield
    store[key] = time.perf_counter() - t0


def peak_rss_gb() -> float:
    """Peak resident memory of this process so far, in GB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def warm_up() -> None:
    """Compile the numba kernels and import the solvers' dependencies once, so that timings
    exclude JIT compilation and module imports (one-time costs of a process)."""
    import fpsolve as fp

    grid = fp.CartesianGrid([(-1, 1)] * 2, (8, 8))
    op = fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(lambda x: -x, D_OU))
    op.apply(np.ones(grid.shape))
    op.matrix()
    grid = fp.CartesianGrid([(-3, 3)] * 2, (64, 64))
    fp.solve_stationary(fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(lambda x: -x, D_OU)),
                        method="multigrid")
