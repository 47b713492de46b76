"""ft-nonlinear: trajectories of a nonlinear NESS with position-dependent anisotropic diffusion
against the finite-volume solution (the only reference).

Model (``from_potential``): ``J = D(x) (F p - grad p)``, ``F = -grad U + f`` with the double well
``U = (x^2 - 1)^2 + y^2 / 2``, the rotational (non-gradient) force ``f = 2 (-y, x)`` and

    D(x, y) = [[0.6 + 0.2 tanh x,  0.15 sin x      ],
               [0.15 sin x,        0.5 + 0.1 cos y ]]

(smooth, symmetric, strictly diagonally dominant: ``|D_12| <= 0.15 < 0.4 <= D_kk``), with its
divergence given in closed form.  Box ``[-2, 2] x [-4, 4]``, reflecting walls, where ``p`` is
below 1e-3 of its maximum (specular reflection and the zero-flux wall only agree where the
density is negligible).  Reference: the 256^2 grid solution (128^2 for its error estimate).

Claims (issue 3, "ft-nonlinear"), all Monte Carlo by ``fp.simulate`` (Euler-Maruyama) started
from the grid density:

* histogram (``Histogram`` on a 32 x 32 grid aligned with the reference) vs the grid density
  averaged over the same cells: total-variation distance < 1 %;
* cell currents (``CellCurrent``, Stratonovich increments) vs the grid current averaged over the
  same cells: relative L2 < 5 % over the *resolved* cells, i.e. cells where the grid ``|J|`` is at
  least 20 % of its maximum and the Monte Carlo standard error of the cell (from independent
  batches) is at most 25 % of the grid ``|J|``;
* ``<dS_tot> / tau`` (``RunningEntropy`` for ``-dU + int f o dx``, system part from the grid
  ``p_ss`` interpolated) at 3 step sizes, extrapolated to ``dt -> 0``: within 2 % of the grid
  entropy production rate;
* windows with ``<dS_tot> = 0.5, 1, 2`` (one per trajectory): ``fluctuation_test``'s
  significance verdict (two-sided test of ``<tanh(dS/2) - tanh(dS/2)^2> = 0``) passes in every
  window at level ``0.01 / 3`` per window (Bonferroni: false-alarm rate <= 1 %).  The entropy is
  time-discretized (Euler-Maruyama at ``ft_dt``, midpoint rule, grid ``p_ss``), so the verdict
  could detect its O(dt) bias at large N: measured over seeds
  (``benchmarks/bench_validation_ft_seeds.py ft-nonlinear``, docs/stochastic-thermodynamics.md),
  the mean symmetry z is 0 within its standard error (+-0.1) in both modes, i.e. no bias is
  detected at these N; the claim passed 60 of 60 seeds (quick) and 95-97 of 100 (full: a ~2
  sigma excess over the nominal 1 %, chance or a bias of ~0.1-0.2 standard errors).  Reported,
  not claimed (``diagnostics``): the IFT z (trustworthy only where the tail index of
  ``exp(-dS)`` exceeds 2) and the DFT slope against the former thresholds.

Quick mode: smaller ensembles and larger steps, so the issue's thresholds are not resolvable in
20 s.  Every claim is therefore evaluated in ``compute.py`` against a mode-specific threshold
(``THRESHOLDS``; the full mode uses exactly the issue's numbers), and expected.json checks the
ratios ``measured / threshold <= 1`` (``verdicts.<name>.ratio``) in both modes; the
fluctuation verdict has the same level in both modes (``verdicts.fluctuation.ratio`` =
``alpha / min p``).
"""

from __future__ import annotations

import time

import numpy as np

import fpsolve as fp
from fpsolve.stochastic import CellCurrent, Histogram, RunningEntropy

OMEGA = 2.0
BOX = [(-2.0, 2.0), (-4.0, 4.0)]
N_REF, N_COARSE_REF, N_HIST = 256, 128, 32
SEED = 20240604
TARGET_MEANS = (0.5, 1.0, 2.0)
# Level of fluctuation_test's verdict per window: the case claims all 3 windows pass, so each is
# tested at 0.01 / 3 (Bonferroni): false-alarm rate of the claim <= 1 % (fluctuation_test.ALPHA).
ALPHA_WINDOW = 0.01 / len(TARGET_MEANS)

FULL = {"dts": (0.02, 0.01, 0.005), "traj": (10_000, 10_000, 20_000), "time": 40.0,
        "batches": 8, "ft_dt": 0.0025, "ft_traj": 100_000, "n_bootstrap": 400}
QUICK = {"dts": (0.02, 0.01), "traj": (5_000, 10_000), "time": 20.0,
         "batches": 4, "ft_dt": 0.005, "ft_traj": 20_000, "n_bootstrap": 200}
# Full: the numbers.  Quick (NT = 2e5 trajectory-time units at dt = 0.01, 2e4 FT
# samples): the measured noise levels are TV ~ 0.0045 (+ ~0.004 dt bias at dt = 0.01), current
# L2 ~ 0.04, EPR standard error ~ 0.3 %, DFT slope standard error ~ 0.02; each quick threshold
# is the tolerance widened to at least ~3-4 of these standard errors.
THRESHOLDS = {
    "full": {"tv": 0.01, "current_l2": 0.05, "epr_rel": 0.02, "dft": 0.05, "ift_z": 3.0},
    "quick": {"tv": 0.02, "current_l2": 0.10, "epr_rel": 0.03, "dft": 0.08, "ift_z": 3.0},
}
RESOLVED_FRACTION, RESOLVED_REL_STDERR = 0.2, 0.25


PROBLEM = fp.models.RotatingDoubleWell(OMEGA)
potential, rotation = PROBLEM.potential, PROBLEM.rotation
diffusion, diffusion_divergence = PROBLEM.diffusion, PROBLEM.diffusion_divergence


def make_model():
    return PROBLEM.model


def grid_reference(model, n):
    """Stationary solution, current and entropy production rate on an ``n x n`` grid.

    The box keeps the corner density above ~1e-11 of the maximum: ``solve_stationary`` at
    commit 120b7aa pins the cell with the largest inflow/outflow ratio, a far-tail corner cell
    for this quartic potential, and in larger boxes (``[-2.2, 2.2] x [-4, 4]`` and beyond) its
    pinned direct solve returns a negative multiple of the density ("total mass -2e14").  The
    bordered direct solve that replaces the pin has no such limit; this box works with both.
    """
    grid = fp.CartesianGrid(BOX, (n, n))
    res = fp.solve_stationary(fp.FokkerPlanckOperator(grid, model))
    return {"grid": grid, "result": res, "J": fp.probability_current(res).cells,
            "epr": fp.entropy_production_rate(res), "residual": res.residual,
            "converged": res.converged}


def coarse(a, factor):
    """Means over ``factor x factor`` blocks of the last two axes."""
    n0, n1 = a.shape[-2] // factor, a.shape[-1] // factor
    return a.reshape(a.shape[:-2] + (n0, factor, n1, factor)).mean(axis=(-3, -1))


def sample_grid_density(res, n, rng):
    """``n`` points from the grid density: a cell by its mass, then uniform inside it."""
    grid = res.grid
    mass = (res.p * grid.cell_volume).ravel()
    cells = rng.choice(mass.size, size=n, p=mass / mass.sum())
    idx = np.unravel_index(cells, grid.shape)
    return np.column_stack([lo + (i + rng.random(n)) * h
                            for (lo, _), i, h in zip(grid.bounds, idx, grid.spacing)])


def system_part(res, x0, x1):
    """``ln p_ss(x0) - ln p_ss(x1)`` with the grid density, through the public estimator (a
    zero force leaves only the system part)."""
    pos = np.stack([x0, x1])
    out = fp.stochastic_entropy_production(pos, dt=1.0, p_ss=res, force=np.zeros_like,
                                           window=1)
    return out.system[0]


def ensemble(model, ref, dt, n_traj, t_total, batches, seed, fields):
    """Independent batches at step ``dt``: per-trajectory ``dS_tot / T`` and, with ``fields``,
    the batch histograms and cell currents on the ``N_HIST`` grid."""
    grid, res = ref["grid"], ref["result"]
    hist_grid = fp.CartesianGrid(BOX, (N_HIST, N_HIST))
    n_steps = round(t_total / dt)
    rates, dens, curr = [], [], []
    for ss in np.random.SeedSequence(seed).spawn(batches):
        rng = np.random.default_rng(ss)
        x0 = sample_grid_density(res, n_traj // batches, rng)
        obs = [RunningEntropy.from_model(model, grid)]
        if fields:
            obs += [Histogram(hist_grid, every=5), CellCurrent(hist_grid)]
        out = fp.simulate(model, x0, grid=grid, dt=dt, n_steps=n_steps, rng=ss,
                          record_every=n_steps, observables=obs)
        total = out.observables["entropy"].total + system_part(res, x0, out.positions[-1])
        rates.append(total / (n_steps * dt))
        if fields:
            dens.append(out.observables["histogram"].density())
            curr.append(out.observables["current"].current())
    rates = np.concatenate(rates)
    run = {"dt": dt, "n_traj": int(rates.size), "tau": n_steps * dt, "rate": float(rates.mean()),
           "stderr": float(rates.std(ddof=1) / np.sqrt(rates.size))}
    return run, (np.array(dens), np.array(curr)) if fields else None


def density_check(ref, dens, factor):
    """TV distance of the batch-mean histogram from the coarse-grained grid density, and its
    noise floor ``0.5 sum sqrt(2/pi) se_i V`` (expected TV of pure noise)."""
    V = ref["grid"].cell_volume * factor ** 2
    p_ref = coarse(ref["result"].p, factor)
    p_mc = dens.mean(axis=0)
    se = dens.std(axis=0, ddof=1) / np.sqrt(dens.shape[0])
    return {"tv": float(0.5 * np.abs(p_mc - p_ref).sum() * V),
            "tv_noise_floor": float(0.5 * np.sqrt(2 / np.pi) * se.sum() * V)}, p_mc, p_ref


def current_check(ref, curr, factor):
    """Relative L2 distance of the batch-mean cell current from the coarse-grained grid current
    over the resolved cells (see the module docstring)."""
    J_ref = coarse(ref["J"], factor)
    J_mc = curr.mean(axis=0)
    se = np.sqrt((curr.var(axis=0, ddof=1) / curr.shape[0]).sum(axis=0))   # |se| per cell
    mag = np.hypot(*J_ref)
    resolved = (mag >= RESOLVED_FRACTION * mag.max()) & (se <= RESOLVED_REL_STDERR * mag)
    norm = np.sum(mag[resolved] ** 2)
    l2 = np.sqrt(np.sum((J_mc - J_ref)[:, resolved] ** 2) / norm)
    noise = np.sqrt(np.sum(se[resolved] ** 2) / norm)
    stats = {"l2": float(l2), "l2_noise_level": float(noise),
             "l2_beyond_noise": float(np.sqrt(max(l2 ** 2 - noise ** 2, 0.0))),
             "resolved_cells": int(resolved.sum()),
             "cells_above_fraction": int((mag >= RESOLVED_FRACTION * mag.max()).sum()),
             "resolved_share_of_current": float(mag[resolved].sum() / mag.sum())}
    return stats, J_mc, J_ref, resolved


def fluctuation_windows(model, ref, cfg, seed):
    """Windows ``[0, k tau_1]``, ``k = 1, 2, 4``, one per trajectory, from the grid density."""
    grid, res, dt = ref["grid"], ref["result"], cfg["ft_dt"]
    w1 = round(TARGET_MEANS[0] / ref["epr"] / dt)
    rng = np.random.default_rng(seed)
    x0 = sample_grid_density(res, cfg["ft_traj"], rng)
    out = fp.simulate(model, x0, grid=grid, dt=dt, n_steps=4 * w1, rng=seed, record_every=w1,
                      observables=[RunningEntropy.from_model(model, grid, every=w1)])
    medium = out.observables["entropy"].snapshots
    windows, samples = [], []
    for k in (1, 2, 4):
        ds = medium[k - 1] + system_part(res, x0, out.positions[k])
        ft = fp.fluctuation_test(ds, n_bootstrap=cfg["n_bootstrap"], rng=seed + k,
                                 alpha=ALPHA_WINDOW)
        windows.append({"tau": k * w1 * dt, "expected_mean": ref["epr"] * k * w1 * dt,
                        "n": ft.n, "mean": ft.mean, "var": ft.var,
                        "gaussian_check": ft.gaussian_check, "ift": ft.ift.value,
                        "ift_stderr": ft.ift.stderr, "ift_z": ft.ift_z,
                        "ift_bootstrap_ci": list(ft.ift.bootstrap_ci),
                        "ift_tail_index": ft.ift_tail_index,
                        "z_reliable": bool(ft.ift_tail_index > 2.0),
                        "dft_slope": ft.dft_slope.value, "dft_stderr": ft.dft_slope.stderr,
                        "dft_reduced_chi2": ft.dft_slope.reduced_chi2,
                        "symmetry": ft.symmetry.value, "symmetry_stderr": ft.symmetry.stderr,
                        "symmetry_z": ft.symmetry_z, "p_value": ft.p_value, "alpha": ft.alpha,
                        "passed": ft.verdict.passed, "verdict": ft.verdict.message})
        samples.append((ds, ft.dft_points))
    return windows, samples


def verdict(measured, threshold) -> dict:
    return {"measured": float(measured), "threshold": float(threshold),
            "ratio": float(measured / threshold), "passed": bool(measured <= threshold)}


IFT_NOTE = ("z = (ift - 1) / CLT stderr of this seeded run. The two-sided z-test is only "
            "reliable where ift_tail_index (Hill estimate of the tail exponent of exp(-dS)) "
            "exceeds 2, i.e. where exp(-dS) has a finite variance; verdicts.ift_z is max |z| "
            "over those windows. Below 2 the CLT error bar is too small and z < -3 happens in "
            "several per cent of seeds although the IFT holds. The upper side z <= 3 stays "
            "meaningful for every window (a heavy right tail drags the sample mean down; one "
            "large value raises the mean and its standard error together) and is checked on "
            "all windows.")


def epr_extrapolation(model, ref, cfg, seeds):
    """Rates at every step size and their extrapolation; histograms and currents of the
    smallest step (in batches)."""
    runs, fields = [], None
    for dt, n_traj, seed in zip(cfg["dts"], cfg["traj"], seeds):
        smallest = dt == min(cfg["dts"])
        run, f = ensemble(model, ref, dt, n_traj, cfg["time"],
                          cfg["batches"] if smallest else 1, int(seed), smallest)
        runs.append(run)
        fields = f if smallest else fields
    fit = fp.extrapolate_to_zero_dt([r["dt"] for r in runs], [r["rate"] for r in runs],
                                    [r["stderr"] for r in runs])
    rel = (fit.value - ref["epr"]) / ref["epr"]
    return {"extrapolated": fit.value, "stderr": fit.stderr, "rel_error": rel,
            "rel_stderr": fit.stderr / ref["epr"], "reduced_chi2": fit.reduced_chi2,
            "runs": runs}, fields


def grid_summary(ref, ref_coarse, p_ref, factor) -> dict:
    """The reference and its error estimate from the 128^2 solution."""
    tv = 0.5 * np.abs(coarse(ref_coarse["result"].p, factor // 2) - p_ref).sum() \
        * ref["grid"].cell_volume * factor ** 2
    rel = (ref_coarse["epr"] - ref["epr"]) / ref["epr"]
    return {"n": N_REF, "epr": ref["epr"], "residual": ref["residual"],
            "converged": ref["converged"],
            "coarse_128": {"epr": ref_coarse["epr"], "epr_rel_diff": rel,
                           "tv_vs_reference": float(tv)},
            "epr_error_estimate": abs(rel) / 3.0}      # second order: e_256 ~ (e_128 - e_256)/3


def verdicts_of(thr, dens, cur, epr, windows) -> dict:
    """Every claim against the mode's threshold; the fluctuation theorems by fluctuation_test's
    significance verdict in every window (ratio = alpha / min p-value <= 1)."""
    min_p = min(w["p_value"] for w in windows)
    return {"tv": verdict(dens["tv"], thr["tv"]),
            "current_l2": verdict(cur["l2"], thr["current_l2"]),
            "epr": verdict(abs(epr["rel_error"]), thr["epr_rel"]),
            "fluctuation": {"measured": min_p, "threshold": ALPHA_WINDOW,
                            "ratio": ALPHA_WINDOW / min_p if min_p > 0 else float("inf"),
                            "passed": all(w["passed"] for w in windows)}}


def diagnostics_of(thr, windows) -> dict:
    """The former IFT/DFT claims, reported against their old thresholds, not checked: the IFT z
    only where it is reliable (tail index > 2)."""
    reliable = [abs(w["ift_z"]) for w in windows if w["z_reliable"]]
    return {"dft": verdict(max(abs(w["dft_slope"] - 1.0) for w in windows), thr["dft"]),
            "ift_z": verdict(max(reliable) if reliable else 0.0, thr["ift_z"])}


def main(quick: bool = False) -> dict:
    t0 = time.perf_counter()
    mode = "quick" if quick else "full"
    cfg, thr = (QUICK if quick else FULL), THRESHOLDS[mode]
    model = make_model()
    ref, ref_coarse = grid_reference(model, N_REF), grid_reference(model, N_COARSE_REF)
    t_grid, factor = time.perf_counter() - t0, N_REF // N_HIST
    seeds = np.random.SeedSequence(SEED).generate_state(len(cfg["dts"]) + 1)
    epr, (dens, curr) = epr_extrapolation(model, ref, cfg, seeds)
    dens_stats, p_mc, p_ref = density_check(ref, dens, factor)
    cur_stats, J_mc, J_ref, resolved = current_check(ref, curr, factor)
    t_mc = time.perf_counter() - t0 - t_grid
    windows, samples = fluctuation_windows(model, ref, cfg, int(seeds[-1]))
    verdicts = verdicts_of(thr, dens_stats, cur_stats, epr, windows)
    return {
        "mode": mode, "seed": SEED, "thresholds": thr, "verdicts": verdicts,
        "all_passed": all(v["passed"] for v in verdicts.values()),
        "grid": grid_summary(ref, ref_coarse, p_ref, factor),
        "epr": epr, "density": dens_stats, "current": cur_stats,
        "windows": windows,
        "fluctuation_verdict": {"alpha_per_window": ALPHA_WINDOW,
                                "p_value": [w["p_value"] for w in windows],
                                "min_p_value": min(w["p_value"] for w in windows),
                                "symmetry_z": [w["symmetry_z"] for w in windows],
                                "passed": [w["passed"] for w in windows]},
        "diagnostics": diagnostics_of(thr, windows),
        "window_tau": [w["tau"] for w in windows],
        "ift_z": [w["ift_z"] for w in windows],
        "ift_tail_index": [w["ift_tail_index"] for w in windows],
        "ift_z_reliable": [w["z_reliable"] for w in windows],
        "ift_n_reliable": sum(w["z_reliable"] for w in windows),
        "ift_note": IFT_NOTE,
        "dft_slope": [w["dft_slope"] for w in windows],
        "seconds": {"grid": t_grid, "ensembles": t_mc,
                    "fluctuation": time.perf_counter() - t0 - t_grid - t_mc,
                    "total": time.perf_counter() - t0},
        "_data": {"centers": fp.CartesianGrid(BOX, (N_HIST, N_HIST)).cell_centers(),
                  "p_mc": p_mc, "p_ref": p_ref, "J_mc": J_mc, "J_ref": J_ref,
                  "resolved": resolved, "samples": samples},
    }
