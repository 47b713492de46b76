"""regression-slice: SGD on a two-parameter slice of the paper's regression network.

The tanh network (hidden=2, s=0.1, lam=1e-3) on ``paper_regression()`` (N=200), B=10, SGD with
replacement in two parameters (the others frozen at the minimum).  For each learning rate the
grid solution of the slice Fokker-Planck model (``fpsolve.learning.slices``) and the Gaussian
theory are compared with long SGD runs: histogram total-variation distance, mean, covariance,
probability current and entropy production.  The pair is the one whose Gaussian theory has the
largest entropy production per step (strongest non-equilibrium).
"""

from __future__ import annotations

import time
import warnings
from itertools import combinations

import numpy as np

import fpsolve as fp
from fpsolve.errors import PositivityWarning
from fpsolve.learning import (RegressionNetwork, find_minimum, gaussian_theory,
                              minibatch_diffusion, paper_regression)
from fpsolve.learning import sgd_fokker_planck, slice_sgd, slice_total_variation as total_variation

W0 = np.array([1.3, 1.2, 0.7, -0.7, 1.0, -1.0, 0.0])
B, BINS, N_CHAINS, SEED = 10, 16, 64, 2024
QUICK = {"etas": [1e-6, 1e-5, 3e-5, 1e-4], "relax": 200, "n_cells": 64}
FULL = {"etas": [1e-7, 3e-7, 1e-6, 3e-6, 1e-5, 3e-5, 1e-4], "relax": 1000, "n_cells": 128}
PLOT_ETAS = (1e-5, 1e-4)


def rank_pairs(H, D, eta) -> list:
    """Every pair with its Gaussian entropy production per step and ``||H D - D H||``."""
    out = []
    for pair in combinations(range(H.shape[0]), 2):
        h, d = H[np.ix_(pair, pair)], D[np.ix_(pair, pair)]
        out.append({"free": list(pair), "epr": gaussian_theory(h, d, eta).entropy_production,
                    "commutator": float(np.linalg.norm(h @ d - d @ h))})
    return sorted(out, key=lambda r: -r["epr"])


def gaussian(grid, mean, cov):
    x = grid.cell_centers() - np.reshape(mean, (2, 1, 1))
    q = np.exp(-0.5 * np.einsum("iab,ij,jab->ab", x, np.linalg.inv(cov), x))
    return q / (q.sum() * grid.cell_volume)


def moments(grid, p):
    """Mean and covariance of cell values ``p`` (normalized over the box)."""
    x = grid.cell_centers()
    w = p / p.sum()
    mean = np.einsum("iab,ab->i", x, w)
    dx = x - mean[:, None, None]
    return mean, np.einsum("iab,jab,ab->ij", dx, dx, w)


def block_mean(sgd, grid):
    """SGD mean and its standard error from the spread over the independent chain blocks."""
    means = np.array([moments(grid, c.astype(float))[0] for c in sgd.counts])
    return means.mean(0), means.std(0, ddof=1) / np.sqrt(len(means))


def current_scale(sgd, J):
    """``beta = <J_sgd, J_grid> / <J_grid, J_grid>`` per block: mean and standard error."""
    blocks = sgd.current_sums / (sgd.block_steps[:, None, None, None] * sgd.grid.cell_volume)
    beta = np.einsum("bkij,kij->b", blocks, J) / np.sum(J * J)
    return float(beta.mean()), float(beta.std(ddof=1) / np.sqrt(len(beta)))


def solve(net, data, w_star, pair, eta, n_cells, grid=None, approximation="covariance"):
    """Problem, stationary result and the number of cells with negative bond weights."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PositivityWarning)
        prob = sgd_fokker_planck(net, data, free=pair, at=w_star, eta=eta, batch_size=B,
                                 n_cells=n_cells, grid=grid, approximation=approximation)
        res = prob.solve()
    bad = [w for w in caught if issubclass(w.category, PositivityWarning)]
    return prob, res, (int(str(bad[0].message).split(": ")[1].split()[0]) if bad else 0)


def run_eta(net, data, w_star, pair, eta, cfg) -> dict:
    """Grid solutions (three approximations) and slice SGD at one learning rate."""
    t0 = time.perf_counter()
    prob, res, bad = solve(net, data, w_star, pair, eta, cfg["n_cells"])
    t_grid = time.perf_counter() - t0
    _, res2, bad2 = solve(net, data, w_star, pair, eta, None, prob.grid, "second-moment")
    _, res3, bad3 = solve(net, data, w_star, pair, eta, None, prob.grid, "modified")
    lam = np.linalg.eigvalsh(prob.theory.H)
    n_steps = int(np.ceil(cfg["relax"] / (eta * lam[0])))
    t0 = time.perf_counter()
    sgd = slice_sgd(net, data, prob, n_steps=n_steps, n_chains=N_CHAINS, rng=SEED,
                    stationary=res)
    out = {"eta": eta, "eta_lambda_max": float(eta * lam[-1]),
           "grid_shape": list(prob.grid.shape), "n_steps": n_steps, "n_chains": N_CHAINS,
           "burn_in": int(np.ceil(4 / (eta * lam[0]))), "seconds_grid": t_grid,
           "seconds_sgd": time.perf_counter() - t0, "residual": res.residual,
           "negative_weight_cells": {"grid": bad, "grid_second": bad2, "grid_modified": bad3},
           "outside": sgd.outside}
    out.update(compare(prob, sgd, {"grid": res, "grid_second": res2, "grid_modified": res3}))
    return out


def compare(prob, sgd, results) -> dict:
    """TV distances, moments, entropy production and current of the grid solutions vs SGD."""
    th, g, res = prob.theory, prob.grid, results["grid"]
    dens = {k: r.p for k, r in results.items()}
    dens.update(gauss=gaussian(g, prob.center, th.Sigma),
                gauss_disc=gaussian(g, prob.center, th.Sigma_disc))
    tv = {k: sgd.total_variation(q, bins=BINS)[0] for k, q in dens.items()}
    noise = sgd.total_variation(res.p, bins=BINS)[1]
    sig, (m_sgd, m_se) = np.sqrt(np.diag(th.Sigma)), block_mean(sgd, g)
    mom = {k: moments(g, q) for k, q in dens.items()}
    mom.update(gauss=(prob.center, th.Sigma), gauss_disc=(prob.center, th.Sigma_disc))
    c_sgd = moments(g, sgd.density)[1]
    rate, se = sgd.entropy_production()
    J = fp.probability_current(res).cells
    beta, beta_se = current_scale(sgd, J)
    epr = fp.entropy_production_rate(res)
    return {
        "tv": tv, "tv_noise": noise, "tv_over_noise": {k: v / noise for k, v in tv.items()},
        "tv_ratio": {"grid_to_gauss": tv["grid"] / tv["gauss"],
                     "modified_to_gauss_disc": tv["grid_modified"] / tv["gauss_disc"]},
        "mean_shift_sigma": {"sgd": (m_sgd - prob.center) / sig, "sgd_se": m_se / sig,
                             **{k: (mom[k][0] - prob.center) / sig
                                for k in ("grid", "grid_modified")}},
        "mean_z": {k: float(np.max(np.abs(mom[k][0] - m_sgd) / m_se))
                   for k in ("grid", "grid_modified", "gauss")},
        "cov_rel_error": {k: float(np.linalg.norm(m[1] - c_sgd) / np.linalg.norm(c_sgd))
                          for k, m in mom.items()},
        "epr": {"grid": epr, "grid_field": fp.entropy_production_rate(res, method="field"),
                "grid_modified": fp.entropy_production_rate(results["grid_modified"]),
                "gauss": th.entropy_production, "gauss_exact_chain": th.entropy_production_exact,
                "sgd": rate, "sgd_se": se, "z_grid": (rate - epr) / se,
                "z_gauss": (rate - th.entropy_production) / se},
        "current_beta": beta, "current_beta_se": beta_se, "current_z": (beta - 1) / beta_se,
        "_fields": (g, res.p, J, sgd.density, sgd.current),
    }


def discretization_tv(net, data, w_star, pair, eta, n_cells) -> float:
    """TV between the grid solution and the one on the twice refined grid (cell pairs summed):
    the discretization error of the grid densities, to set against the TV noise level."""
    prob, res, _ = solve(net, data, w_star, pair, eta, n_cells)
    _, fine, _ = solve(net, data, w_star, pair, eta, None, prob.grid.refined(2))
    n0, n1 = prob.grid.shape
    return total_variation(res.p, fine.p.reshape(n0, 2, n1, 2).mean((1, 3)), prob.grid)


def main(quick: bool = False) -> dict:
    cfg = QUICK if quick else FULL
    start = time.perf_counter()
    net, data = RegressionNetwork(), paper_regression()
    minimum = find_minimum(net, data, W0)
    D = minibatch_diffusion(net, data, minimum.w, eta=1e-5, batch_size=B)
    ranking = rank_pairs(minimum.H, D, 1e-5)
    pair = tuple(ranking[0]["free"])
    runs = [run_eta(net, data, minimum.w, pair, eta, cfg) for eta in cfg["etas"]]
    per_eta = {f"{r['eta']:.0e}": {k: v for k, v in r.items() if k != "_fields"} for r in runs}
    data_out = {"etas": cfg["etas"], "tv": {k: [r["tv"][k] for r in runs] for k in runs[0]["tv"]},
                "tv_noise": [r["tv_noise"] for r in runs],
                "epr": {k: [r["epr"][k] for r in runs]
                        for k in ("grid", "grid_modified", "gauss", "sgd", "sgd_se")},
                "mean": {k: [r["mean_shift_sigma"][k][0] for r in runs]
                         for k in ("sgd", "sgd_se", "grid", "grid_modified")},
                "fields": {f"{r['eta']:.0e}": r["_fields"] for r in runs if r["eta"] in PLOT_ETAS},
                "pair": pair}
    return {
        "pair": list(pair), "pair_ranking": ranking[:5], "w_star": minimum.w,
        "config": {**cfg, "batch_size": B, "bins": BINS, "seed": SEED},
        "per_eta": per_eta, "_data": data_out,
        "discretization_tv_1e-05": discretization_tv(net, data, minimum.w, pair, 1e-5,
                                                     cfg["n_cells"]),
        "seconds": time.perf_counter() - start,
    }
