"""digits-ft: fluctuation theorems of SGD in a high-dimensional classifier (the paper's MNIST test).

Adhikari et al., "Machine learning in and out of equilibrium" (arXiv 2306.03521) validate the
fluctuation theorems a second time on MNIST.  MNIST is not downloadable here; the data are the
8x8 digits that ship with scikit-learn (the first 1790 images, so that B = 10 divides N and WOR
epochs have no remainder), pixels in [0, 1].  Models (loss l_i = N [CE_i + lam |w|^2 / 2],
lam = 1e-2, prior precision N lam ~ 18):

* ``softmax_650``: SoftmaxRegression(64, 10) on all pixels (650 parameters) -- theory only: its
  gradient noise is singular beyond the exact symmetries (pixels lit in 1-9 images), which makes
  the Gaussian entropy production infinite (shown by regularizing D);
* ``softmax``: SoftmaxRegression(54, 10) on the 54 pixels lit in >= 20 images (550 parameters,
  495 after the 55 exact shift symmetries): minimum, H, D, Lyapunov Sigma, C, entropy production;
  stationary WR SGD at the learning rate where the theory gives <dS> = 1 per step (B = 100 and
  B = 10), IFT/DFT per window, covariance at a 10x larger learning rate, WR vs WOR, a 2-parameter
  slice on the grid;
* ``mlp``: MLPClassifier(54, 16, 10) (1050 parameters): the same theory, and runs at <dS> = 1
  per step (B = 100) started from the Gaussian law: its flattest direction (lambda = 0.36, the
  non-convex data term nearly cancels the prior N lam = 18) relaxes in ~10^7 steps there.

Quick mode runs the same steps with fewer chains and shorter runs (standard errors ~2-4 % on
the mean entropy production, against ~1 % in full mode); every statistic carries its standard
error from the spread of independent chains.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import time
import warnings
from itertools import combinations
from pathlib import Path

import numpy as np
import scipy.optimize as so

import fpsolve as fp
from fpsolve.errors import PositivityWarning
from fpsolve.learning import Dataset, SoftmaxRegression, find_minimum, gaussian_theory, sgd
from fpsolve.learning.digits import load_digits
from fpsolve.learning.mlp import MLPClassifier, mlp_sgd
from fpsolve.stochastic.fluctuation import fluctuation_test


def _load_pipeline():
    """``pipeline.py`` of this case, under a module name unique to its path."""
    path = Path(__file__).resolve().parent / "pipeline.py"
    name = "_digits_ft_pipeline_" + hashlib.sha1(str(path).encode()).hexdigest()[:8]
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module   # dataclasses look the module up by name
        spec.loader.exec_module(module)
    return sys.modules[name]


pl = _load_pipeline()

N_IMAGES, MIN_LIT, LAM, B, B_FT, HIDDEN, K = 1790, 20, 1e-2, 10, 100, 16, 10
WINDOWS, CHUNK, SEED = (1, 2, 4, 8, 16, 32), 1024, 6
ETA_COV_FRACTION = 0.1      # eta lambda_max of the covariance runs
EPOCH_FRACTIONS = (0.003, 0.01, 0.03)   # eta / eta_cov of the epoch-noise scaling
CFG = {   # chains, steps and sizes of the quick and full runs
    True: {"ft_chains": 4, "ft_chunks": 16, "ft_burn": 1.0, "cov_chains": 8,
           "cov_steps": 65_536, "wor_steps": 85_920, "stationary_fractions": (),
           "ep_chunks": 3, "n_perm": 256, "lin_steps": 2048, "slice_cells": 32,
           "slice_relax": 300, "mlp_chains": 4, "mlp_chunks": 2, "mlp_burn": 1024,
           "mlp_B": B_FT, "eps": (1e-6, 1e-8, 1e-10, 1e-12, 1e-14)},
    False: {"ft_chains": 16, "ft_chunks": 48, "ft_burn": 3.0, "cov_chains": 16,
            "cov_steps": 393_216, "wor_steps": 343_680, "stationary_fractions": (0.3,),
            "ep_chunks": 12, "n_perm": 1024, "lin_steps": 16_384, "slice_cells": 64,
            "slice_relax": 2000, "mlp_chains": 8, "mlp_chunks": 24, "mlp_burn": 8192,
            "mlp_B": B_FT, "eps": (1e-4, 1e-6, 1e-8, 1e-9, 1e-10, 1e-11, 1e-12, 1e-13, 1e-14)},
}


# ----------------------------------------------------------------------------- problems
class Problem:
    """A model at its minimum: ``H``, per-sample-gradient covariance, null directions, runs."""

    def __init__(self, model, data, w0, blocks, *, lbfgs=False):
        t0 = time.perf_counter()
        self.model, self.data = model, data
        if lbfgs:   # the MLP is non-convex: quasi-Newton from a random start, then Newton
            fun = lambda w: model._batch(w, data, None)
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
        run = mlp_sgd if isinstance(self.model, MLPClassifier) else sgd

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
    H = np.diag(th.lam)
    comm = np.linalg.norm(H @ th.D - th.D @ H) / np.linalg.norm(H @ th.D)
    sym = 0.5 * th.eta * (H @ th.Sigma + th.Sigma @ H)
    return {"eta": th.eta, "eta_lambda_max": float(th.eta * th.lam[-1]),
            "relaxation_steps_slowest": float(1 / (th.eta * th.lam[0])),
            "relaxation_steps_median": float(1 / (th.eta * np.median(th.lam))),
            "entropy_production": th.entropy_production,
            "entropy_production_exact": th.entropy_production_exact,
            "commutator_HD": float(comm),
            "circulation_relative_norm": float(np.linalg.norm(th.C) / np.linalg.norm(sym)),
            "trace_Sigma_disc": float(np.trace(th.Sigma_disc)),
            "theory_seconds": th.seconds}


def anharmonicity(prob, th, n=3, k=3.0) -> dict:
    """``[L(w* + k s v) - L(w*)] / (lam_v (k s)^2 / 2)`` along the top-``n`` eigenvectors of
    Sigma_disc and the ``n`` flattest Hessian directions (``s`` the theory's standard deviation
    along ``v``): 1 where the quadratic (Gaussian) approximation holds at ``k`` sigma."""
    _ev, V = np.linalg.eigh(th.Sigma_disc)
    L0 = prob.model.loss(prob.w, prob.data)
    out = {}
    for name, cols in (("top_sigma", range(-1, -n - 1, -1)), ("flattest_H", range(n))):
        ratios = []
        for c in cols:
            v = V[:, c] if name == "top_sigma" else np.eye(th.lam.size)[:, c]
            s = np.sqrt(v @ th.Sigma_disc @ v)
            curv = v @ (th.lam * v)
            rise = [prob.model.loss(prob.w + sg * k * s * (th.T @ v), prob.data) - L0
                    for sg in (1, -1)]
            ratios.append(float(np.mean(rise) / (0.5 * curv * (k * s) ** 2)))
        out[name] = ratios
    return out


# ----------------------------------------------------------------------------- runs
def window_stats(acc, k, keep_hist=False) -> dict:
    ds = acc.window_samples(k).ravel()
    res = fluctuation_test(ds, n_bootstrap=0)
    out = {"window": k, "n": int(ds.size), "mean": res.mean, "var": res.var,
           "gaussian_check": res.gaussian_check, "ift": res.ift.value,
           "ift_stderr": res.ift.stderr, "ift_z": res.ift_z, "ift_abs_z": abs(res.ift_z),
           "ift_tail_index": res.ift_tail_index, "dft_slope": res.dft_slope.value,
           "dft_slope_stderr": res.dft_slope.stderr, "dft_reduced_chi2":
           res.dft_slope.reduced_chi2, "verdict": bool(res.verdict)}
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
    w = pl.gaussian_start(th, n_chains, seed)
    if burn:
        w = step(w, burn, burn, seed).w_final
    acc = pl.EntropyAccumulator(th, WINDOWS)
    for X in pl.chunks(step, w, n_chunks * CHUNK, CHUNK, 1, seed + 1):
        acc.add(th.coordinates(X))
    out = {"batch_size": batch, "n_chains": n_chains, "burn_in": burn,
           "entropy": entropy_summary(acc, th),
           "windows": {str(k): window_stats(acc, k, keep_hist=k in (1, 8)) for k in WINDOWS}}
    out["seconds"] = time.perf_counter() - t0
    return out


def linear_chain_diagnosis(prob, th, batch, cfg) -> dict:
    """IFT/DFT of the linearized chain with the real minibatch noise and with Gaussian noise of
    the same covariance (single steps): isolates the non-Gaussianity of the noise."""
    G = prob.G @ th.T
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
    burn = int(np.ceil(5 / (th.eta * th.lam[0]) / every)) * every
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
        acc = pl.EntropyAccumulator(th, (1,))
        for X in pl.chunks(step, np.ascontiguousarray(w), entropy_chunks * CHUNK, CHUNK, 1,
                           seed + 2):
            acc.add(th.coordinates(X))
        out["entropy"] = entropy_summary(acc, th)
    out["seconds"] = time.perf_counter() - t0
    return out


def epoch_scaling(prob, eta_cov, n_perm) -> dict:
    """Covariance of the one-epoch displacement from w*, WR and WOR, against eta: simulated
    (real SGD) and theory (WR: the linear chain; WOR: leading order, eta^4)."""
    N = prob.data.N
    R = N // B
    kappa = (N - B) / (B * (N - 1))
    HSgH = np.trace(prob.H @ prob.Sg @ prob.H)
    out = {"eta": [], "wr": [], "wor": [], "wr_theory": [], "wor_theory": []}
    for i, f in enumerate(EPOCH_FRACTIONS):
        eta = f * eta_cov
        th = prob.theory(eta, B)
        mu2 = th.mu**2
        out["wr_theory"].append(float(np.sum(2 * np.diag(th.D) * (1 - mu2**R) / (1 - mu2))))
        out["wor_theory"].append(float(eta**4 * R**2 * (R**2 - 1) / (12 * (N - 1)) * HSgH))
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


def slice_section(prob, th, cfg) -> dict:
    """The pair of parameters whose 2x2 Gaussian theory is farthest from equilibrium: grid
    solution of the slice Fokker-Planck equation against SGD moving only those two."""
    from fpsolve.learning import sgd_fokker_planck, slice_sgd  # the slice tool

    t0 = time.perf_counter()
    D1 = prob.D1(B)
    F = prob.model.n_features
    lit = np.r_[np.tile((prob.data.x > 0).mean(axis=0), K), np.ones(K)]   # per parameter
    # weights of rarely lit pixels get rare large kicks (no diffusion limit): keep pixels lit
    # in >= half of the images, and the biases; among the 40 softest, the pair farthest from
    # equilibrium
    ok = np.flatnonzero(lit >= 0.5)
    cand = ok[np.argsort(np.diag(prob.H)[ok])[:40]]
    best = max(combinations(cand.tolist(), 2), key=lambda p: gaussian_theory(
        prob.H[np.ix_(p, p)], th.eta**2 * D1[np.ix_(p, p)], th.eta).entropy_production)
    lam2 = np.linalg.eigvalsh(prob.H[np.ix_(best, best)])
    eta = ETA_COV_FRACTION / lam2[-1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PositivityWarning)
        sp = sgd_fokker_planck(prob.model, prob.data, free=best, at=prob.w, eta=eta,
                               batch_size=B, n_cells=cfg["slice_cells"])
        res = sp.solve()
    n_steps = int(np.ceil(cfg["slice_relax"] / (eta * lam2[0])))
    run = slice_sgd(prob.model, prob.data, sp, n_steps=n_steps, n_chains=32, rng=SEED,
                    stationary=res)
    tv, noise = run.total_variation(res.p, bins=16)
    rate, se = run.entropy_production()
    epr = fp.entropy_production_rate(res)
    g = sp.grid
    return {"free": list(best), "pixels": [int(p % F) if p < K * F else -1 for p in best],
            "lit_fraction": [float(lit[p]) for p in best],
            "eta": eta, "eta_lambda_max": float(eta * lam2[-1]),
            "grid_shape": list(g.shape), "n_steps": n_steps, "residual": res.residual,
            "tv": tv, "tv_noise": noise, "tv_over_noise": tv / noise, "outside": run.outside,
            "epr_grid": epr, "epr_gauss": sp.theory.entropy_production, "epr_sgd": rate,
            "epr_sgd_stderr": se, "epr_z_grid": (rate - epr) / se,
            "epr_abs_z_grid": abs(rate - epr) / se,
            "seconds": time.perf_counter() - t0,
            "_fields": (g.cell_centers(), res.p, run.density)}


# ----------------------------------------------------------------------------- sections
def softmax_650_section(digits, cfg) -> dict:
    """All 64 pixels: the noise is singular on directions H couples to noisy ones."""
    prob = Problem(SoftmaxRegression(64, K, lam=LAM), digits, np.zeros(650), softmax_blocks(64))
    eta = 0.01 / prob.lam[-1]
    P = pl.complement(prob.Z)
    eps = list(cfg["eps"])
    ep = pl.regularized_entropy_production(prob.H, prob.D1(B), P, eta, eps)
    # asymptotic slope over the three smallest eps: -1 when e_p ~ 1 / eps (infinite at D)
    slope = float(np.polyfit(np.log(eps[-3:]), np.log(ep[-3:]), 1)[0])
    t0 = time.perf_counter()
    th = pl.reduced_theory(prob.H, prob.D1(B), prob.w, P, eta)   # Sigma exists: only H > 0
    active = pl.reduced_theory(prob.H, prob.D1(B), prob.w, prob.P, eta)
    return {**prob.summary(), "eta": eta, "regularization": eps, "entropy_production_reg": ep,
            "divergence_slope": slope, "entropy_production_unregularized":
            th.entropy_production, "entropy_production_noisy_subspace":
            active.entropy_production, "sigma_trace": float(np.trace(th.Sigma_disc)),
            "sigma_seconds": time.perf_counter() - t0}


def lyapunov_crosscheck(prob, th) -> dict:
    """Eigenbasis solution against fpsolve.linear (Bartels-Stewart) on the same problem."""
    t0 = time.perf_counter()
    Hr = np.diag(th.lam)
    ref = gaussian_theory(Hr, th.D, th.eta)
    sec = time.perf_counter() - t0
    return {"bartels_stewart_seconds": sec, "eigenbasis_seconds": th.seconds,
            "sigma_rel_diff": float(np.abs(ref.Sigma - th.Sigma).max() / np.abs(th.Sigma).max()),
            "sigma_disc_rel_diff": float(np.abs(ref.Sigma_disc - th.Sigma_disc).max()
                                         / np.abs(th.Sigma_disc).max()),
            "entropy_production_rel_diff": abs(ref.entropy_production / th.entropy_production
                                               - 1),
            "entropy_production_exact_rel_diff": abs(ref.entropy_production_exact
                                                     / th.entropy_production_exact - 1)}


def softmax_section(data, cfg, out, figs) -> None:
    F = data.x.shape[1]
    prob = Problem(SoftmaxRegression(F, K, lam=LAM), data, np.zeros(K * (F + 1)),
                   softmax_blocks(F))
    out["softmax"] = prob.summary()
    th0 = prob.theory(0.01 / prob.lam[-1], B)
    eta_ft = th0.eta / th0.entropy_production   # continuous e_p is linear in eta: <dS> = 1
    eta_cov = ETA_COV_FRACTION / prob.lam[-1]
    th_ft, th_ft100, th_cov = (prob.theory(eta_ft, B), prob.theory(eta_ft, B_FT),
                               prob.theory(eta_cov, B))
    out["softmax"]["theory_ft"] = theory_numbers(prob, th_ft)
    out["softmax"]["theory_cov"] = theory_numbers(prob, th_cov)
    out["softmax"]["lyapunov_crosscheck"] = lyapunov_crosscheck(prob, th_cov)
    out["softmax"]["anharmonicity_cov"] = anharmonicity(prob, th_cov)
    burn = int(cfg["ft_burn"] / (eta_ft * prob.lam[0]))
    out["ft_B100"] = ft_run(prob, th_ft100, B_FT, cfg["ft_chains"], cfg["ft_chunks"], burn, SEED)
    out["ft_B10"] = ft_run(prob, th_ft, B, cfg["ft_chains"], cfg["ft_chunks"], burn, SEED + 3)
    out["linear_chain_B10"] = linear_chain_diagnosis(prob, th_ft, B, cfg)
    out["covariance"] = covariance_run(prob, th_cov, "wr", cfg, SEED + 10,
                                       entropy_chunks=cfg["ep_chunks"])
    wor = covariance_run(prob, th_cov, "wor", cfg, SEED + 20)
    eps = epoch_scaling(prob, eta_cov, cfg["n_perm"])
    out["wr_wor"] = {"epoch": eps, "stationary": stationary_wr_wor(
        prob, out["covariance"], wor, cfg, eta_cov)}
    out["slice"] = slice_section(prob, th_cov, cfg)
    figs["spectrum"] = {k: out["covariance"]["top"][k] for k in
                        ("_spectrum", "_projected", "_empirical_eigs")}
    figs["wor_spectrum"] = wor["top"]["_projected"]


def mlp_section(data, cfg, quick) -> dict:
    F = data.x.shape[1]
    model = MLPClassifier(F, HIDDEN, K, lam=LAM)
    prob = Problem(model, data, model.initial_weights(SEED), mlp_blocks(F), lbfgs=True)
    out = prob.summary()
    th0 = prob.theory(0.01 / prob.lam[-1], B)
    eta = th0.eta / th0.entropy_production
    th = prob.theory(eta, cfg["mlp_B"])
    out["theory_ft"] = theory_numbers(prob, th)
    out["theory_0.01"] = theory_numbers(prob, th0)
    out["anharmonicity"] = anharmonicity(prob, th0)
    if not quick:
        out["lyapunov_crosscheck"] = lyapunov_crosscheck(prob, th0)
    out["ft"] = ft_run(prob, th, cfg["mlp_B"], cfg["mlp_chains"], cfg["mlp_chunks"],
                       cfg["mlp_burn"], SEED + 30)
    return out


def main(quick: bool = False) -> dict:
    cfg = CFG[quick]
    t0 = time.perf_counter()
    out, figs = {"quick": quick}, {}
    with pl.single_threaded_blas():
        full = load_digits()
        x, y = full.x[:N_IMAGES], full.y[:N_IMAGES]
        lit = (x > 0).sum(axis=0)
        keep = lit >= MIN_LIT
        data = Dataset(x[:, keep], y)
        out["data"] = {"N": N_IMAGES, "pixels_kept": int(keep.sum()),
                       "pixels_dropped_lit_counts": sorted(lit[~keep].tolist()), "lam": LAM}
        out["softmax_650"] = softmax_650_section(Dataset(x, y), cfg)
        softmax_section(data, cfg, out, figs)
        out["mlp"] = mlp_section(data, cfg, quick)
    out["targets"] = targets(out)
    out["seconds"] = time.perf_counter() - t0
    out["_data"] = collect_figure_data(out, figs)
    return out


def targets(out) -> dict:
    """The issue's targets, measured (True where met)."""
    w1 = out["ft_B100"]["windows"]["1"]
    return {
        "entropy_within_5pct_B100": out["ft_B100"]["entropy"]["abs_rel_err"] <= 0.05,
        "entropy_within_5pct_B10": out["ft_B10"]["entropy"]["abs_rel_err"] <= 0.05,
        "ift_within_3se_B100": w1["ift_abs_z"] <= 3,
        "dft_slope_B100": abs(w1["dft_slope"] - 1) <= 0.05,
        "ift_within_3se_B10": out["ft_B10"]["windows"]["1"]["ift_abs_z"] <= 3,
        "dft_slope_B10": abs(out["ft_B10"]["windows"]["1"]["dft_slope"] - 1) <= 0.05,
        "covariance_top5_within_10pct": out["covariance"]["top_ratio_max_abs_err"] <= 0.10,
        "mlp_entropy_within_5pct": out["mlp"]["ft"]["entropy"]["abs_rel_err"] <= 0.05,
        "mlp_ift_within_3se": out["mlp"]["ft"]["windows"]["1"]["ift_abs_z"] <= 3,
        "mlp_dft_slope": abs(out["mlp"]["ft"]["windows"]["1"]["dft_slope"] - 1) <= 0.05,
    }


def collect_figure_data(out, figs) -> dict:
    """Arrays for plot.py (popped from the JSON-bound results)."""
    hist = {}
    for name, sec in (("B100", out["ft_B100"]), ("B10", out["ft_B10"]),
                      ("mlp", out["mlp"]["ft"])):
        for k, w in sec["windows"].items():
            if "_hist" in w:
                hist[f"{name}_w{k}"] = w.pop("_hist")
    top = out["covariance"]["top"]
    for key in ("_spectrum", "_projected", "_empirical_eigs"):
        top.pop(key)
    for key in ("_spectrum", "_projected", "_empirical_eigs"):
        out["wr_wor"]["stationary"]["wor_top"].pop(key)
    out["covariance"].pop("_cov")
    return {"hist": hist, "spectrum": figs["spectrum"], "wor_spectrum": figs["wor_spectrum"],
            "slice": out["slice"].pop("_fields")}
