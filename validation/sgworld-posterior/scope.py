"""Scope of SGWORLD and of midpoint SGWORLD (part 4 of the sgworld-posterior case).

Three Bayesian linear regressions, ``LinearRegression(d, s=1, lam=1e-3)``, ``N = 1000`` (the
designs of benchmarks/bench_sampler_scope.py, same seeds, so the numbers compare):

* ``1-D heterogeneous``: ``x_i = s_i z_i``, ``s_i ~ U(0.3, 2)``, ``z_i ~ N(0, 1)``;
* ``2-D correlated``: log-normal scales ``exp(0.5 e_i)`` times correlated normals (covariance
  eigenvalues 1 and 1/110 on axes rotated by pi/5): condition number of ``H`` ~ 120;
* ``10-D heteroscedastic``: log-normal scales ``exp(0.75 e_i)`` times normals with covariance
  eigenvalues geometric from 1 to 1/30 on random axes.

For ULA, SGLD, SGLDCV, SGWORLD and midpoint SGWORLD (``"midpoint-sgworld"``: midpoint steps on
palindromic WOR epochs) the exact stationary moments at the epoch ends give the covariance
error vs ``eta`` (fitted slopes for ``R eta lambda_max <= 0.1``, jackknife errors), the largest
``eta`` with KL <= 1e-4, and the issue's targets of the midpoint sampler.  A chain check runs
``sample("midpoint-sgworld", ...)`` where its exact moments and SGWORLD's differ by many Monte
Carlo errors, and measures which of the two the chains follow.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from fpsolve.errors import FpsolveError
from fpsolve.learning import LinearRegression
from fpsolve.learning.diagnostics import relative_covariance_error
from fpsolve.learning.dynamics.samplers import sample
from fpsolve.learning.posteriors import (
    first_order_bias,
    gaussian_posterior,
    moment_errors,
    stationary_moments,
)

N = 1000
SMALL = 0.1            # the small-step region: R eta lambda_max <= 0.1
KL_LEVEL = 1e-4        # the KL threshold
CONFIGS = [("1-D heterogeneous", 10), ("2-D correlated", 10), ("2-D correlated", 50),
           ("10-D heteroscedastic", 10), ("10-D heteroscedastic", 50)]
SAMPLERS = [("ULA", "ula"), ("SGLD", "sgld"), ("SGLDCV", "sgldcv"), ("SGWORLD", "sgworld"),
            ("midpoint SGWORLD", "midpoint-sgworld")]
MP, WOR = "midpoint SGWORLD", "SGWORLD"
# Targets of the midpoint sampler over R eta lambda_max <= 0.1 (issue 14)
ULA_RATIO_MAX = 1.0    # covariance error <= ULA's
WOR_RATIO_MIN = 10.0   # >= 10 x below SGWORLD's (SGWORLD has a first-order bias on every design)
KL_ETA_RATIO = 10.0    # largest eta with KL <= 1e-4 >= 10 x SGLD's
N_SE = 3.0             # Monte Carlo estimates enter the targets as 3-standard-error bounds
SLOPE = 2.0            # the midpoint's bias is O(eta^2)
# Fitted slope over [1e-3, 0.1]: the O(eta^3) term bends the palindromic fit by <= 0.05
# (bench_sampler_scope: 1.97-2.05), plus 3 jackknife errors of at most 0.05 each
SLOPE_TOL = 0.2
CHAIN_R = 2.0          # R eta lambda_max of the chain check (see chain_check)
Z_CHAIN = 4.0          # two-sided z limit of the chain check


def design(name: str, seed: int = 0):
    """``(data, model)`` of one of the three designs (module docstring)."""
    rng = np.random.default_rng(seed)
    if name == "1-D heterogeneous":
        x = rng.uniform(0.3, 2.0, size=(N, 1)) * rng.normal(size=(N, 1))
    elif name == "2-D correlated":
        c, s = np.cos(np.pi / 5), np.sin(np.pi / 5)
        Q = np.array([[c, -s], [s, c]])
        C = Q @ np.diag([1.0, 1 / 110]) @ Q.T
        x = np.exp(0.5 * rng.normal(size=(N, 1))) * (rng.normal(size=(N, 2))
                                                      @ np.linalg.cholesky(C).T)
    elif name == "10-D heteroscedastic":
        Q, _ = np.linalg.qr(rng.normal(size=(10, 10)))
        C = Q @ np.diag(np.geomspace(1.0, 1 / 30, 10)) @ Q.T
        x = np.exp(0.75 * rng.normal(size=(N, 1))) * (rng.normal(size=(N, 10))
                                                       @ np.linalg.cholesky(C).T)
    else:
        raise ValueError(f"name: unknown design {name!r}")
    d = x.shape[1]
    return (x, x @ rng.normal(size=d) + rng.normal(size=N)), LinearRegression(d, s=1.0,
                                                                            lam=1e-3)


def kl_threshold_eta(eta, kl, level=KL_LEVEL):
    """Largest eta with KL <= level before KL first exceeds it (log-log interpolation), and
    whether it is bracketed (else the last eta, a lower bound)."""
    eta, kl = np.asarray(eta, float), np.array([np.inf if v is None else v for v in kl])
    above = np.flatnonzero(~(kl <= level))
    if above.size == 0:
        return float(eta[-1]), False          # never above: a lower bound
    i = above[0]
    if i == 0:
        return None, False
    t = (np.log(level) - np.log(kl[i - 1])) / (np.log(kl[i]) - np.log(kl[i - 1])) \
        if np.isfinite(kl[i]) else 0.0
    return float(np.exp(np.log(eta[i - 1]) + t * (np.log(eta[i]) - np.log(eta[i - 1])))), True


def n_permutations(d: int, quick: bool) -> tuple[int, int]:
    """Permutations of the Monte Carlo moments for ``R eta lambda_max <= 0.1`` and beyond.

    After the control variates the error of E[Phi (x) Phi] is O(eta^3), an O(eta^2) relative
    error of the covariance -- the order of the midpoint's bias itself.  In 1-D that bias is
    smallest (relative error ~45 % at 1024 permutations, ~16 % at 8192) and a permutation is
    cheapest, so 1-D gets the most; in 2-D and 10-D 256 permutations give ~4 %.  Beyond 0.1 the
    errors are large and KL <= 1e-4 is decided at KL ~ 1e-4, where 512 permutations give
    ~10 % (a few % in eta)."""
    small = ({1: 8192, 2: 512} if quick else {1: 32768, 2: 8192}).get(d, 256 if quick else 2048)
    return small, 512 if quick else 2048


def _moments_row(name, model, data, post, eta, B, n_perm):
    """Errors of one sampler at one eta (``moment_errors``) plus the relative covariance errors
    of the jackknife replicates (Monte Carlo samplers); None where the moments diverge."""
    try:
        mo = stationary_moments(name, model, data, eta=eta, batch_size=B, n_perm=n_perm, rng=1)
    except FpsolveError:                       # second moments diverge at this eta
        return None
    reps = [] if mo.replicates is None else [relative_covariance_error(P, post.cov)
                                             for P in mo.replicates[1]]
    # Near divergence (R eta lambda_max = 10) gaussian_w2's fixed-point iteration overflows
    # before it falls back to sqrtm, and a jackknife replicate may have an infinite KL: the
    # values are right (or inf/NaN, ignored by the KL threshold), the warnings are noise.
    with np.errstate(over="ignore", invalid="ignore"):
        return moment_errors(mo, post) | {"rep_cov": reps}


def jackknife_slope(r, rows, mask):
    """Log-log slope of the covariance error over ``r[mask]`` and its jackknife standard error.

    Every eta uses the same permutations (``rng=1``), so the leave-one-group-out replicates
    at different etas belong together: one slope per replicate, jackknife over the groups."""
    pts = [(x, row) for x, row, m in zip(r, rows, mask) if m and row is not None]
    x = np.log([p[0] for p in pts])
    slope = float(np.polyfit(x, np.log([p[1]["rel_cov_error"] for p in pts]), 1)[0])
    reps = np.array([p[1]["rep_cov"] for p in pts])           # (n_eta, G) or (n_eta, 0)
    if reps.size == 0:
        return slope, 0.0
    s = np.polyfit(x, np.log(reps), 1)[0]
    return slope, float(np.sqrt((s.size - 1) / s.size * ((s - s.mean())**2).sum()))


def scope_config(name: str, B: int, quick: bool) -> dict:
    """Exact moments of every sampler over four decades of ``R eta lambda_max`` on one
    design, the fitted slopes and the midpoint's targets."""
    data, model = design(name)
    post = gaussian_posterior(model, data)
    d, R = model.n_params, N // B
    lam = float(np.linalg.eigvalsh(post.precision)[-1])
    r = np.logspace(-3, 1, 9 if quick else 17)      # every half (quarter) decade
    etas, (n_small, n_large) = r / (R * lam), n_permutations(d, quick)
    small = r <= SMALL * (1 + 1e-9)
    out = {"design": name, "d": d, "N": N, "B": B, "R": R, "lambda_max": lam,
           "cond_H": lam / float(np.linalg.eigvalsh(post.precision)[0]),
           "n_perm": [n_small, n_large], "eta": etas.tolist(), "r_eta_lambda": r.tolist(),
           "samplers": {}}
    for label, s in SAMPLERS:
        rows = [_moments_row(s, model, data, post, eta, B, n_small if sm else n_large)
                for eta, sm in zip(etas, small)]
        slope, slope_se = jackknife_slope(r, rows, small)
        out["samplers"][label] = {k: [None if row is None else row[k] for row in rows]
                                  for k in ("rel_cov_error", "rel_cov_error_se", "kl", "kl_se")}
        out["samplers"][label] |= {"slope": slope, "slope_se": slope_se}
    first = {label: np.linalg.norm(first_order_bias(s, model, data, batch_size=B)[1])
             for label, s in SAMPLERS}
    out["first_order_over_ula"] = {k: float(v / first["ULA"]) for k, v in first.items()}
    out["targets"] = midpoint_targets(out, small)
    return out


def midpoint_targets(out: dict, small) -> dict:
    """The issue's targets of the midpoint sampler over ``R eta lambda_max <= 0.1``.

    Monte Carlo covariance errors enter as bounds ``value +- 3 se`` (jackknife), on the side
    that makes a target harder: a target counted as met holds with ~99.9 % confidence at every
    eta, whatever the permutation noise."""
    S, idx = out["samplers"], np.flatnonzero(small)
    cov = {k: np.array(S[k]["rel_cov_error"], float)[idx] for k in S}
    se = {k: np.array(S[k]["rel_cov_error_se"], float)[idx] for k in S}
    mp_hi = cov[MP] + N_SE * se[MP]
    ula_hi = (mp_hi / cov["ULA"]).max()
    wor_lo = ((cov[WOR] - N_SE * se[WOR]) / mp_hi).min()
    kl_eta = {k: kl_threshold_eta(out["eta"], S[k]["kl"])[0] for k in (MP, "SGLD")}
    kl_ratio = kl_eta[MP] / kl_eta["SGLD"] if kl_eta[MP] and kl_eta["SGLD"] else None
    slope, slope_se = S[MP]["slope"], S[MP]["slope_se"]
    return {
        "mp_over_ula_cov": {"max": float((cov[MP] / cov["ULA"]).max()), "upper": float(ula_hi),
                            "required_max": ULA_RATIO_MAX, "met": bool(ula_hi <= ULA_RATIO_MAX)},
        "sgworld_over_mp_cov": {"min": float((cov[WOR] / cov[MP]).min()),
                                "lower": float(wor_lo), "required_min": WOR_RATIO_MIN,
                                "met": bool(wor_lo >= WOR_RATIO_MIN)},
        "mp_slope": {"value": slope, "se": slope_se, "required": [SLOPE - SLOPE_TOL,
                                                                  SLOPE + SLOPE_TOL],
                     "met": bool(abs(slope - SLOPE) <= SLOPE_TOL)},
        "kl_eta_mp_over_sgld": {"value": kl_ratio, "r_eta_lambda_mp": _r(out, kl_eta[MP]),
                                "r_eta_lambda_sgld": _r(out, kl_eta["SGLD"]),
                                "required_min": KL_ETA_RATIO,
                                "met": bool(kl_ratio is not None and kl_ratio >= KL_ETA_RATIO)},
        "mp_cov_at_small_limit": float(cov[MP][-1]), "sgworld_cov_at_small_limit":
            float(cov[WOR][-1]), "ula_cov_at_small_limit": float(cov["ULA"][-1])}


def _r(out, eta):
    return None if eta is None else eta * out["R"] * out["lambda_max"]


# ----------------------------------------------------------------------------- chain check
def _scalar_moments(name, model, data, eta, B, n_perm) -> dict:
    """Stationary mean and variance (1-D design) with jackknife standard errors."""
    mo = stationary_moments(name, model, data, eta=eta, batch_size=B, n_perm=n_perm, rng=2)
    rep_m, rep_c = mo.replicates
    G = rep_m.shape[0]

    def jack(v):
        return float(np.sqrt((G - 1) / G * ((v - v.mean())**2).sum()))

    return {"mean": float(mo.mean[0]), "mean_se": jack(rep_m[:, 0]), "var": float(mo.cov[0, 0]),
            "var_se": jack(rep_c[:, 0, 0]), "n_perm": mo.n_perm}


def chain_check(quick: bool) -> dict:
    """Chains of ``sample("midpoint-sgworld", ...)`` on the 1-D design against the exact moments
    of midpoint SGWORLD and of SGWORLD.

    At ``R eta lambda_max <= 0.1`` the two differ by < 1e-3 of the posterior variance, beyond
    the reach of chains; at ``R eta lambda_max = 2`` the variances differ by ~4 % (> 10 Monte
    Carlo errors of the exact moments) and an epoch decorrelates the variance (lag-one
    correlation ~ exp(-4)).  The 1-D design mixes in a few epochs (``cond H = 1``); the 2-D
    and 10-D designs would need ~100 x more epochs for their slow directions.  z-scores take
    the standard error of the chain average from the spread over independent chains and add
    the exact moments' jackknife error in quadrature."""
    data, model = design("1-D heterogeneous")
    B, R = 10, N // 10
    post = gaussian_posterior(model, data)
    eta = CHAIN_R / (R * float(post.precision[0, 0]))
    n_perm = 16384 if quick else 65536
    exact = {label: _scalar_moments(s, model, data, eta, B, n_perm)
             for label, s in (("midpoint", "midpoint-sgworld"), ("SGWORLD", "sgworld"))}
    n_chains, n_epochs = 32, 6000 if quick else 40000
    # burn-in: chains start at the mode and relax by exp(-2) per epoch
    res = sample("midpoint-sgworld", model, data, eta=eta, batch_size=B, n_epochs=n_epochs,
                 burn_in=20, n_chains=n_chains, rng=11, warn=False, progress=False)
    x = res.samples[:, :, 0]
    out = {"design": "1-D heterogeneous", "B": B, "R": R, "r_eta_lambda": CHAIN_R, "eta": eta,
           "n_chains": n_chains, "n_epochs": n_epochs, "records_per_chain": x.shape[0],
           "rhat": float(res.rhat[0]), "posterior_var": float(post.cov[0, 0]),
           "chain_mean": float(x.mean()), "chain_var": float(x.var(axis=0, ddof=1).mean()),
           "exact": exact}
    out |= _chain_z(x, exact, post)
    return out


def _chain_z(x, exact, post) -> dict:
    """z-scores of the chains against both exact moments, the exact moments' separation, and
    the power of the disagreement check (``|z| >= 4`` against SGWORLD)."""
    C = x.shape[1]
    m_c, v_c = x.mean(axis=0), x.var(axis=0, ddof=1)
    se_m, se_v = m_c.std(ddof=1) / np.sqrt(C), v_c.std(ddof=1) / np.sqrt(C)
    mp, wor = exact["midpoint"], exact["SGWORLD"]
    out = {}
    for label, e in (("midpoint", mp), ("sgworld", wor)):
        out[f"z_{label}_mean"] = float((m_c.mean() - e["mean"]) / np.hypot(se_m, e["mean_se"]))
        out[f"z_{label}_var"] = float((v_c.mean() - e["var"]) / np.hypot(se_v, e["var_se"]))
    out["exact_var_separation_se"] = float(abs(wor["var"] - mp["var"])
                                           / np.hypot(wor["var_se"], mp["var_se"]))
    # if the chains follow the midpoint, z against SGWORLD ~ delta + t_(C-1)
    delta = abs(wor["var"] - mp["var"]) / np.hypot(se_v, wor["var_se"])
    out["expected_abs_z_sgworld_var"] = float(delta)
    out["power"] = float(stats.t.sf(Z_CHAIN - delta, C - 1) + stats.t.cdf(-Z_CHAIN - delta, C - 1))
    # false failure of |z| <= 4 with 32 chains (t with 31 degrees of freedom), per z-score
    out["false_failure_rate"] = float(2 * stats.t.sf(Z_CHAIN, C - 1))
    out["var_rel"] = {k: v / float(post.cov[0, 0]) - 1 for k, v in
                      (("chains", v_c.mean()), ("midpoint", mp["var"]), ("sgworld", wor["var"]))}
    out["var_rel_se"] = {"chains": float(se_v / post.cov[0, 0]),
                         "midpoint": mp["var_se"] / float(post.cov[0, 0]),
                         "sgworld": wor["var_se"] / float(post.cov[0, 0])}
    out["per_chain_var_rel"] = (v_c / float(post.cov[0, 0]) - 1).tolist()
    return out


def scope_case(quick: bool) -> dict:
    """The scope designs and the chain check (``main`` of compute.py calls this)."""
    configs = {f"{name.split()[0]}_B{B}": scope_config(name, B, quick) for name, B in CONFIGS}
    return {"configs": configs, "chain_check": chain_check(quick),
            "targets_met": {k: {t: v["met"] for t, v in c["targets"].items()
                                if isinstance(v, dict)} for k, c in configs.items()}}
