"""Figures of the ft-nonlinear case: density and current streamlines (grid vs Monte Carlo),
dS_tot histograms with the DFT line, the IFT against the window length, the rate against dt."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def fields_figure(results: dict, path: Path) -> Path:
    """Density with current streamlines: grid (cell averages) and Monte Carlo, same cells."""
    data = results["_data"]
    x, y = data["centers"][0][:, 0], data["centers"][1][0, :]
    vmax = data["p_ref"].max()
    fig, axes = plt.subplots(1, 3, figsize=(14, 5.2))
    for ax, p, J, title in [(axes[0], data["p_ref"], data["J_ref"], "grid (256^2 -> 32^2 cells)"),
                            (axes[1], data["p_mc"], data["J_mc"], "Monte Carlo (same cells)")]:
        ax.pcolormesh(x, y, p.T, shading="auto", vmin=0, vmax=vmax, cmap="viridis")
        ax.streamplot(x, y, J[0].T, J[1].T, color="white", density=1.1, linewidth=0.7)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("x")
        ax.set_ylim(-3.2, 3.2)
    axes[0].set_ylabel("y")
    ax = axes[2]
    mag = np.hypot(*data["J_ref"])
    err = np.hypot(*(data["J_mc"] - data["J_ref"]))
    shown = np.where(data["resolved"], err / np.maximum(mag, 1e-300), np.nan)
    im = ax.pcolormesh(x, y, shown.T, shading="auto", cmap="magma", vmin=0, vmax=0.15)
    fig.colorbar(im, ax=ax, label="|J_MC - J_grid| / |J_grid| (resolved cells)")
    ax.set_ylim(-3.2, 3.2)
    ax.set_xlabel("x")
    cur, den = results["current"], results["density"]
    ax.set_title(f"current rel. L2 {cur['l2']:.3f} (noise {cur['l2_noise_level']:.3f}); "
                 f"TV {den['tv']:.4f}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def dft_figure(results: dict, path: Path) -> Path:
    """Histograms of dS_tot per window (top) and ln P(s)/P(-s) with slope 1 (bottom)."""
    samples, windows = results["_data"]["samples"], results["windows"]
    fig, axes = plt.subplots(2, len(windows), figsize=(3.6 * len(windows), 6.2))
    for col, ((ds, (s, y, err)), w) in enumerate(zip(samples, windows)):
        ax = axes[0, col]
        lo, hi = np.quantile(ds, [1e-4, 1 - 1e-4])
        ax.hist(ds, bins=120, range=(lo, hi), density=True, color="tab:green", alpha=0.7)
        ax.axvline(w["mean"], color="k", lw=0.8, ls="--")
        ax.set_yscale("log")
        ax.set_title(f"tau = {w['tau']:.3g}: <dS> = {w['mean']:.3f}", fontsize=9)
        ax.set_xlabel("dS_tot")
        ax = axes[1, col]
        ax.errorbar(s, y, yerr=err, fmt="o", ms=3, color="tab:green", label="MC")
        line = np.linspace(0, max(s.max(), 1e-9) * 1.05, 50)
        ax.plot(line, line, "k-", lw=1, label="slope 1 (DFT)")
        ax.set_title(f"slope {w['dft_slope']:.3f} +- {w['dft_stderr']:.3f}", fontsize=9)
        ax.set_xlabel("s")
    axes[0, 0].set_ylabel("P(dS)")
    axes[1, 0].set_ylabel("ln P(s)/P(-s)")
    axes[1, 0].legend(fontsize=8)
    fig.suptitle("ft-nonlinear: total entropy production per window", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def ift_figure(results: dict, path: Path) -> Path:
    """<exp(-dS)> with CLT error bars and bootstrap intervals against the window length."""
    windows = results["windows"]
    tau = np.array([w["tau"] for w in windows])
    val = np.array([w["ift"] for w in windows])
    err = np.array([w["ift_stderr"] for w in windows])
    boot = np.array([w["ift_bootstrap_ci"] for w in windows])
    fig, ax = plt.subplots(figsize=(6, 4.3))
    ax.errorbar(tau, val, yerr=err, fmt="o", capsize=4, label="MC, CLT standard error")
    ax.vlines(tau * 1.03, boot[:, 0], boot[:, 1], color="tab:orange", lw=3, alpha=0.6,
              label="95 % bootstrap interval")
    ax.axhline(1.0, color="k", lw=0.8)
    for t, v, e, w in zip(tau, val, err, windows):
        ax.annotate(f"z = {w['ift_z']:+.2f}\nHill alpha = {w['ift_tail_index']:.2f}"
                    + ("" if w["z_reliable"] else "\n(z unreliable)"),
                    (t, v - e), textcoords="offset points", xytext=(14, -34), ha="left",
                    fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("window tau")
    ax.set_ylabel("<exp(-dS_tot)>")
    ax.set_title("ft-nonlinear: integral fluctuation theorem", fontsize=9)
    lo = min(val.min() - 3 * err.max(), boot.min()) - 0.02
    ax.set_ylim(lo, max(1.05, val.max() + 2 * err.max(), boot.max()) + 0.02)
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def epr_figure(results: dict, path: Path) -> Path:
    """Trajectory entropy production rate against dt, its extrapolation and the grid value."""
    epr, grid_epr = results["epr"], results["grid"]["epr"]
    fig, ax = plt.subplots(figsize=(6, 4.3))
    ax.errorbar([r["dt"] for r in epr["runs"]], [r["rate"] for r in epr["runs"]],
                yerr=[r["stderr"] for r in epr["runs"]], fmt="o", capsize=4,
                label="MC <dS_tot>/tau")
    ax.errorbar([0.0], [epr["extrapolated"]], yerr=[epr["stderr"]], fmt="D", capsize=4,
                color="tab:red", label=f"extrapolated: {epr['rel_error']:+.2%}")
    ax.axhline(grid_epr, color="k", lw=0.8, label=f"grid (256^2) {grid_epr:.4f}")
    thr = results["thresholds"]["epr_rel"]
    ax.axhspan((1 - thr) * grid_epr, (1 + thr) * grid_epr, color="0.9",
               label=f"+-{thr:.0%} ({results['mode']} threshold)")
    ax.set_xlabel("dt")
    ax.set_ylabel("entropy production rate")
    ax.set_title("ft-nonlinear: dt extrapolation vs grid entropy production", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(results: dict, outdir: Path) -> list[Path]:
    outdir = Path(outdir)
    return [fields_figure(results, outdir / "ft_nonlinear_density_current.png"),
            dft_figure(results, outdir / "ft_nonlinear_dft.png"),
            ift_figure(results, outdir / "ft_nonlinear_ift.png"),
            epr_figure(results, outdir / "ft_nonlinear_epr_dt.png")]
