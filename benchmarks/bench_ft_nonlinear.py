"""Wall time of the ft-nonlinear validation case (full mode) against baselines in the same run.

The case (validation/ft-nonlinear) simulates a double well with a rotational force and a
position-dependent anisotropic D(x) (Euler-Maruyama, streaming histogram, cell current and
entropy production) and compares with the 256^2 grid solution.  Target (issue 3): the full
computation in <= 2 minutes on 2 cores.  Measured in the same run:

* the case's ``compute.main`` (full, or ``--quick``), wall and CPU seconds, with its particle-steps
  (every trajectory step of every ensemble) and throughput;
* baseline (a): the 256^2 grid reference alone (``fp.solve_stationary`` + current + EPR);
* baseline (b): a vectorized NumPy Euler-Maruyama of the same model (drift, Cholesky factor and
  reflection evaluated in closed form every step, no observables) on the case's largest
  ensemble for ``--numpy-steps`` steps, scaled to the case's particle-steps: the time NumPy
  would need for the same trajectories.

Printed: seconds, the ratio case / baseline, particle-steps per second (wall) and per CPU-second
(all threads' CPU time: immune to other load on a shared machine).

    python benchmarks/bench_ft_nonlinear.py [--quick] [--numpy-steps 200]
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

from fpsolve._numba import get_num_threads
from fpsolve.validation_registry import load_case_module, read_case

CASE_DIR = Path(__file__).resolve().parents[1] / "validation" / "ft-nonlinear"


def timed(func):
    """Wall and CPU seconds of one call, and its result."""
    w0, c0 = time.perf_counter(), time.process_time()
    out = func()
    return time.perf_counter() - w0, time.process_time() - c0, out


def particle_steps(results: dict, cfg: dict) -> int:
    """Trajectory steps of the case: the dt ensembles and the fluctuation windows."""
    ens = sum(r["n_traj"] * round(r["tau"] / r["dt"]) for r in results["epr"]["runs"])
    windows = results["windows"][-1]["tau"] / cfg["ft_dt"]
    return int(ens + round(windows) * cfg["ft_traj"])


def numpy_em(case, x, dt, n_steps, rng):
    """Baseline (b): Euler-Maruyama of the case's model, vectorized over trajectories."""
    (lo0, hi0), (lo1, hi1) = case.BOX
    lo, hi = np.array([lo0, lo1]), np.array([hi0, hi1])
    sq = math.sqrt(dt)
    for _ in range(n_steps):
        X, Y = x[:, 0], x[:, 1]
        D = case.diffusion(x.T)
        F = case.rotation(x.T) - np.stack([4.0 * X * (X * X - 1.0), Y])
        a = np.einsum("ijn,jn->in", D, F) + case.diffusion_divergence(x.T)
        l11 = np.sqrt(2.0 * D[0, 0])
        l21 = 2.0 * D[0, 1] / l11
        l22 = np.sqrt(2.0 * D[1, 1] - l21 * l21)
        z = rng.standard_normal((2, x.shape[0]))
        x = x + dt * a.T + sq * np.column_stack([l11 * z[0], l21 * z[0] + l22 * z[1]])
        y = np.mod(x - lo, 2.0 * (hi - lo))                 # specular reflection
        x = lo + np.where(y > hi - lo, 2.0 * (hi - lo) - y, y)
    return x


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="time the quick mode instead")
    parser.add_argument("--numpy-steps", type=int, default=200)
    args = parser.parse_args()
    case = load_case_module(read_case(CASE_DIR), "compute")
    cfg = case.QUICK if args.quick else case.FULL
    model = case.make_model()
    warm = case.grid_reference(model, 64)                   # JIT caches loaded, not timed
    case.ensemble(model, warm, 0.01, 8, 0.05, 1, 1, True)

    w_grid, c_grid, ref = timed(lambda: case.grid_reference(model, case.N_REF))
    w_case, c_case, results = timed(lambda: case.main(quick=args.quick))
    steps = particle_steps(results, cfg)

    n_np = max(cfg["traj"])
    x0 = case.sample_grid_density(ref["result"], n_np, np.random.default_rng(1))
    w_np, c_np, _ = timed(lambda: numpy_em(case, x0, min(cfg["dts"]), args.numpy_steps,
                                           np.random.default_rng(2)))
    per_step_np = w_np / (n_np * args.numpy_steps)
    np_equiv = per_step_np * steps

    mode = "quick" if args.quick else "full"
    target = 20.0 if args.quick else 120.0
    print(f"ft-nonlinear ({mode} mode), {get_num_threads()} threads, {steps:.3e} particle-steps")
    print(f"{'':44s} {'wall s':>9s} {'CPU s':>9s} {'case/this':>10s}")
    print(f"{'case compute.main':44s} {w_case:9.2f} {c_case:9.2f} {1.0:10.2f}")
    print(f"{'(a) grid reference 256^2 (solve+J+EPR)':44s} {w_grid:9.2f} {c_grid:9.2f} "
          f"{w_case / w_grid:10.2f}")
    print(f"{'(b) NumPy EM, same particle-steps (scaled)':44s} {np_equiv:9.2f} "
          f"{c_np / w_np * np_equiv:9.2f} {w_case / np_equiv:10.2f}")
    print(f"case throughput: {steps / w_case:.3e} particle-steps/s wall, "
          f"{steps / c_case:.3e} per CPU-s (observables included); NumPy baseline "
          f"{1.0 / per_step_np:.3e} steps/s ({n_np} trajectories x {args.numpy_steps} steps)")
    print(f"case sections: {results['seconds']}")
    print(f"target: {mode} mode <= {target:.0f} s on 2 cores -> "
          f"{'met' if w_case <= target else 'NOT met'} ({w_case:.1f} s wall; on a shared "
          f"machine compare CPU s / 2 = {c_case / 2:.1f} s)")
    print(f"all verdicts passed: {results['all_passed']}")


if __name__ == "__main__":
    main()
