"""Figures of the mfpt case: the grid tau field with Monte Carlo exit points, the mean exit time
against dt (with and without the Brownian-bridge exit test), and the survival probability."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fpsolve import plotting


def field_figure(results: dict, path: Path) -> Path:
    data = results["_data"]
    fig, ax = plotting.figure(figsize=(7, 5))
    plotting.density(data["tau"], centers=data["centers"], ax=ax,
                     colorbar="grid mean first-passage time tau(x)")
    pts = data["exit_points"]
    ax.plot(pts[:, 0], pts[:, 1], "o", ms=4, color="tab:red", alpha=0.25, clip_on=False,
            zorder=5, label="MC exit points (on the walls)")
    ax.plot(*results["x0"], "w*", ms=14, mec="k", label="x0")
    ax.set_title(f"mfpt: tau(x0) grid {results['grid']['tau_x0']:.4f}, MC (dt -> 0) "
                 f"{results['mc']['extrapolated']:.4f} +- {results['mc']['stderr']:.4f}",
                 fontsize=9)
    ax.set(xlabel="x", ylabel="y")
    ax.legend(fontsize=8, loc="upper right")
    return plotting.save_figure(fig, path)


def dt_figure(results: dict, path: Path) -> Path:
    mc, tau = results["mc"], results["grid"]["tau_x0"]
    thr = results["verdicts"]["mfpt"]["threshold"]
    runs = {label: [[r[key] for r in runs] for key in ("dt", "mean", "stderr")]
            for runs, label in [(mc["runs"], "Brownian-bridge exit test"),
                                (mc["no_bridge_runs"], "no exit test (O(sqrt dt))")]}
    fig, ax = plotting.figure(figsize=(6, 4.3))
    plotting.dt_extrapolation(runs, extrapolated=(mc["extrapolated"], mc["stderr"]),
                              reference=tau, reference_label=f"grid 256^2: {tau:.4f}", rtol=thr,
                              band_label=f"+-{thr:.0%} ({results['mode']} threshold)", ax=ax)
    ax.set_ylabel("mean exit time from x0")
    ax.set_title("mfpt: Euler-Maruyama exit times vs the backward equation", fontsize=9)
    return plotting.save_figure(fig, path)


def survival_figure(results: dict, path: Path) -> Path:
    data, surv = results["_data"], results["survival"]
    t = np.sort(data["exit_times"][np.isfinite(data["exit_times"])])
    S = 1.0 - np.arange(1, t.size + 1) / t.size
    fig, ax = plotting.figure(figsize=(6, 4.3))
    ax.semilogy(t[:-1], S[:-1], label=f"MC survival (dt = {surv['dt']:g})")
    kappa = data["decay_rate"]
    mid = np.searchsorted(t, 2.0 * results["grid"]["tau_x0"])
    ax.semilogy(t, S[mid] * np.exp(-kappa * (t - t[mid])), "k--",
                label=f"grid decay rate kappa = {kappa:.4f}")
    ax.set_xlabel("t")
    ax.set_ylabel("P(not yet absorbed)")
    ax.set_ylim(max(S[-2], 1e-5), 1.1)
    ax.set_title(f"mfpt: MC decay rate {surv['decay_rate_mc']:.4f} "
                 f"({surv['rel_diff_vs_grid']:+.1%}, +-{surv['rel_stderr_approx']:.1%})",
                 fontsize=9)
    ax.legend(fontsize=8)
    return plotting.save_figure(fig, path)


def main(results: dict, outdir: Path) -> list[Path]:
    outdir = Path(outdir)
    return [field_figure(results, outdir / "mfpt_tau_field.png"),
            dt_figure(results, outdir / "mfpt_dt.png"),
            survival_figure(results, outdir / "mfpt_survival.png")]
