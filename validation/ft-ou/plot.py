"""Figures of the ft-ou case: dS_tot histograms with the DFT line, the IFT against the window
length, the rate against dt with its extrapolation, the visited-cell density against p_ss."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def dft_figure(results: dict, path: Path) -> Path:
    """Top: histograms of dS_tot per window; bottom: ln P(s)/P(-s) with the line of slope 1."""
    samples, windows = results["_data"]["samples"], results["windows"]
    fig, axes = plt.subplots(2, len(windows), figsize=(3.3 * len(windows), 6.2))
    for col, ((ds, (s, y, err)), w) in enumerate(zip(samples, windows)):
        ax = axes[0, col]
        lo, hi = np.quantile(ds, [1e-4, 1 - 1e-4])
        ax.hist(ds, bins=120, range=(lo, hi), density=True, color="tab:blue", alpha=0.7)
        ax.axvline(w["mean"], color="k", lw=0.8, ls="--")
        ax.set_yscale("log")
        ax.set_title(f"tau = {w['tau']:.3g}: <dS> = {w['mean']:.3f}", fontsize=9)
        ax.set_xlabel("dS_tot")
        ax = axes[1, col]
        ax.errorbar(s, y, yerr=err, fmt="o", ms=3, color="tab:blue", label="MC")
        grid = np.linspace(0, max(s.max(), 1e-9) * 1.05, 50)
        ax.plot(grid, grid, "k-", lw=1, label="slope 1 (DFT)")
        ax.set_title(f"slope {w['dft_slope']:.3f} +- {w['dft_stderr']:.3f}", fontsize=9)
        ax.set_xlabel("s")
        if col == 0:
            axes[0, 0].set_ylabel("P(dS)")
            ax.set_ylabel("ln P(s)/P(-s)")
            ax.legend(fontsize=8)
    fig.suptitle(f"ft-ou: total entropy production per window (Euler-Maruyama, dt = "
                 f"{results['ft_dt']:g}, {results['ft_n_traj']} trajectories)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def ift_figure(results: dict, path: Path) -> Path:
    """<exp(-dS)> with CLT error bars and bootstrap intervals against the window length."""
    ift, tau = results["ift"], np.asarray(results["window_tau"])
    fig, ax = plt.subplots(figsize=(6, 4.3))
    val, err = np.asarray(ift["value"]), np.asarray(ift["stderr"])
    boot = np.asarray(ift["bootstrap_ci"])
    ax.errorbar(tau, val, yerr=err, fmt="o", capsize=4, label="MC, CLT standard error")
    ax.vlines(tau * 1.03, boot[:, 0], boot[:, 1], color="tab:orange", lw=3, alpha=0.6,
              label="95 % bootstrap interval")
    ax.axhline(1.0, color="k", lw=0.8)
    for t, v, e, a, ok in zip(tau, val, err, ift["tail_exponent_exact"], ift["z_reliable"]):
        ax.annotate(f"alpha = {a:.2f}" + ("" if ok else "\n(z unreliable)"),
                    (t, v + e), textcoords="offset points", xytext=(0, 8), ha="center",
                    fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("window tau")
    ax.set_ylabel("<exp(-dS_tot)>")
    ax.set_title("ft-ou: integral fluctuation theorem (alpha: exact tail exponent of exp(-dS))",
                 fontsize=9)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def epr_figure(results: dict, path: Path) -> Path:
    """Rate against dt: Monte Carlo, exact discrete expectation, extrapolation, exact sigma."""
    epr, sigma = results["epr"], results["exact_entropy_production_rate"]
    dts = np.array([r["dt"] for r in epr["runs"]])
    fig, ax = plt.subplots(figsize=(6, 4.3))
    ax.errorbar(dts, [r["rate"] for r in epr["runs"]], yerr=[r["stderr"] for r in epr["runs"]],
                fmt="o", capsize=4, label="MC <dS_tot>/tau")
    ax.plot(dts, [r["discrete_theory"] for r in epr["runs"]], "s", mfc="none",
            label="exact expectation of the discretization")
    ax.errorbar([0.0], [epr["extrapolated"]], yerr=[epr["stderr"]], fmt="D", capsize=4,
                color="tab:red", label=f"extrapolated: {epr['rel_error']:+.2%}")
    ax.axhline(sigma, color="k", lw=0.8, label=f"exact sigma = {sigma:.4f}")
    ax.axhspan(0.98 * sigma, 1.02 * sigma, color="0.9", label="+-2 %")
    ax.set_xlabel("dt")
    ax.set_ylabel("entropy production rate")
    ax.set_title("ft-ou: dt extrapolation of the trajectory entropy production", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def density_figure(results: dict, path: Path) -> Path:
    """Visited-cell histogram against the exact cell averages of p_ss."""
    data = results["_data"]
    x, y = data["hist_centers"][0][:, 0], data["hist_centers"][1][0, :]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    vmax = data["p_exact"].max()
    for ax, p, title in [(axes[0], data["hist"], "MC histogram"),
                         (axes[1], data["p_exact"], "exact p_ss")]:
        im = ax.pcolormesh(x, y, p.T, shading="auto", vmin=0, vmax=vmax)
        ax.set_title(title)
        ax.set_xlim(-4, 4)
        ax.set_ylim(-3, 3)
    fig.colorbar(im, ax=axes[:2])
    ax = axes[2]
    j = np.argmin(np.abs(y))
    ax.plot(x, data["hist"][:, j], "o", ms=3, label="MC, x2 ~ 0")
    ax.plot(x, data["p_exact"][:, j], "k-", label="exact")
    ax.set_xlim(-4, 4)
    ax.set_xlabel("x1")
    ax.set_title(f"TV distance {results['density_tv_distance']:.4f}")
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(results: dict, outdir: Path) -> list[Path]:
    outdir = Path(outdir)
    return [dft_figure(results, outdir / "ft_ou_dft.png"),
            ift_figure(results, outdir / "ft_ou_ift.png"),
            epr_figure(results, outdir / "ft_ou_epr_dt.png"),
            density_figure(results, outdir / "ft_ou_density.png")]
