"""Figures of the mfpt case: the grid tau field with Monte Carlo exit points, the mean exit time
against dt (with and without the Brownian-bridge exit test), and the survival probability."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def field_figure(results: dict, path: Path) -> Path:
    data = results["_data"]
    x, y = data["centers"][0][:, 0], data["centers"][1][0, :]
    fig, ax = plt.subplots(figsize=(7, 5))
    im = ax.pcolormesh(x, y, data["tau"].T, shading="auto", cmap="viridis")
    fig.colorbar(im, ax=ax, label="grid mean first-passage time tau(x)")
    pts = data["exit_points"]
    ax.plot(pts[:, 0], pts[:, 1], "o", ms=4, color="tab:red", alpha=0.25, clip_on=False,
            zorder=5, label="MC exit points (on the walls)")
    ax.plot(*results["x0"], "w*", ms=14, mec="k", label="x0")
    ax.set_title(f"mfpt: tau(x0) grid {results['grid']['tau_x0']:.4f}, MC (dt -> 0) "
                 f"{results['mc']['extrapolated']:.4f} +- {results['mc']['stderr']:.4f}",
                 fontsize=9)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def dt_figure(results: dict, path: Path) -> Path:
    mc, tau = results["mc"], results["grid"]["tau_x0"]
    fig, ax = plt.subplots(figsize=(6, 4.3))
    for runs, label, fmt in [(mc["runs"], "Brownian-bridge exit test", "o"),
                             (mc["no_bridge_runs"], "no exit test (O(sqrt dt))", "s")]:
        ax.errorbar([r["dt"] for r in runs], [r["mean"] for r in runs],
                    yerr=[r["stderr"] for r in runs], fmt=fmt, capsize=4, label=label)
    ax.errorbar([0.0], [mc["extrapolated"]], yerr=[mc["stderr"]], fmt="D", capsize=4,
                color="tab:red", label=f"extrapolated: {mc['rel_error']:+.2%}")
    thr = results["verdicts"]["mfpt"]["threshold"]
    ax.axhline(tau, color="k", lw=0.8, label=f"grid 256^2: {tau:.4f}")
    ax.axhspan((1 - thr) * tau, (1 + thr) * tau, color="0.9",
               label=f"+-{thr:.0%} ({results['mode']} threshold)")
    ax.set_xlabel("dt")
    ax.set_ylabel("mean exit time from x0")
    ax.set_title("mfpt: Euler-Maruyama exit times vs the backward equation", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def survival_figure(results: dict, path: Path) -> Path:
    data, surv = results["_data"], results["survival"]
    t = np.sort(data["exit_times"][np.isfinite(data["exit_times"])])
    S = 1.0 - np.arange(1, t.size + 1) / t.size
    fig, ax = plt.subplots(figsize=(6, 4.3))
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
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(results: dict, outdir: Path) -> list[Path]:
    outdir = Path(outdir)
    return [field_figure(results, outdir / "mfpt_tau_field.png"),
            dt_figure(results, outdir / "mfpt_dt.png"),
            survival_figure(results, outdir / "mfpt_survival.png")]
