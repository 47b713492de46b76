"""Figures of the ft-ou case: dS_tot histograms with the DFT line, the IFT against the window
length, the rate against dt with its extrapolation, the visited-cell density against p_ss."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fpsolve import plotting


def dft_figure(results: dict, path: Path) -> Path:
    """Top: histograms of dS_tot per window; bottom: ln P(s)/P(-s) with the line of slope 1."""
    samples, windows = results["_data"]["samples"], results["windows"]
    fig, axes = plotting.figure(2, len(windows), figsize=(3.3 * len(windows), 6.2),
                                squeeze=False)
    for col, ((ds, points), w) in enumerate(zip(samples, windows)):
        ax = plotting.entropy_histogram(ds, ax=axes[0, col])
        ax.set_title(f"tau = {w['tau']:.3g}: <dS> = {w['mean']:.3f}", fontsize=9)
        plotting.fluctuation_ratio(points, slope=(w["dft_slope"], w["dft_stderr"]),
                                   ax=axes[1, col])
    fig.suptitle(f"ft-ou: total entropy production per window (Euler-Maruyama, dt = "
                 f"{results['ft_dt']:g}, {results['ft_n_traj']} trajectories)", fontsize=10)
    return plotting.save_figure(fig, path)


def ift_figure(results: dict, path: Path) -> Path:
    """<exp(-dS)> with CLT error bars and bootstrap intervals against the window length."""
    ift, tau = results["ift"], np.asarray(results["window_tau"])
    val, err = np.asarray(ift["value"]), np.asarray(ift["stderr"])
    fig, ax = plotting.figure(figsize=(6, 4.3))
    plotting.integral_fluctuation(tau, val, err, bootstrap=ift["bootstrap_ci"], ax=ax)
    for t, v, e, a, ok in zip(tau, val, err, ift["tail_exponent_exact"], ift["z_reliable"]):
        ax.annotate(f"alpha = {a:.2f}" + ("" if ok else "\n(z unreliable)"),
                    (t, v + e), textcoords="offset points", xytext=(0, 8), ha="center",
                    fontsize=7)
    ax.set_title("ft-ou: integral fluctuation theorem (alpha: exact tail exponent of exp(-dS))",
                 fontsize=9)
    plotting.log_ticks_at(ax.xaxis, tau)
    ax.legend(fontsize=8, loc="lower left")
    return plotting.save_figure(fig, path)


def epr_figure(results: dict, path: Path) -> Path:
    """Rate against dt: Monte Carlo, exact discrete expectation, extrapolation, exact sigma."""
    epr, sigma = results["epr"], results["exact_entropy_production_rate"]
    runs = {key: [r[key] for r in epr["runs"]] for key in ("dt", "rate", "stderr",
                                                             "discrete_theory")}
    fig, ax = plotting.figure(figsize=(6, 4.3))
    ax.plot(runs["dt"], runs["discrete_theory"], "s", mfc="none", color="C1",
            label="exact expectation of the discretization")
    plotting.dt_extrapolation({"MC <dS_tot>/tau": (runs["dt"], runs["rate"], runs["stderr"])},
                              extrapolated=(epr["extrapolated"], epr["stderr"]), reference=sigma,
                              rtol=0.02, reference_label=f"exact sigma = {sigma:.4f}", ax=ax)
    ax.set_ylabel("entropy production rate")
    ax.set_title("ft-ou: dt extrapolation of the trajectory entropy production", fontsize=9)
    return plotting.save_figure(fig, path)


def density_figure(results: dict, path: Path) -> Path:
    """Visited-cell histogram against the exact cell averages of p_ss."""
    data = results["_data"]
    x, y = data["hist_centers"][0][:, 0], data["hist_centers"][1][0, :]
    fig, axes = plotting.figure(1, 3, figsize=(13, 4))
    vmax = data["p_exact"].max()
    for ax, p, title in [(axes[0], data["hist"], "MC histogram"),
                         (axes[1], data["p_exact"], "exact p_ss")]:
        plotting.density(p, centers=(x, y), vmin=0, vmax=vmax, ax=ax)
        ax.set(title=title, xlim=(-4, 4), ylim=(-3, 3))
    fig.colorbar(axes[1].collections[0], ax=axes[:2])
    ax = axes[2]
    j = np.argmin(np.abs(y))
    ax.plot(x, data["hist"][:, j], "o", ms=3, label="MC, x2 ~ 0")
    ax.plot(x, data["p_exact"][:, j], "k-", label="exact")
    ax.set(xlim=(-4, 4), xlabel="x1", title=f"TV distance {results['density_tv_distance']:.4f}")
    ax.legend(fontsize=8)
    return plotting.save_figure(fig, path, tight=False)


def main(results: dict, outdir: Path) -> list[Path]:
    outdir = Path(outdir)
    return [dft_figure(results, outdir / "ft_ou_dft.png"),
            ift_figure(results, outdir / "ft_ou_ift.png"),
            epr_figure(results, outdir / "ft_ou_epr_dt.png"),
            density_figure(results, outdir / "ft_ou_density.png")]

