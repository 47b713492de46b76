"""Overhead of the progress bars (issue 15 item 4): every driver with ``progress=True`` (a bar
drawn to a captured stderr) against ``progress=False`` on the same problem, in the same run.

- ``sample``: SGWORLD, linear regression d = 20, N = 1000, B = 10; with a bar the chains run in
  ~100 kernel calls instead of one;
- GMRES: a multigrid stationary solve of the 2-D OU NESS (``multilevel_solve``), one bar update
  per iteration;
- ``evolve``: TR-BDF2 steps of the 2-D OU NESS, one bar update per 1 % of the steps.

Ratios near 1 (within the run-to-run noise shown by the spread of the repeats) mean no
measurable cost.  Both the ratio of medians and the ratio of minima are printed: on a shared,
loaded machine the minima are the steadier reading.

    python benchmarks/bench_progress.py [--repeats 5] [--steps 400000] [--cells 512]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time

import numpy as np
from _common import A_OU, D_OU, warm_up

import fpsolve as fp
from fpsolve.learning import LinearRegression
from fpsolve.learning.dynamics.samplers import sample
from fpsolve.solvers import pinned
from fpsolve.solvers.evolve import evolve
from fpsolve.solvers.multigrid import multilevel_solve


def timings(fn, repeats):
    """Wall-clock seconds of ``repeats`` alternating calls ``fn(False)``, ``fn(True)``."""
    out = {False: [], True: []}
    for _ in range(repeats):
        for progress in (False, True):
            with contextlib.redirect_stderr(io.StringIO()):  # the bar's text goes nowhere
                t0 = time.perf_counter()
                fn(progress)
                out[progress].append(time.perf_counter() - t0)
    return out


def cases(args):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, 20))
    data = (x, x @ rng.normal(size=20) + rng.normal(size=1000))
    model = LinearRegression(20, s=1.0)
    epochs = max(1, args.steps // 100)

    def run_sample(progress):
        sample("sgworld", model, data, eta=1e-4, batch_size=10, n_epochs=epochs, n_chains=4,
               rng=1, progress=progress, warn=False)

    n = args.cells
    grid = fp.CartesianGrid([(-7.0, 7.0)] * 2, (n, n))
    op = fp.FokkerPlanckOperator(grid, fp.models.OrnsteinUhlenbeck(A_OU, D_OU).model)
    A, b, _ = pinned.pinned_system(op.matrix(), n * n // 2 + n // 2)

    def run_gmres(progress):
        multilevel_solve(A, b, grid, "multigrid", tol=1e-10, maxiter=200, progress=progress)

    small = fp.CartesianGrid([(-7.0, 7.0)] * 2, (64, 64))
    op_small = fp.FokkerPlanckOperator(small, fp.models.OrnsteinUhlenbeck(A_OU, D_OU).model)
    c = small.cell_centers()
    p0 = np.exp(-((c[0] - 2.0) ** 2 + c[1] ** 2))

    def run_evolve(progress):
        evolve(op_small, p0 / p0.sum(), [1.0], n_steps=2000, progress=progress)

    return {f"sample SGWORLD ({epochs * 100} steps x 4 chains)": run_sample,
            f"multigrid GMRES ({n}^2 OU NESS)": run_gmres,
            "evolve TR-BDF2 (64^2, 2000 steps)": run_evolve}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=400_000, help="sampler steps per chain")
    ap.add_argument("--cells", type=int, default=512, help="cells per axis of the GMRES solve")
    args = ap.parse_args()
    warm_up()
    print(f"{'driver':<45} {'off [s]':>9} {'bar [s]':>9} {'ratio':>7} {'min ratio':>9}  "
          "spread (off)")
    for name, fn in cases(args).items():
        fn(False)  # compile / import once
        t = timings(fn, args.repeats)
        off, on = np.median(t[False]), np.median(t[True])
        spread = (max(t[False]) - min(t[False])) / off
        best = min(t[True]) / min(t[False])
        print(f"{name:<45} {off:9.3f} {on:9.3f} {on / off:7.3f} {best:9.3f}  {spread:.1%}",
              flush=True)


if __name__ == "__main__":
    main()
