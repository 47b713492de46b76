"""regression-wor: SGD without replacement (WOR) on the paper's tanh regression, against WR.

Adhikari et al., "Machine learning in and out of equilibrium" (arXiv 2306.03521): the network of
``regression-wr`` (N = 200, B = 10, an epoch = R = 20 steps) trained with minibatches drawn
without replacement.  At several learning rates around the paper's eta = 1e-7:

* stationary mean of WOR SGD (sampled at epoch boundaries) against the minimizer of the
  effective loss ``L + (eta / 4) (N - B) / (B (N - 1)) tr Sigma_g`` (``wor_stationary_mean``),
  and the WR stationary mean, which is shifted too -- at the same order, by the cubic part of
  the loss (``wr_stationary_shift``);
* one-epoch displacement covariance from the minimum: ~ eta^4 without, ~ eta^2 with
  replacement (fitted slopes);
* stationary covariance: WOR (~ eta^3, from the epoch map with ``wor_leading_diffusion``) against WR
  (~ eta, ``Sigma_disc``).
"""

from __future__ import annotations

import time

import numpy as np

from fpsolve.learning import paper_regression
from fpsolve.learning.studies import (
    epoch_noise_scaling,
    loglog_slope,
    regression_problem,
    stationary_chunks,
    stationary_run,
    wr_stationary_shift,
)
from fpsolve.learning.theory.wor import wor_leading_diffusion, wor_stationary_mean
from fpsolve.linear import discrete_stationary_covariance

SEED = 0
ETAS = (1e-7, 2e-7, 4e-7, 8e-7)   # the paper's eta and up: eta R lambda_max = 0.055 ... 0.44
# one-epoch noise from the minimum: small eta R lambda_max (0.014 ... 0.11), where the leading
# orders eta^4 (WOR) and eta^2 (WR) dominate
EPOCH_ETAS = (2.5e-8, 5e-8, 1e-7, 2e-7)
# chains and length (in relaxation times 1 / (eta lambda_min)) of the stationary runs; the WR
# runs, whose spread is O(eta) instead of O(eta^3), only at the larger etas in quick mode
CONFIG = {
    True: {"wor_chains": 8, "wor_relax": 12, "wr_chains": 32, "wr_relax": 24,
           "wr_etas": (4e-7, 8e-7), "n_perm": 2048},
    False: {"wor_chains": 16, "wor_relax": 40, "wr_chains": 32, "wr_relax": 80,
            "wr_etas": (2e-7, 4e-7, 8e-7), "n_perm": 8192},
}
BURN_IN_RELAXATIONS = 12    # e^-12 = 6e-6 of the start's offset is left in the mean
RECORD_CHUNK = 1024         # recorded points (epochs) per chunk


def theory_at(problem, eta) -> dict:
    """WOR fixed point, WR shift, WR and WOR stationary covariances at ``eta``."""
    th = problem.theory(eta)
    R = problem.data.N // problem.batch_size
    wor = wor_stationary_mean(problem.model, problem.data, problem.w, eta=eta,
                              batch_size=problem.batch_size)
    D_wor = wor_leading_diffusion(problem.model, problem.data, wor.w, eta=eta,
                          batch_size=problem.batch_size, n_perm=4096, rng=3)
    Me = np.linalg.matrix_power(np.eye(problem.w.size) - eta * problem.H, R)
    return {"eta": eta, "wor_shift": wor.w - problem.w, "wor_converged": wor.converged,
            "wr_shift": wr_stationary_shift(problem, th.Sigma_disc),
            "Sigma_wr": th.Sigma_disc,
            "Sigma_wor": discrete_stationary_covariance(Me, 2 * D_wor)}


def run_schedule(problem, eta, schedule, n_chains, relax, rng):
    """Stationary run from the minimum, recorded every epoch (R steps)."""
    R = problem.data.N // problem.batch_size
    lam_min = np.linalg.eigvalsh(problem.H)[0]
    tau = 1 / (eta * lam_min)
    chunk = R * RECORD_CHUNK
    burn = R * int(np.ceil(BURN_IN_RELAXATIONS * tau / R))
    n_chunks = max(2, int(np.ceil(relax * tau / chunk)))
    chunks = stationary_chunks(problem, eta=eta, n_chains=n_chains, burn_in=burn,
                               n_steps=n_chunks * chunk, chunk=chunk, schedule=schedule,
                               record_every=R, rng=rng)
    run = stationary_run(problem, chunks, n_chunks=n_chunks, n_cloud=4000)
    return run, (burn + n_chunks * chunk) * n_chains


def compare_mean(run, predicted) -> dict:
    """Measured stationary mean shift against a predicted one."""
    m, se = run.mean()
    return {"shift": m, "stderr": se, "predicted": predicted,
            "norm": float(np.linalg.norm(m)), "predicted_norm": float(np.linalg.norm(predicted)),
            "rel_err": float(np.linalg.norm(m - predicted) / np.linalg.norm(predicted)),
            "max_abs_z": float(np.abs((m - predicted) / se).max()),
            "rel_stderr": float(np.linalg.norm(se) / np.linalg.norm(predicted))}


def compare_covariance(run, predicted) -> dict:
    """Measured stationary covariance against a predicted one (trace stderr from chains)."""
    S, _ = run.covariance()
    d, C = run.d, run.sum_uu.shape[0]
    m = run.sum_u[:, :d].sum(axis=0) / (run.n_pairs * C)
    traces = np.einsum("cii->c", run.sum_uu[:, :d, :d]) / run.n_pairs - m @ m
    se = traces.std(ddof=1) / np.sqrt(C)
    return {"trace": float(np.trace(S)), "predicted_trace": float(np.trace(predicted)),
            "trace_ratio": float(np.trace(S) / np.trace(predicted)),
            "trace_ratio_stderr": float(se / np.trace(predicted)),
            "rel_err": float(np.linalg.norm(S - predicted) / np.linalg.norm(predicted))}


def main(quick: bool = False) -> dict:
    cfg = CONFIG[quick]
    t0 = time.perf_counter()
    problem = regression_problem(paper_regression(SEED))
    per_eta, data, steps = [], {}, 0
    for i, eta in enumerate(ETAS):
        th = theory_at(problem, eta)
        run, n = run_schedule(problem, eta, "wor", cfg["wor_chains"], cfg["wor_relax"], 10 + i)
        steps += n
        entry = {"eta": eta, "wor_mean": compare_mean(run, th["wor_shift"]),
                 "wor_mean_vs_wr_theory": compare_mean(run, th["wr_shift"]),
                 "wor_covariance": compare_covariance(run, th["Sigma_wor"]),
                 "wr_covariance_theory_trace": float(np.trace(th["Sigma_wr"])),
                 "wor_theory_shift_norm": float(np.linalg.norm(th["wor_shift"])),
                 "wr_theory_shift_norm": float(np.linalg.norm(th["wr_shift"])),
                 "cos_wor_wr_theory_shift": float(th["wor_shift"] @ th["wr_shift"] / (
                     np.linalg.norm(th["wor_shift"]) * np.linalg.norm(th["wr_shift"])))}
        data[eta] = {"wor_cloud": run.cloud, **th}
        if eta in cfg["wr_etas"]:
            wr, n = run_schedule(problem, eta, "wr", cfg["wr_chains"], cfg["wr_relax"], 20 + i)
            steps += n
            entry["wr_mean"] = compare_mean(wr, th["wr_shift"])
            entry["wr_mean_vs_wor_theory"] = compare_mean(wr, th["wor_shift"])
            entry["wr_covariance"] = compare_covariance(wr, th["Sigma_wr"])
            data[eta]["wr_cloud"] = wr.cloud
        per_eta.append(entry)
    out = {"data": f"paper_regression({SEED})", "quick": quick, "etas": list(ETAS),
           "epoch_R": problem.data.N // problem.batch_size, "minimum": problem.w,
           "per_eta": per_eta, "total_sgd_steps": steps}
    out["summary"] = summarize(per_eta, cfg)
    out["epoch_noise"] = epoch_numbers(problem, cfg)
    out["seconds"] = time.perf_counter() - t0
    out["_data"] = {"per_eta": data, "w": problem.w}
    return out


def summarize(per_eta, cfg) -> dict:
    """Worst agreements over eta and the fitted eta exponents."""
    eta = [e["eta"] for e in per_eta]
    wor_norm = [e["wor_mean"]["norm"] for e in per_eta]
    wor_tr = [e["wor_covariance"]["trace"] for e in per_eta]
    out = {"wor_mean_max_rel_err": max(e["wor_mean"]["rel_err"] for e in per_eta),
           "wor_mean_rel_err": [e["wor_mean"]["rel_err"] for e in per_eta],
           "wor_mean_rel_err_slope": loglog_slope(eta, [e["wor_mean"]["rel_err"]
                                                        for e in per_eta])[0],
           "wor_mean_vs_wr_theory_min_abs_z": min(e["wor_mean_vs_wr_theory"]["max_abs_z"]
                                                  for e in per_eta),
           "wor_shift_slope": loglog_slope(eta, wor_norm)[0],
           "wor_covariance_slope": loglog_slope(eta, wor_tr)[0],
           "wor_covariance_trace_ratios": [e["wor_covariance"]["trace_ratio"] for e in per_eta],
           "wr_over_wor_covariance_trace": [e["wr_covariance_theory_trace"]
                                            / e["wor_covariance"]["trace"] for e in per_eta]}
    out["wr_over_wor_covariance_slope"] = loglog_slope(eta, out["wr_over_wor_covariance_trace"])[0]
    wr = [e for e in per_eta if "wr_mean" in e]
    out["wr_mean_max_abs_z"] = max(e["wr_mean"]["max_abs_z"] for e in wr)
    out["wr_mean_rel_err"] = [e["wr_mean"]["rel_err"] for e in wr]
    out["wr_shift_over_wor_shift"] = [e["wr_mean"]["norm"] / e["wor_mean"]["norm"] for e in wr]
    out["wr_covariance_trace_ratios"] = [e["wr_covariance"]["trace_ratio"] for e in wr]
    if len(wr) > 1:
        out["wr_covariance_slope"] = loglog_slope([e["eta"] for e in wr],
                                                  [e["wr_covariance"]["trace"] for e in wr])[0]
    return out


def epoch_numbers(problem, cfg) -> dict:
    """One-epoch displacement covariance from the minimum: WOR ~ eta^4, WR ~ eta^2."""
    sc = epoch_noise_scaling(problem, EPOCH_ETAS, n_perm=cfg["n_perm"], rng=40)
    sc["wor_slope"], sc["wor_slope_stderr"] = loglog_slope(sc["eta"], sc["wor"])
    sc["wr_slope"], sc["wr_slope_stderr"] = loglog_slope(sc["eta"], sc["wr"])
    sc["wor_over_wr"] = list(np.divide(sc["wor"], sc["wr"]))
    return sc
