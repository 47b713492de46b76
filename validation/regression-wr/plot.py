"""Figures of regression-wr: data and fit, stationary cloud with the theory ellipse, entropy
production histograms with the detailed fluctuation theorem, IFT against window length."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fpsolve import plotting
from fpsolve.learning import RegressionNetwork

NAMES = [f"w{k}" for k in range(1, 8)]


def main(results: dict, outdir: Path) -> list[Path]:
    outdir = Path(outdir)
    return [fit_figure(results, outdir), cloud_figure(results, outdir),
            dft_figure(results, outdir), ift_figure(results, outdir)]


def fit_figure(results, outdir) -> Path:
    data, net = results["_data"], RegressionNetwork()
    fig, ax = plotting.figure(figsize=(6, 4))
    xs = np.linspace(-3, 3, 400)
    ax.plot(data["x"], data["y"], ".", ms=3, color="0.5", label=results["data"])
    ax.plot(xs, net.predict(data["w"], xs), "C0", lw=2, label="network at the minimum")
    if data.get("authors") is not None:
        a = data["authors"]
        ax.plot(a["x"], a["y"], "x", ms=3, color="C3", alpha=0.5, label="authors' data")
        ax.plot(xs, net.predict(a["w"], xs), "C3--", lw=1.5, label="fit to authors' data")
    ax.plot(xs, np.exp(-xs**2), "k:", lw=1, label="exp(-x^2)")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("w5 tanh(w1 x + w3) + w6 tanh(w2 x + w4) + w7, N = 200")
    ax.legend(fontsize=7)
    return plotting.save_figure(fig, outdir / "regression_wr_fit.png")


def _ellipse(S, k):
    t = np.linspace(0, 2 * np.pi, 200)
    return k * np.linalg.cholesky(S) @ np.vstack([np.cos(t), np.sin(t)])


def cloud_figure(results, outdir) -> Path:
    data = results["_data"]
    i, j = results["projection_pair"]
    P = np.ix_([i, j], [i, j])
    cloud = data["cloud"][:, [i, j]]
    fig, ax = plotting.figure(figsize=(5.5, 5))
    ax.plot(cloud[:, 0], cloud[:, 1], ".", ms=1, alpha=0.3, color="0.4")
    for k in (1, 2, 3):
        e = _ellipse(data["Sigma_disc"][P], k)
        ax.plot(e[0], e[1], "C0", lw=1.2,
                label="theory Sigma_disc (1, 2, 3 sd)" if k == 1 else None)
        e = _ellipse(data["S"][P], k)
        ax.plot(e[0], e[1], "C1--", lw=1, label="empirical covariance" if k == 1 else None)
    # sense of rotation: the stationary current J = -C Sigma^-1 x p rotates like C_ij
    sign = np.sign(data["C"][i, j])
    r = 2 * np.sqrt(np.diag(data["Sigma_disc"][P]))
    ax.annotate("", xy=(0, sign * r[1]), xytext=(r[0], 0),
                arrowprops={"arrowstyle": "->", "color": "C3", "connectionstyle": "arc3,rad=0.4"})
    th = results["theory_simulated_eta"]
    ax.set_title(f"{NAMES[i]}-{NAMES[j]} (largest circulation), eta = {th['eta']:g}\n"
                 f"C_ij = {data['C'][i, j]:.3g}, area velocity {data['A'][i, j]:.3g} per step",
                 fontsize=9)
    ax.set_xlabel(f"{NAMES[i]} - w*")
    ax.set_ylabel(f"{NAMES[j]} - w*")
    ax.legend(fontsize=7, loc="upper right")
    ax.set_aspect("equal", adjustable="datalim")
    return plotting.save_figure(fig, outdir / "regression_wr_cloud.png")


def dft_figure(results, outdir) -> Path:
    data = results["_data"]
    keys = [("exact", 1), ("exact", 2), ("exact", 3), ("exact", data["long_window"])]
    fig, axes = plotting.figure(2, 4, figsize=(14, 6.5))
    for col, key in enumerate(keys):
        samples, points = data["windows"][key]
        entry = results["fluctuation"][key[0]][f"k{key[1]}"]
        ax = plotting.entropy_histogram(samples, bins=200, quantile=None, histtype="step",
                                        color="C0", ax=axes[0, col])
        ax.set_title(f"{key[0]} form, window {key[1]}: <dS> = {entry['mean']:.3g}", fontsize=9)
        plotting.fluctuation_ratio(points, slope=(entry["dft_slope"], entry["dft_slope_stderr"]),
                                   color="C0", label="SGD", ax=axes[1, col])
    return plotting.save_figure(fig, outdir / "regression_wr_dft.png")


def ift_figure(results, outdir) -> Path:
    fl = results["fluctuation"]
    fig, axes = plotting.figure(1, 2, figsize=(11, 4))
    kmax = 2 * results["_data"]["long_window"]   # beyond <dS> ~ 2 the IFT mean is tail noise
    for n, (form, entries) in enumerate((f, e) for f, e in fl.items() if f != "summary"):
        entries = {key: e for key, e in entries.items() if e["window"] <= kmax}
        k = np.array([e["window"] for e in entries.values()])
        v = np.array([e["ift"] for e in entries.values()])
        se = np.array([e["ift_stderr"] for e in entries.values()])
        o = np.argsort(k)
        axes[0].errorbar(k[o] * (1 + 0.04 * n), v[o] - 1, 2 * se[o], fmt="o-", ms=3, capsize=2,
                         label=f"{form} form (2 stderr)")
        m = np.array([e["mean"] for e in entries.values()])
        axes[1].loglog(k[o], m[o], "o", ms=4, label=f"<dS>, {form}")
    axes[0].axhline(0, color="k", lw=0.8)
    axes[0].set_xscale("log")
    axes[0].set_xlabel("window (steps)")
    axes[0].set_ylabel("<exp(-dS)> - 1")
    axes[0].set_title("integral fluctuation theorem (prepoint form: biased)")
    axes[0].set_yscale("symlog", linthresh=1e-5)
    axes[0].legend(fontsize=7)
    kk = np.logspace(0, np.log10(4096), 50)
    ep = results["theory_simulated_eta"]["entropy_production"]
    axes[1].loglog(kk, ep * kk, "k--", label="-tr(C D^-1 C Sigma^-1) * window")
    axes[1].axhline(1, color="0.6", lw=0.8)
    axes[1].set_xlabel("window (steps)")
    axes[1].set_ylabel("<dS>")
    axes[1].legend(fontsize=7)
    return plotting.save_figure(fig, outdir / "regression_wr_ift.png")
