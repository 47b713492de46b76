"""Figures of the sgworld-posterior case: the Gaussian benchmark, the logistic histograms, the
stationary currents of SGLD and SGWORLD side by side, and the scope of midpoint SGWORLD
(covariance error vs eta on the three scope designs, and its chain check)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fpsolve import plotting

COLORS = {"ULA": "k", "SGLD": "tab:red", "SGLDCV": "tab:orange", "SGWORLD (epoch)": "tab:blue",
          "SGWORLD (step)": "tab:cyan", "SGWORLD": "tab:blue", "midpoint SGWORLD": "tab:green"}


def _loglog(ax, x, y, se, label, slope, slope_se=None):
    pts = [(a, b, s or 0.0) for a, b, s in zip(x, y, se) if b is not None and b > 0]
    if not pts:
        return
    a, b, s = np.array(pts).T
    name = label if slope is None else f"{label} (slope {slope:.2f})"
    if slope_se:
        name = f"{label} (slope {slope:.2f} ± {slope_se:.2f})"
    ax.errorbar(a, b, yerr=np.minimum(s, 0.99 * b), color=COLORS[label], marker="o", ms=3,
                lw=1.2, capsize=2, label=name)


def gaussian_figure(res, outdir: Path) -> Path:
    gauss = res["gaussian"]
    fig, axes = plotting.figure(2, len(gauss), figsize=(4.2 * len(gauss), 7.5), squeeze=False)
    for col, g in enumerate(gauss.values()):
        x = g["r_eta_lambda"]
        for row, (metric, ylabel) in enumerate([("kl", "KL(stationary || posterior)"),
                                                ("rel_cov_error", "relative covariance error")]):
            ax = axes[row, col]
            for label, s in g["samplers"].items():
                _loglog(ax, x, s[metric], s[metric + "_se"], label, g["slopes"][label][metric])
            ax.axvline(0.1, color="0.6", ls=":", lw=1)
            if metric == "kl":
                ax.axhline(1e-4, color="0.6", ls="--", lw=1)
                ax.set_title(f"d = {g['d']}, N = {g['N']}, B = {g['B']} (R = {g['R']})")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel(r"$R\,\eta\,\lambda_{max}$")
            ax.set_ylabel(ylabel)
            ax.legend(fontsize=6.5, loc="upper left")
    fig.suptitle("Bayesian linear regression: exact stationary moments (SGWORLD: Monte Carlo "
                 "over permutations, jackknife errors); slopes fitted for $R\\eta\\lambda \\leq "
                 "0.1$", fontsize=10)
    return plotting.save_figure(fig, outdir / "sgworld_gaussian_benchmark.png")


def logistic_figure(res, outdir: Path) -> Path:
    from matplotlib.ticker import NullFormatter

    L = res["logistic"]
    x = L["eta_lambda_max"]
    fig, axes = plotting.figure(1, 2, figsize=(10, 4))
    for ax, metric in zip(axes, ("tv", "kl")):
        for label, rows in L["histograms"].items():
            pts = [(a, r[metric], r["tv_noise_split"]) for a, r in zip(x, rows) if r]
            if not pts:
                continue
            a, b, noise = np.array(pts).T
            ax.loglog(a, b, "o-", color=COLORS[label], label=label, ms=4)
            if metric == "tv":
                ax.loglog(a, noise, ":", color=COLORS[label], lw=0.8)
        ax.set_xlabel(r"$\eta\,\lambda_{max}$" + f"  (R = {L['R']})")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_ylabel({"tv": "total variation (dotted: noise, split chains)",
                       "kl": "KL(histogram || quadrature)"}[metric])
        ax.legend(fontsize=7)
    fig.suptitle(f"2-D Bayesian logistic regression (N = {L['N']}, B = {L['B']}): histograms "
                 f"({L['bins'][0]}x{L['bins'][1]} bins) vs the exact posterior", fontsize=10)
    return plotting.save_figure(fig, outdir / "sgworld_logistic_histograms.png")


def current_figure(res, outdir: Path) -> Path:
    from matplotlib.colors import LogNorm

    fields = res["_data"]["fields"]
    fpv = res["logistic"]["fokker_planck"]
    X = fields["x"]
    speeds = {k: np.sqrt((fields[k]["J"]**2).sum(axis=0)) for k in ("sgld", "sgworld")}
    vmax = max(s.max() for s in speeds.values())
    norm = LogNorm(vmin=vmax * 1e-5, vmax=vmax)
    fig, axes = plotting.figure(1, 2, figsize=(11, 4.8), sharey=True)
    for ax, key, title in zip(axes, ("sgld", "sgworld"), ("SGLD", "SGWORLD (epoch ends)")):
        J = fields[key]["J"]
        im = ax.pcolormesh(X[0], X[1], np.maximum(speeds[key], vmax * 1e-5), norm=norm,
                           cmap="magma", shading="auto")
        ax.contour(X[0], X[1], fields["p_post"], 6, colors="w", linewidths=0.6)
        ax.streamplot(X[0][:, 0], X[1][0], J[0].T, J[1].T, color="c", density=0.8,
                      linewidth=0.6, arrowsize=0.6)
        f = fpv[key]
        ax.set_title(f"{title}: EPR {f['entropy_production_per_step']:.2e}/step, "
                     f"max|J| {f['max_current']:.1e}", fontsize=9)
        ax.set_xlabel(r"$\theta_0$ (slope direction)")
    axes[0].set_ylabel(r"$\theta_1$ (intercept direction)")
    fig.colorbar(im, ax=axes, label="|J| (same scale)")
    fig.suptitle("Stationary probability currents of the Fokker-Planck models (white: exact "
                 "posterior)", fontsize=10)
    return plotting.save_figure(fig, outdir / "sgworld_currents.png", tight=False)


def scope_figure(res, outdir: Path) -> Path:
    configs = res["scope"]["configs"]
    fig, axes = plotting.figure(2, 3, figsize=(14, 8.5), squeeze=False)
    for ax, c in zip(axes.flat, configs.values()):
        for label, s in c["samplers"].items():
            _loglog(ax, c["r_eta_lambda"], s["rel_cov_error"], s["rel_cov_error_se"], label,
                    s["slope"], s["slope_se"])
        ax.axvline(0.1, color="0.6", ls=":", lw=1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(r"$R\,\eta\,\lambda_{max}$")
        ax.set_ylabel("relative covariance error")
        ax.set_title(f"{c['design']}, B = {c['B']} (R = {c['R']}, cond H = {c['cond_H']:.0f})",
                     fontsize=9)
        ax.legend(fontsize=6.5, loc="upper left")
    _chain_panel(axes.flat[len(configs)], res["scope"]["chain_check"])
    fig.suptitle("Exact stationary moments at epoch ends (SGWORLD, midpoint SGWORLD: Monte Carlo "
                 "over permutations, jackknife errors); slopes fitted for $R\\eta\\lambda "
                 "\\leq 0.1$", fontsize=10)
    return plotting.save_figure(fig, outdir / "sgworld_scope.png")


def _chain_panel(ax, cc):
    """Per-chain variances of midpoint SGWORLD chains against both exact variances."""
    v = np.array(cc["per_chain_var_rel"])
    ax.plot(v, np.arange(v.size), "o", color="0.4", ms=3, label="one chain")
    for key, label, color in (("midpoint", "exact: midpoint SGWORLD", COLORS["midpoint SGWORLD"]),
                              ("sgworld", "exact: SGWORLD", COLORS["SGWORLD"])):
        mid, se = cc["var_rel"][key], cc["var_rel_se"][key]
        ax.axvspan(mid - 3 * se, mid + 3 * se, color=color, alpha=0.25)
        ax.axvline(mid, color=color, label=label)
    m, se = cc["var_rel"]["chains"], cc["var_rel_se"]["chains"]
    ax.errorbar([m], [v.size + 1.5], xerr=[3 * se], fmt="s", color="k", capsize=3,
                label="mean of chains (3 se)")
    ax.set_xlabel("stationary variance / posterior variance - 1")
    ax.set_ylabel("chain")
    ax.set_title(f"{cc['n_chains']} midpoint chains, 1-D, $R\\eta\\lambda_{{max}}$ = "
                 f"{cc['r_eta_lambda']:g}\nz = {cc['z_midpoint_var']:.1f} vs midpoint, "
                 f"{cc['z_sgworld_var']:.1f} vs SGWORLD", fontsize=8.5)
    ax.legend(fontsize=6.5, loc="lower right")


def main(results: dict, outdir: Path) -> list[Path]:
    outdir = Path(outdir)
    return [gaussian_figure(results, outdir), logistic_figure(results, outdir),
            current_figure(results, outdir), scope_figure(results, outdir)]
