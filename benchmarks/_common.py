"""Shared helpers of the benchmark scripts: timing and peak-memory readings."""

from __future__ import annotations

import resource
import time
from contextlib import contextmanager

import numpy as np

A_OU = np.array([[-1.0, 0.8], [-0.8, -1.0]])
D_OU = np.array([[1.0, 0.3], [0.3, 0.5]])


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
    """Compile the numba kernels once so that timings exclude JIT compilation."""
    import fpsolve as fp

    grid = fp.CartesianGrid([(-1, 1)] * 2, (8, 8))
    op = fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(lambda x: -x, D_OU))
    op.apply(np.ones(grid.shape))
    op.matrix()
