"""Problems and runs of the digits-ft case: a model at its minimum with its reduced Gaussian
theory, and the stationary SGD runs measured against it.

``compute.py`` strings them together into the case's sections; the numerics are in
``pipeline.py``.  Both siblings are loaded by path (the case directory is not a package).
"""

from __future__ import annotations

import time

import numpy as np
import scipy.optimize as so

from fpsolve.learning import find_minimum, gaussian_theory, sgd
from fpsolve.learning.theory.estimators import EntropyProductionStream
from fpsolve.learning.theory.wor import wor_leading_diffusion
from fpsolve.stochastic.fluctuation import fluctuation_test
from fpsolve.validation_registry import sibling_module

pl = sibling_module(__file__, "pipeline")

LAM, B, B_FT, HIDDEN, K = 1e-2, 10, 100, 16, 10
WINDOWS, CHUNK, SEED = (1, 2, 4, 8, 16, 32), 1024, 6
# fluctuation_test's verdict is claimed on 2 windows (B = 100, 1 step; the linearized B = 10 chain
# with Gaussian noise, 1 step), each at 0.01 / 2 (Bonferroni: false-alarm rate <= 1 %).
ALPHA_FT = 0.01 / 2
ETA_COV_FRACTION = 0.1      # eta lambda_max of the covariance runs
EPOCH_FRACTIONS = (0.003, 0.01, 0.03)   # eta / eta_cov of the epoch-noise scaling


# ----------------------------------------------------------------------------- problems
class Problem:
    """A model at its minimum: ``H``, per-sample-gradient covariance, null directions, runs."""

    def __init__(self, model, data, w0, blocks, *, lbfgs=False):
        t0 = time.perf_counter()
        self.model, self.data = model, data
        if lbfgs:   # the MLP is non-convex: quasi-Newton from a random start, then Newton
            def fun(w):
                return model._batch(w, data, None)

            w0 = so.minimize(fun, w0, jac=True, method="L-BFGS-B",
                             options={"maxiter": 5000, "gtol": 1e-8 * data.N}).x
        self.minimum = find_minimum(model, data, w0)
        self.w, self.H = self.minimum.w, self.minimum.H
        G = model.per_sample_gradients(self.w, data)
        G -= G.mean(axis=0)
        self.Sg, self.G = G.T @ G / data.N, G
        self.Z = pl.symmetry_directions(model.n_features, blocks, data.x)
        self.null = pl.null_analysis(self.H, self.Sg, self.Z)
        eD, VD = np.linalg.eigh(pl.complement(self.Z).T @ self.Sg @ pl.complement(self.Z))
        extra = pl.complement(self.Z) @ VD[:, eD < 1e-10 * eD[-1]]
        self.P = pl.complement(np.hstack([self.Z, extra]))  # active: noisy directions
        self.lam = np.linalg.eigvalsh(self.P.T @ self.H @ self.P)
        self.accuracy = float((model.predict(self.w, data.x).argmax(1) == data.y).mean())
        self.seconds = time.perf_counter() - t0

    def D1(self, batch):
        """Diffusion per step at eta = 1: ``(1/2) (N - B) / (B (N - 1)) Sigma_g``."""
        N = self.data.N
        return 0.5 * (N - batch) / (batch * (N - 1)) * self.Sg

    def theory(self, eta, batch):
        return pl.reduced_theory(self.H, self.D1(batch), self.w, self.P, eta)

    def advance(self, eta, batch, schedule="wr"):
        run = sgd

        def step(w, n, every, rng):
            return run(self.model, self.data, w, eta=eta, batch_size=batch, n_steps=n,
                       record_every=every, n_chains=w.shape[0], rng=rng, schedule=schedule)
        return step

    def summary(self) -> dict:
        return {"n_params": self.model.n_params, "n_active": int(self.P.shape[1]),
                "newton_steps": self.minimum.n_steps, "converged": self.minimum.converged,
                "grad_norm": self.minimum.grad_norm, "train_accuracy": self.accuracy,
                "H_min_active": float(self.lam[0]), "H_max": float(self.lam[-1]),
                "prior_N_lam": self.data.N * LAM, "null": self.null, "seconds": self.seconds}


def softmax_blocks(F):
    return [("shift", 0, K, F), ("shift", K * F, K, 1), ("input", 0, K, F)]


def mlp_blocks(F):
    o2 = HIDDEN * F + HIDDEN
    return [("input", 0, HIDDEN, F), ("shift", o2, K, HIDDEN), ("shift", o2 + K * HIDDEN, K, 1)]


def theory_numbers(prob, th) -> dict:
    """Scalars of a reduced theory, and how far from equilibrium it is."""
    H, lam = th.H, pl.eigenvalues(th)
    comm = np.linalg.norm(H @ th.D - th.D @ H) / np.linalg.norm(H @ th.D)
    sym = 0.5 * th.eta * (H @ th.Sigma + th.Sigma @ H)
    return {"eta": th.eta, "eta_lambda_max": float(th.eta * lam[-1]),
            "relaxation_steps_slowest": float(1 / (th.eta * lam[0])),
            "relaxation_steps_median": float(1 / (th.eta * np.median(lam))),
            "entropy_production": th.entropy_production,
            "entropy_production_exact": th.entropy_production_exact,
            "commutator_HD": float(comm),
            "circulation_relative_norm": float(np.linalg.norm(th.C) / np.linalg.norm(sym)),
            "trace_Sigma_disc": float(np.trace(th.Sigma_disc))}


def anharmonicity(prob, th, n=3, k=3.0) -> dict:
    """``[L(w* + k s v) - L(w*)] / (lam_v (k s)^2 / 2)`` along the top-``n`` eigenvectors of
    Sigma_disc and the ``n`` flattest Hessian directions (``s`` the theory's standard deviation
    along ``v``): 1 where the quadratic (Gaussian) approximation holds at ``k`` sigma."""
    _ev, V = np.linalg.eigh(th.Sigma_disc)
    lam = pl.eigenvalues(th)
    L0 = prob.model.loss(prob.w, prob.data)
    out = {}
    for name, cols in (("top_sigma", range(-1, -n - 1, -1)), ("flattest_H", range(n))):
        ratios = []
        for c in cols:
            v = V[:, c] if name == "top_sigma" else np.eye(lam.size)[:, c]
            s = np.sqrt(v @ th.Sigma_disc @ v)
            curv = v @ (lam * v)
            rise = [prob.model.loss(prob.w + sg * k * s * (th.basis @ v), prob.data) - L0
                    for sg in (1, -1)]
            ratios.append(float(np.mean(rise) / (0.5 * curv * (k * s) ** 2)))
        out[name] = ratios
    return out


def lyapunov_crosscheck(prob, th) -> dict:
    """Eigenbasis solution against fpsolve.linear (Bartels-Stewart) on the same problem."""
    t0 = time.perf_counter()
    prob.theory(th.eta, B)                   # the eigenbasis solve again, timed
    t1 = time.perf_counter()
    ref = gaussian_theory(th.H, th.D, th.eta)
    sec = time.perf_counter() - t1
    return {"bartels_stewart_seconds": sec, "eigenbasis_seconds": t1 - t0,
            "sigma_rel_diff": float(np.abs(ref.Sigma - th.Sigma).max() / np.abs(th.Sigma).max()),
            "sigma_disc_rel_diff": float(np.abs(ref.Sigma_disc - th.Sigma_disc).max()
                                         / np.abs(th.Sigma_disc).max()),
            "entropy_production_rel_diff": abs(ref.entropy_production / th.entropy_production
                                               - 1),
            "entropy_production_exact_rel_diff": abs(ref.entropy_production_exact
                                                     / th.entropy_production_exact - 1)}


# ----------------------------------------------------------------------------- runs
def window_stats(acc, k, keep_hist=False) -> dict:
    ds = acc.window_samples(k).ravel()
    res = fluctuation_test(ds, n_bootstrap=0, alpha=ALPHA_FT)
    out = {"window": k, "n": int(ds.size), "mean": res.mean, "var": res.var,
           "gaussian_check": res.gaussian_check, "ift": res.ift.value,
           "ift_stderr": res.ift.stderr, "ift_z": res.ift_z, "ift_abs_z": abs(res.ift_z),
           "ift_tail_index": res.ift_tail_index, "dft_slope": res.dft_slope.value,
           "dft_slope_stderr": res.dft_slope.stderr, "dft_reduced_chi2":
           res.dft_slope.reduced_chi2, "symmetry": res.symmetry.value,
           "symmetry_stderr": res.symmetry.stderr, "symmetry_z": res.symmetry_z,
           "p_value": res.p_value, "verdict": bool(res.verdict)}
    if keep_hist:
        counts, edges = np.histogram(ds, bins=120, range=tuple(np.quantile(ds, [1e-4, 1 - 1e-4])))
        out["_hist"] = (edges, counts, res.dft_points)
    return out


def entropy_summary(acc, th) -> dict:
    rates = acc.chain_rates()
    m, se = float(rates.mean()), float(rates.std(ddof=1) / np.sqrt(rates.size))
    return {"mean": m, "stderr": se, "theory": th.entropy_production,
            "theory_exact": th.entropy_production_exact,
            "rel_err": m / th.entropy_production_exact - 1,
            "abs_rel_err": abs(m / th.entropy_production_exact - 1),
            "z": (m - th.entropy_production_exact) / se,
            "abs_z": abs(m - th.entropy_production_exact) / se, "steps": acc.steps * rates.size,
            "estimator_seconds": acc.seconds}


def ft_run(prob, th, batch, n_chains, n_chunks, burn, seed) -> dict:
    """Stationary WR run from the Gaussian law: burn-in, then entropy production per window."""
    t0 = time.perf_counter()
    step = prob.advance(th.eta, batch)
    w = th.stationary_sample(n_chains, seed)
    if burn:
        w = step(w, burn, burn, seed).w_final
    acc = EntropyProductionStream(th, WINDOWS)
    for X in pl.chunks(step, w, n_chunks * CHUNK, CHUNK, 1, seed + 1):
        acc.add(X)
    out = {"batch_size": batch, "n_chains": n_chains, "burn_in": burn,
           "entropy": entropy_summary(acc, th),
           "windows": {str(k): window_stats(acc, k, keep_hist=k in (1, 8)) for k in WINDOWS}}
    out["seconds"] = time.perf_counter() - t0
    return out


def linear_chain_diagnosis(prob, th, batch, cfg) -> dict:
    """IFT/DFT of the linearized chain with the real minibatch noise and with Gaussian noise of
    the same covariance (single steps): isolates the non-Gaussianity of the noise."""
    G = prob.G @ th.basis
    out = {}
    for noise in ("batch", "gaussian"):
        acc = pl.linear_chain(th, G, batch, n_steps=cfg["lin_steps"], n_chains=32, chunk=512,
                              seed=SEED + 7, windows=(1,), noise=noise)
        out[noise] = window_stats(acc, 1)
    return out


def covariance_run(prob, th, schedule, cfg, seed, *, entropy_chunks=0) -> dict:
    """Stationary run from the minimum (burn-in 5 slowest relaxation times), thinned moments;
    WOR records at epoch starts.  Optionally an entropy segment afterwards (WR)."""
    t0 = time.perf_counter()
    R = prob.data.N // B
    step = prob.advance(th.eta, B, schedule)
    every = 16 if schedule == "wr" else R
    burn = int(np.ceil(5 / (th.eta * pl.eigenvalues(th)[0]) / every)) * every
    n = cfg["cov_steps"] if schedule == "wr" else cfg["wor_steps"]
    chunk = 8192 if schedule == "wr" else 48 * R
    w = np.repeat(prob.w[None], cfg["cov_chains"], axis=0)
    w = step(w, burn, burn, seed).w_final
    mom = pl.MomentAccumulator()
    for X in pl.chunks(step, w, n, chunk, every, seed + 1):
        mom.add(th.coordinates(X[1:]))
        w = X[-1]
    cov, per = mom.covariance()
    out = {"schedule": schedule, "burn_in": burn, "steps_per_chain": n, "record_every": every,
           "n_chains": cfg["cov_chains"], "trace_emp": float(np.trace(cov)),
           "trace_theory": float(np.trace(th.Sigma_disc)),
           "top": pl.direction_variances(per, th.Sigma_disc, 5), "_cov": cov}
    out["top_ratio_max_abs_err"] = out["top"]["max_abs_err"]
    if entropy_chunks:
        acc = EntropyProductionStream(th, (1,))
        for X in pl.chunks(step, np.ascontiguousarray(w), entropy_chunks * CHUNK, CHUNK, 1,
                           seed + 2):
            acc.add(X)
        out["entropy"] = entropy_summary(acc, th)
    out["seconds"] = time.perf_counter() - t0
    return out


def epoch_scaling(prob, eta_cov, n_perm) -> dict:
    """Covariance of the one-epoch displacement from w*, WR and WOR, against eta: simulated
    (real SGD) and theory (WR: the linear chain; WOR: leading order, eta^4)."""
    N = prob.data.N
    R = N // B
    kappa = (N - B) / (B * (N - 1))
    out = {"eta": [], "wr": [], "wor": [], "wr_theory": [], "wor_theory": []}
    for i, f in enumerate(EPOCH_FRACTIONS):
        eta = f * eta_cov
        th = prob.theory(eta, B)
        mu2 = (1.0 - eta * pl.eigenvalues(th))**2
        out["wr_theory"].append(float(np.sum(2 * np.diag(th.D) * (1 - mu2**R) / (1 - mu2))))
        D4 = wor_leading_diffusion(prob.model, prob.data, prob.w, eta=eta, batch_size=B,
                                   method="leading")
        out["wor_theory"].append(float(2 * np.trace(D4)))
        for sched in ("wr", "wor"):
            w = np.repeat(prob.w[None], n_perm, axis=0)
            disp = prob.advance(eta, B, sched)(w, R, R, SEED + 40 + i).w_final - prob.w
            out[sched].append(float(np.trace(np.cov(disp.T))))
        out["eta"].append(eta)
    out["kappa"] = kappa
    for key in ("wr", "wor"):
        out[f"{key}_slope"] = float(np.polyfit(np.log(out["eta"]), np.log(out[key]), 1)[0])
        out[f"{key}_over_theory"] = list(np.divide(out[key], out[f"{key}_theory"]))
    return out


def stationary_wr_wor(prob, wr, wor, cfg, eta_cov) -> dict:
    """Stationary covariance traces (WOR at epoch starts) at eta_cov and, in full mode, at
    smaller learning rates; log-log slopes of the traces and of their ratio against eta.  The
    epoch expansion of WOR (eta^3 covariance) needs R eta lam << 1, which the stiff directions
    violate at these eta (R eta lam_max is reported)."""
    R = prob.data.N // B
    out = {"eta": [eta_cov], "trace_wr": [wr["trace_emp"]], "trace_wor": [wor["trace_emp"]],
           "trace_wr_theory": [wr["trace_theory"]], "wor_top": wor["top"],
           "seconds": wor["seconds"]}
    for f in cfg["stationary_fractions"]:
        th = prob.theory(f * eta_cov, B)
        for key, sched in (("trace_wr", "wr"), ("trace_wor", "wor")):
            out[key].append(covariance_run(prob, th, sched, cfg, SEED + 60)["trace_emp"])
        out["trace_wr_theory"].append(float(np.trace(th.Sigma_disc)))
        out["eta"].append(f * eta_cov)
    out["R_eta_lambda_max"] = [R * e * prob.lam[-1] for e in out["eta"]]
    out["R_eta_lambda_min"] = [R * e * prob.lam[0] for e in out["eta"]]
    out["ratio_wor_wr"] = list(np.divide(out["trace_wor"], out["trace_wr"]))
    if len(out["eta"]) > 1:
        le = np.log(out["eta"])
        for key in ("trace_wr", "trace_wor", "ratio_wor_wr"):
            out[f"{key}_slope"] = float(np.polyfit(le, np.log(out[key]), 1)[0])
    return out

