"""Figures of the ft-nonlinear case: density and current streamlines (grid vs Monte Carlo),
dS_tot histograms with the DFT line, the IFT against the window length, the rate against dt."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fpsolve import plotting


def fields_figure(results: dict, path: Path) -> Path:
    """Density with current streamlines: grid (cell averages) and Monte Carlo, same cells."""
    data = results["_data"]
    vmax = data["p_ref"].max()
    fig, axes = plotting.figure(1, 3, figsize=(14, 5.2))
    for ax, p, J, title in [(axes[0], data["p_ref"], data["J_ref"], "grid (256^2 -> 32^2 cells)"),
                            (axes[1], data["p_mc"], data["J_mc"], "Monte Carlo (same cells)")]:
        plotting.density(p, J, centers=data["centers"], vmin=0, vmax=vmax, stream_density=1.1,
                         ax=ax)
        ax.set_title(title, fontsize=10)
        ax.set(xlabel="x", ylim=(-3.2, 3.2))
    axes[0].set_ylabel("y")
    mag = np.hypot(*data["J_ref"])
    err = np.hypot(*(data["J_mc"] - data["J_ref"]))
    shown = np.where(data["resolved"], err / np.maximum(mag, 1e-300), np.nan)
    ax = plotting.density(shown, centers=data["centers"], cmap="magma", vmin=0, vmax=0.15,
                          colorbar="|J_MC - J_grid| / |J_grid| (resolved cells)", ax=axes[2])
    ax.set(xlabel="x", ylim=(-3.2, 3.2))
    cur, den = results["current"], results["density"]
    ax.set_title(f"current rel. L2 {cur['l2']:.3f} (noise {cur['l2_noise_level']:.3f}); "
                 f"TV {den['tv']:.4f}", fontsize=9)
    return plotting.save_figure(fig, path)


def dft_figure(results: dict, path: Path) -> Path:
    """Histograms of dS_tot per window (top) and ln P(s)/P(-s) with slope 1 (bottom)."""
    samples, windows = results["_data"]["samples"], results["windows"]
    fig, axes = plotting.figure(2, len(windows), figsize=(3.6 * len(windows), 6.2),
                                squeeze=False)
    for col, ((ds, points), w) in enumerate(zip(samples, windows)):
        ax = plotting.entropy_histogram(ds, color="tab:green", ax=axes[0, col])
        ax.set_title(f"tau = {w['tau']:.3g}: <dS> = {w['mean']:.3f}", fontsize=9)
        plotting.fluctuation_ratio(points, slope=(w["dft_slope"], w["dft_stderr"]),
                                   color="tab:green", ax=axes[1, col])
    fig.suptitle("ft-nonlinear: total entropy production per window", fontsize=10)
    return plotting.save_figure(fig, path)


def ift_figure(results: dict, path: Path) -> Path:
    """<exp(-dS)> with CLT error bars and bootstrap intervals against the window length."""
    windows = results["windows"]
    tau = np.array([w["tau"] for w in windows])
    val = np.array([w["ift"] for w in windows])
    err = np.array([w["ift_stderr"] for w in windows])
    boot = np.array([w["ift_bootstrap_ci"] for w in windows])
    fig, ax = plotting.figure(figsize=(6, 4.3))
    plotting.integral_fluctuation(tau, val, err, bootstrap=boot, ax=ax)
    for t, v, e, w in zip(tau, val, err, windows):
        ax.annotate(f"z = {w['ift_z']:+.2f}\nHill alpha = {w['ift_tail_index']:.2f}"
                    + ("" if w["z_reliable"] else "\n(z unreliable)"),
                    (t, v - e), textcoords="offset points", xytext=(14, -34), ha="left",
                    fontsize=7)
    ax.set_title("ft-nonlinear: integral fluctuation theorem", fontsize=9)
    plotting.log_ticks_at(ax.xaxis, tau)
    lo = min(val.min() - 3 * err.max(), boot.min()) - 0.02
    ax.set_ylim(lo, max(1.05, val.max() + 2 * err.max(), boot.max()) + 0.02)
    ax.legend(fontsize=8, loc="upper right")
    return plotting.save_figure(fig, path)


def epr_figure(results: dict, path: Path) -> Path:
    """Trajectory entropy production rate against dt, its extrapolation and the grid value."""
    epr, grid_epr = results["epr"], results["grid"]["epr"]
    thr = results["thresholds"]["epr_rel"]
    runs = [[r[key] for r in epr["runs"]] for key in ("dt", "rate", "stderr")]
    fig, ax = plotting.figure(figsize=(6, 4.3))
    plotting.dt_extrapolation({"MC <dS_tot>/tau": runs}, ax=ax,
                              extrapolated=(epr["extrapolated"], epr["stderr"]),
                              reference=grid_epr, reference_label=f"grid (256^2) {grid_epr:.4f}",
                              rtol=thr, band_label=f"+-{thr:.0%} ({results['mode']} threshold)")
    ax.set_ylabel("entropy production rate")
    ax.set_title("ft-nonlinear: dt extrapolation vs grid entropy production", fontsize=9)
    return plotting.save_figure(fig, path)


def main(results: dict, outdir: Path) -> list[Path]:
    outdir = Path(outdir)
    return [fields_figure(results, outdir / "ft_nonlinear_density_current.png"),
            dft_figure(results, outdir / "ft_nonlinear_dft.png"),
            ift_figure(results, outdir / "ft_nonlinear_ift.png"),
            epr_figure(results, outdir / "ft_nonlinear_epr_dt.png")]

