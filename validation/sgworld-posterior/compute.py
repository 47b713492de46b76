"""sgworld-posterior: ULA, SGLD, SGLDCV and SGWORLD against exact posteriors.

1. Bayesian linear regression with heterogeneous inputs (exact Gaussian posterior), d = 2 and
   d = 10, (N, B) = (1000, 10) and (1000, 50): stationary moments of each sampler (exact for
   ULA, SGLD, SGLDCV; Monte Carlo over permutations with jackknife errors for SGWORLD) give KL,
   relative covariance error and W2 over four decades of eta; the issue's targets are evaluated.
2. 2-D Bayesian logistic regression (non-Gaussian posterior, exact by quadrature): histograms
   of every sampler against it (TV, KL) vs eta.
3. Grid validation: the Fokker-Planck models of SGLD and SGWORLD solved on a grid match the
   samplers' histograms; SGLD's stationary state carries a current, SGWORLD's is at
   equilibrium to the order predicted.
4. Scope (scope.py): the 1-D heterogeneous, 2-D correlated and 10-D heteroscedastic designs of
   benchmarks/bench_sampler_scope.py with midpoint SGWORLD added -- covariance error vs eta and
   fitted slopes for every sampler, the midpoint's targets (covariance error <= ULA's and
   >= 10 x below SGWORLD's, slope 2, KL <= 1e-4 up to >= 10 x SGLD's eta), and chains of
   ``sample("midpoint-sgworld", ...)`` against its exact moments and SGWORLD's.
"""

from __future__ import annotations

import contextlib
import time

import numpy as np

import fpsolve as fp
from fpsolve.errors import FpsolveError
from fpsolve.learning import LinearRegression, SoftmaxRegression, find_minimum
from fpsolve.learning.diagnostics import effective_sample_size, histogram_distances, rhat
from fpsolve.learning.posteriors import (
    first_order_bias,
    gaussian_posterior,
    grid_posterior,
    moment_errors,
    sampler_fokker_planck_model,
    stationary_moments,
)
from fpsolve.learning.dynamics.samplers import sample
from fpsolve.validation_registry import sibling_module

sc = sibling_module(__file__, "scope")     # part 4: scope designs, midpoint SGWORLD, chains
kl_threshold_eta = sc.kl_threshold_eta

SMALL = 0.1            # the small-step region: R eta lambda_max <= 0.1
COV_RATIO_ULA = 1.1    # SGWORLD's covariance error at most 1.1 x ULA's there
KL_ETA_RATIO = 10.0    # largest eta with KL <= 1e-4: SGWORLD at least 10 x SGLD's
CONFIGS = [dict(d=2, N=1000, B=10), dict(d=10, N=1000, B=10),
           dict(d=2, N=1000, B=50), dict(d=10, N=1000, B=50)]
GAUSSIAN = [("ULA", "ula", "epoch"), ("SGLD", "sgld", "epoch"), ("SGLDCV", "sgldcv", "epoch"),
            ("SGWORLD (epoch)", "sgworld", "epoch"), ("SGWORLD (step)", "sgworld", "step")]


def _single_blas_thread():
    """BLAS on one thread: the d^2 x d^2 solves are small, and on a loaded 2-core machine a
    multi-threaded BLAS next to numba's threads spins (100 x slower); optional dependency."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


# ----------------------------------------------------------------------------- Gaussian part
def regression_data(d: int, N: int, seed: int = 0):
    """Heterogeneous inputs: per-sample scales uniform in [0.3, 2] times correlated normals
    (covariance eigenvalues 1 .. 0.3, random axes); y = x w + N(0, 1)."""
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.3, 2.0, size=(N, 1))
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    C = Q @ np.diag(np.linspace(1.0, 0.3, d)) @ Q.T
    x = scale * (rng.normal(size=(N, d)) @ np.linalg.cholesky(C).T)
    return x, x @ rng.normal(size=d) + rng.normal(size=N)


def loglog_slope(x, y, mask):
    pts = [(a, b) for a, b, m in zip(x, y, mask) if m and b is not None and b > 0]
    if len(pts) < 2:
        return None
    a, b = np.log(np.array(pts)).T
    return float(np.polyfit(a, b, 1)[0])


def gaussian_config(cfg: dict, quick: bool) -> dict:
    d, N, B = cfg["d"], cfg["N"], cfg["B"]
    R = N // B
    data, model = regression_data(d, N), LinearRegression(d, s=1.0, lam=1e-3)
    post = gaussian_posterior(model, data)
    lam = float(np.linalg.eigvalsh(post.precision)[-1])
    r = np.logspace(-3, 1, 9 if quick else 17)            # R eta lambda_max
    etas = r / (R * lam)
    n_perm = (512 if d > 2 else 1024) if quick else 4096
    out = {"d": d, "N": N, "B": B, "R": R, "lambda_max": lam, "eta": etas.tolist(),
           "r_eta_lambda": r.tolist(), "n_perm": n_perm, "samplers": {}}
    for label, name, record in GAUSSIAN:
        rows = []
        for eta in etas:
            try:
                mo = stationary_moments(name, model, data, eta=eta, batch_size=B, record=record,
                                        n_perm=n_perm, rng=1)
                rows.append(moment_errors(mo, post) | {"method": mo.method})
            except FpsolveError:                       # second moments diverge at this eta
                rows.append(None)
        keys = ["kl", "rel_cov_error", "w2", "whitened_cov_error", "mean_error"]
        out["samplers"][label] = {
            k: [None if row is None else row[k] for row in rows]
            for k in keys + [k + "_se" for k in keys]}
        out["samplers"][label]["method"] = next(row["method"] for row in rows if row)
    _targets(out, r, model, data, post)
    return out


def _targets(out, r, model, data, post):
    """The issue's targets, the first-order theory and fitted slopes, into ``out``."""
    S, R, B = out["samplers"], out["R"], out["B"]
    small = r <= SMALL * (1 + 1e-9)
    idx = np.flatnonzero(small)
    cov = {k: np.array(S[k]["rel_cov_error"], dtype=float) for k in S}
    se = {k: np.array(S[k]["rel_cov_error_se"], dtype=float) for k in S}
    wor = "SGWORLD (epoch)"
    sgld_ratio = cov["SGLD"][idx] / cov[wor][idx]
    ula_ratio = cov[wor][idx] / cov["ULA"][idx]
    eta_kl = {k: kl_threshold_eta(out["eta"], S[k]["kl"]) for k in S}
    ratio_kl = (eta_kl[wor][0] / eta_kl["SGLD"][0]
                if eta_kl[wor][0] and eta_kl["SGLD"][0] else None)
    out["eta_kl_1e-4"] = {k: {"eta": v[0], "bracketed": v[1]} for k, v in eta_kl.items()}
    out["targets"] = {
        "sgld_over_sgworld_cov": {"min": float(sgld_ratio.min()), "required_min": R / 2,
                                  "met": bool(sgld_ratio.min() >= R / 2)},
        "sgworld_over_ula_cov": {"max": float(ula_ratio.max()),
                                 "se_at_max": float((se[wor][idx] / cov["ULA"][idx])[
                                     np.argmax(ula_ratio)]),
                                 "required_max": COV_RATIO_ULA,
                                 "met": bool(ula_ratio.max() <= COV_RATIO_ULA)},
        "kl_eta_sgworld_over_sgld": {"value": ratio_kl, "required_min": KL_ETA_RATIO,
                                     "met": bool(ratio_kl is not None
                                                 and ratio_kl >= KL_ETA_RATIO)},
        "sgldcv_over_ula_cov_max": float((cov["SGLDCV"][idx] / cov["ULA"][idx]).max()),
        "sgld_over_sgldcv_cov_min": float((cov["SGLD"][idx] / cov["SGLDCV"][idx]).min()),
        "kl_eta_sgldcv_over_sgld": (eta_kl["SGLDCV"][0] / eta_kl["SGLD"][0]
                                    if eta_kl["SGLDCV"][0] and eta_kl["SGLD"][0] else None)}
    # O(eta) theory (docs/sgworld.md): covariance error -> eta |X|_F / |Sigma|_F as eta -> 0
    first = {}
    for label, name, _ in GAUSSIAN:
        _, X = first_order_bias(name, model, data, batch_size=B)
        pred = out["eta"][0] * np.linalg.norm(X) / np.linalg.norm(post.cov)
        first[label] = {"predicted": float(pred), "measured": float(cov[label][0]),
                        "rel_diff": float(cov[label][0] / pred - 1)}
    out["first_order"] = first
    out["slopes"] = {k: {m: loglog_slope(out["eta"], S[k][m], small)
                         for m in ("kl", "rel_cov_error")} for k in S}
    out["max_rel_se_sgworld_small_eta"] = float((se[wor][idx] / cov[wor][idx]).max())


# ----------------------------------------------------------------------------- logistic part
# Binary softmax regression, W (2 x 1) and b (2): the class-difference directions theta below
# carry the data; the class sums see only the prior, have identical per-sample gradients and
# Hessians, and decouple exactly (an exact 2-D Markov chain and posterior in theta).
U = np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, -1.0], [0.0, 1.0]]) / np.sqrt(2.0)


def logistic_problem(N: int = 200, seed: int = 1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=N)
    y = (rng.random(N) < 1.0 / (1.0 + np.exp(-(3.0 * x + 1.0)))).astype(int)
    model, data = SoftmaxRegression(1, 2, lam=0.01), (x[:, None], y)
    m = find_minimum(model, data, np.zeros(4))
    H = U.T @ m.H @ U
    return model, data, m.w, U.T @ m.w, H


def _binned(p, grid, nb):
    k = grid.shape[0] // nb
    return p.reshape(nb, k, nb, k).sum(axis=(1, 3)) * grid.cell_volume


def _run_sampler(name, record, model, data, eta, n_epochs, w0, B, thin=1, rng=7):
    kw = dict(batch_size=B) if name != "ula" else {}
    res = sample(name, model, data, eta=eta, n_epochs=n_epochs, burn_in=n_epochs // 20,
                 n_chains=4, rng=rng, record=record, w0=w0, thin=thin, warn=False, **kw)
    return res.samples @ U                                # (n, 4, 2) in theta


def _histogram_metrics(th, edges, probs) -> dict:
    """TV/KL of all chains against ``probs``; noise from the two halves of the chains."""
    out = histogram_distances(th.reshape(-1, 2), edges, probs,
                              n_eff=float(effective_sample_size(th).min()))
    halves = [np.histogramdd(th[:, c].reshape(-1, 2), bins=edges)[0] for c in ((0, 1), (2, 3))]
    halves = [h / h.sum() for h in halves]
    # TV(h1, h2) ~ sqrt(2) x the noise of one half = 2 x the noise of the union
    out["tv_noise_split"] = float(0.25 * np.abs(halves[0] - halves[1]).sum())
    out["rhat_max"] = float(rhat(th).max())
    return out


def logistic_case(quick: bool) -> dict:
    N, B = 200, 10
    R = N // B
    model, data, w_map, t_map, H = logistic_problem(N)
    lam = np.linalg.eigvalsh(H)
    sd = np.sqrt(np.diag(np.linalg.inv(H)))
    lo, hi = t_map - 5.5 * sd, t_map + 5.5 * sd
    n, nb = (96, 16) if quick else (160, 16)
    grid = fp.CartesianGrid([(lo[0], hi[0]), (lo[1], hi[1])], (n, n))
    p = grid_posterior(model, data, grid, basis=U)
    edges = [np.linspace(lo[a], hi[a], nb + 1) for a in range(2)]
    probs = _binned(p, grid, nb)
    rng = np.random.default_rng(3)
    w0 = w_map + (2 * rng.normal(size=(4, 2)) @ np.linalg.cholesky(np.linalg.inv(H)).T) @ U.T
    ratios = [0.02, 0.08, 0.32] if quick else [0.01, 0.02, 0.04, 0.08, 0.16, 0.32]
    base = 40000 if quick else 160000          # epochs at eta lambda_max = 0.02
    ula_cap = 5e4 if quick else 1e6            # ULA steps per chain (R x the gradient cost)
    runs = [("SGLD", "sgld", "epoch", 1), ("SGLDCV", "sgldcv", "epoch", 1),
            ("SGWORLD (epoch)", "sgworld", "epoch", 1), ("SGWORLD (step)", "sgworld", "step", 3),
            ("ULA", "ula", "epoch", 1)]
    table = {label: [] for label, *_ in runs}
    keep = {}
    for ratio in ratios:
        eta = ratio / lam[-1]
        n_ep = int(base * 0.02 / ratio)
        for label, name, record, thin in runs:
            steps = n_ep * R
            if name == "ula" and steps > ula_cap:
                table[label].append(None)
                continue
            fp_run = ratio == 0.02 and record == "epoch" and name in ("sgld", "sgworld")
            n_run = n_ep if fp_run or not quick else n_ep // 2     # quick: table runs halved
            th = _run_sampler(name, record, model, data, eta, steps if name == "ula" else n_run,
                              w0, B, thin)
            table[label].append(_histogram_metrics(th, edges, probs))
            if fp_run:
                keep[name] = th
    out = {"N": N, "B": B, "R": R, "lambda": lam.tolist(), "eta_lambda_max": ratios,
           "map": t_map.tolist(), "grid": [n, n], "bins": [nb, nb], "box": [lo.tolist(),
                                                                          hi.tolist()],
           "posterior_skewness": _skewness(p, grid), "histograms": table}
    out["fokker_planck"], fields = grid_validation(model, data, grid, p, edges, nb, keep,
                                                   0.02 / lam[-1], B)
    out["_fields"] = fields | {"x": grid.cell_centers(), "p_post": p}
    return out


def _skewness(p, grid) -> list:
    x, V = grid.cell_centers(), grid.cell_volume
    out = []
    for a in range(2):
        m = (x[a] * p).sum() * V
        v = ((x[a] - m)**2 * p).sum() * V
        out.append(float(((x[a] - m)**3 * p).sum() * V / v**1.5))
    return out


def grid_validation(model, data, grid, p_post, edges, nb, samples, eta, B):
    """Stationary FP densities of SGLD and SGWORLD vs their histograms; currents and EPR."""
    out, fields = {"eta": eta}, {}
    for name in ("sgld", "sgworld"):
        fpm = sampler_fokker_planck_model(name, model, data, grid, eta=eta, batch_size=B,
                                          basis=U)
        res = fp.solve_stationary(fp.FokkerPlanckOperator(grid, fpm))
        J = fp.probability_current(res)
        V = grid.cell_volume
        hist = _histogram_metrics(samples[name], edges, _binned(res.p, grid, nb))
        speed = np.sqrt((J.cells**2).sum(axis=0))
        out[name] = {"tv_fp_vs_histogram": hist["tv"],
                     "tv_noise_split": hist["tv_noise_split"],
                     "tv_fp_vs_posterior": float(0.5 * np.abs(res.p - p_post).sum() * V),
                     "entropy_production_per_step": fp.entropy_production_rate(res),
                     "max_current": float(speed.max()),
                     "mean_current": float((speed * V).sum() / (grid.size * V)),
                     "residual": res.residual}
        fields[name] = {"p": res.p, "J": J.cells}
    s, w = out["sgld"], out["sgworld"]
    out["epr_ratio_sgld_over_sgworld"] = s["entropy_production_per_step"] / max(
        w["entropy_production_per_step"], 1e-300)
    out["current_ratio_sgld_over_sgworld"] = s["max_current"] / w["max_current"]
    return out, fields


# ----------------------------------------------------------------------------- main
def main(quick: bool = False) -> dict:
    t0 = time.perf_counter()
    with _single_blas_thread():
        gauss = {f"d{c['d']}_N{c['N']}_B{c['B']}": gaussian_config(c, quick) for c in CONFIGS}
        t1 = time.perf_counter()
        logistic = logistic_case(quick)
        t2 = time.perf_counter()
        scope = sc.scope_case(quick)
    fields = logistic.pop("_fields")
    summary = {name: {k: v["met"] for k, v in g["targets"].items() if isinstance(v, dict)}
               for name, g in gauss.items()}
    return {
        "gaussian": gauss,
        "targets_met": summary,
        "logistic": logistic,
        "scope": scope,
        "checks": _checks(gauss, summary, logistic["fokker_planck"]) | scope_checks(scope),
        "seconds": {"gaussian": t1 - t0, "logistic": t2 - t1,
                    "scope": time.perf_counter() - t2},
        "_data": {"fields": fields},
    }


def _checks(gauss, summary, fpv) -> dict:
    """Scalars of parts 1-3 that expected.json checks."""
    return {
        "sgld_over_sgworld_cov_all_met": all(s["sgld_over_sgworld_cov"] for s in
                                             summary.values()),
        "kl_eta_ratio_min": min(g["targets"]["kl_eta_sgworld_over_sgld"]["value"] or 0
                                for g in gauss.values()),
        "first_order_rel_diff_max": max(abs(v["rel_diff"]) for g in gauss.values()
                                        for k, v in g["first_order"].items()
                                        if k != "SGWORLD (step)"),
        "sgworld_mc_rel_se_max": max(g["max_rel_se_sgworld_small_eta"]
                                     for g in gauss.values()),
        "tv_fp_vs_histogram_max": max(fpv["sgld"]["tv_fp_vs_histogram"],
                                      fpv["sgworld"]["tv_fp_vs_histogram"]),
        "sgld_entropy_production": fpv["sgld"]["entropy_production_per_step"],
        "epr_ratio_sgld_over_sgworld": fpv["epr_ratio_sgld_over_sgworld"],
        "current_ratio_sgld_over_sgworld": fpv["current_ratio_sgld_over_sgworld"],
        "sgld_bias_tv_over_noise": (fpv["sgld"]["tv_fp_vs_posterior"]
                                    / fpv["sgld"]["tv_noise_split"]),
    }


def scope_checks(scope) -> dict:
    """Scalars of part 4 that expected.json checks: the midpoint's targets over the five
    scope configurations (bounds at 3 jackknife errors, scope.midpoint_targets) and the chain
    check."""
    T = [c["targets"] for c in scope["configs"].values()]
    cc = scope["chain_check"]
    return {
        "mp_over_ula_cov_upper_max": max(t["mp_over_ula_cov"]["upper"] for t in T),
        "sgworld_over_mp_cov_lower_min": min(t["sgworld_over_mp_cov"]["lower"] for t in T),
        "mp_slopes": [t["mp_slope"]["value"] for t in T],
        "mp_slope_se_max": max(t["mp_slope"]["se"] for t in T),
        "kl_eta_mp_over_sgld_min": min(t["kl_eta_mp_over_sgld"]["value"] or 0 for t in T),
        "mp_first_order_over_ula_max": max(c["first_order_over_ula"]["midpoint SGWORLD"]
                                           for c in scope["configs"].values()),
        "chain_abs_z_midpoint_max": max(abs(cc["z_midpoint_mean"]), abs(cc["z_midpoint_var"])),
        "chain_abs_z_sgworld_var": abs(cc["z_sgworld_var"]),
        "chain_power": cc["power"],
        "chain_exact_separation_se": cc["exact_var_separation_se"],
        "chain_rhat": cc["rhat"],
    }
