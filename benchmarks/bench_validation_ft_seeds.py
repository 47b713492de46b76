"""Seed sweep of the fluctuation-theorem windows of the validation cases: pass rate of
``fluctuation_test``'s significance verdict in each case's quick and full configuration.

The cases' entropies are time-discretized (Euler-Maruyama paths, midpoint rule; SGD entropy with
a Gaussian kernel), so the symmetry identity ``<tanh(dS/2) - tanh(dS/2)^2> = 0`` holds only up to
a bias: at large N the verdict may detect it.  This script reruns exactly the case's own window
function (imported from ``validation/<case>/compute.py``) with the seed replaced, and prints per
window the pass rate at the verdict's level, the mean symmetry z (a bias shows as a mean z away
from 0; pure noise has mean 0 and spread 1) and the spread of z.

    python benchmarks/bench_validation_ft_seeds.py ft-ou [--seeds 20] [--mode quick full]
    python benchmarks/bench_validation_ft_seeds.py ft-nonlinear [--seeds 20] [--first-seed 1000]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy.special import ndtr

import fpsolve as fp
from fpsolve.validation_registry import load_case_module, read_case

ROOT = Path(__file__).resolve().parents[1] / "validation"


def case_module(name):
    return load_case_module(read_case(ROOT / name), "compute")


def ft_ou_windows(mod, quick, seed):
    """ds samples of the ft-ou windows (<dS> = 0.25, 0.5, 1, 2) for one seed."""
    cfg = {**(mod.QUICK if quick else mod.FULL), "n_bootstrap": 10}   # not in the verdict
    ou = fp.models.OrnsteinUhlenbeck(mod.A, mod.D)
    grid = fp.CartesianGrid(mod.BOX, (16, 16))
    _, samples = mod.fluctuation_windows(ou, grid, cfg, seed)
    return [ds for ds, _ in samples]


_REF = {}   # the 256^2 grid reference of ft-nonlinear, solved once


def ft_nonlinear_windows(mod, quick, seed):
    """ds samples of the ft-nonlinear windows (<dS> = 0.5, 1, 2) for one seed."""
    if "ref" not in _REF:
        _REF["ref"] = mod.grid_reference(mod.make_model(), mod.N_REF)
    cfg = {**(mod.QUICK if quick else mod.FULL), "n_bootstrap": 10}   # not in the verdict
    _, samples = mod.fluctuation_windows(mod.make_model(), _REF["ref"], cfg, seed)
    return [ds for ds, _ in samples]


WINDOWS = {"ft-ou": ft_ou_windows, "ft-nonlinear": ft_nonlinear_windows}


def sweep(case, quick, seeds, alpha, first_seed=1000):
    mod = case_module(case)
    zs, t0 = [], time.perf_counter()
    for seed in range(first_seed, first_seed + seeds):
        wins = WINDOWS[case](mod, quick, seed)
        zs.append([fp.fluctuation_test(ds, n_bootstrap=0, alpha=alpha).symmetry_z
                   for ds in wins])
    z = np.array(zs)                                            # (seeds, windows)
    p = 2 * ndtr(-np.abs(z))
    out = {"case": case, "mode": "quick" if quick else "full", "seeds": seeds,
           "first_seed": first_seed, "alpha": alpha,
           "n": len(wins[0]), "pass_rate": (p >= alpha).mean(axis=0).tolist(),
           "all_windows_pass_rate": float((p >= alpha).all(axis=1).mean()),
           # the cases test each of their m windows at alpha / m (Bonferroni)
           "all_windows_pass_rate_bonferroni": float((p >= alpha / z.shape[1]).all(axis=1).mean()),
           "mean_z": z.mean(axis=0).tolist(),
           "mean_z_stderr": (z.std(axis=0, ddof=1) / np.sqrt(seeds)).tolist(),
           "sd_z": z.std(axis=0, ddof=1).tolist(), "min_p": p.min(axis=0).tolist(),
           "z": z.round(3).tolist(), "seconds": time.perf_counter() - t0}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=sorted(WINDOWS))
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--mode", nargs="+", default=["quick", "full"])
    ap.add_argument("--alpha", type=float, default=0.01)
    ap.add_argument("--first-seed", type=int, default=1000)
    args = ap.parse_args()
    for mode in args.mode:
        print(json.dumps(sweep(args.case, mode == "quick", args.seeds, args.alpha,
                                      args.first_seed)), flush=True)


if __name__ == "__main__":
    main()
