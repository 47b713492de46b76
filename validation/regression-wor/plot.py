"""Figures of regression-wor: stationary mean shifts against eta, one-epoch noise scaling, and
the WR against the WOR stationary cloud and covariance."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fpsolve import plotting

PAIR = (2, 5)   # (w3, w6): the pair with the largest circulation in regression-wr


def main(results: dict, outdir: Path) -> list[Path]:
    outdir = Path(outdir)
    return [shift_figure(results, outdir), epoch_figure(results, outdir),
            covariance_figure(results, outdir)]


def shift_figure(results, outdir) -> Path:
    per = results["per_eta"]
    eta = np.array([e["eta"] for e in per])
    fig, axes = plotting.figure(1, 2, figsize=(11, 4.2))
    ax = axes[0]
    ax.loglog(eta, [e["wor_theory_shift_norm"] for e in per], "C0-",
              label="WOR theory: argmin L_eff (wor_stationary_mean)")
    ax.errorbar(eta, [e["wor_mean"]["norm"] for e in per],
                [np.linalg.norm(e["wor_mean"]["stderr"]) for e in per], fmt="C0o",
                label="WOR simulated (epoch ends)")
    ax.loglog(eta, [e["wr_theory_shift_norm"] for e in per], "C1--",
              label="WR theory: -(1/2) H^-1 grad tr(H Sigma)")
    wr = [e for e in per if "wr_mean" in e]
    ax.errorbar([e["eta"] for e in wr], [e["wr_mean"]["norm"] for e in wr],
                [np.linalg.norm(e["wr_mean"]["stderr"]) for e in wr], fmt="C1s",
                label="WR simulated")
    ax.set_xlabel("eta")
    ax.set_ylabel("|stationary mean - w*|")
    ax.set_title("stationary mean shift (both O(eta))")
    ax.legend(fontsize=7)
    plotting.log_ticks_at(ax.xaxis, eta, fmt="%.2g", rotation=20)
    plotting.log_ticks_125(ax.yaxis)
    ax = axes[1]
    ax.loglog(eta, [e["wor_mean"]["rel_err"] for e in per], "C0o-",
              label="WOR mean vs wor_stationary_mean")
    ax.loglog(eta, [e["wor_mean_vs_wr_theory"]["rel_err"] for e in per], "C2^-",
              label="WOR mean vs the WR shift theory")
    ax.loglog(eta, per[0]["wor_mean"]["rel_err"] * eta / eta[0], "k:", label="~ eta")
    ax.set_xlabel("eta")
    ax.set_ylabel("relative error of the shift")
    ax.legend(fontsize=7)
    plotting.log_ticks_at(ax.xaxis, eta, fmt="%.2g", rotation=20)
    return plotting.save_figure(fig, outdir / "regression_wor_mean_shift.png")


def epoch_figure(results, outdir) -> Path:
    ep = results["epoch_noise"]
    eta = np.array(ep["eta"])
    fig, ax = plotting.figure(figsize=(5.5, 4.2))
    plotting.convergence(eta, {"WOR": ep["wor"], "WR": ep["wr"]},
                         orders={k.upper(): (ep[k + "_slope"], ep[k + "_slope_stderr"])
                                 for k in ("wor", "wr")},
                         reference={"WOR": 4, "WR": 2}, fmt={"WOR": "C0o", "WR": "C1s"},
                         xlabel="eta", ylabel="tr Cov(one-epoch displacement)", ax=ax)
    ax.set_title(f"epoch of R = {results['epoch_R']} steps from w*: eta^4 vs eta^2",
                 fontsize=9)
    plotting.log_ticks_at(ax.xaxis, eta, fmt="%.2g", rotation=20)
    return plotting.save_figure(fig, outdir / "regression_wor_epoch_noise.png")


def _ellipse(S, center, k=2):
    t = np.linspace(0, 2 * np.pi, 200)
    return center[:, None] + k * np.linalg.cholesky(S) @ np.vstack([np.cos(t), np.sin(t)])


def _clouds(ax, d, i, j, which):
    P = np.ix_([i, j], [i, j])
    for key, color, label in which:
        cloud = d[f"{key}_cloud"]
        ax.plot(cloud[:, i], cloud[:, j], ".", ms=1, color=color, alpha=0.3)
        e = _ellipse(d[f"Sigma_{key}"][P], d[f"{key}_shift"][[i, j]])
        ax.plot(e[0], e[1], "-", color=color, label=label)
        ax.plot(*d[f"{key}_shift"][[i, j]], "x", color=color, ms=8)
    ax.plot(0, 0, "k+", ms=10, label="minimum w*")
    ax.set_xlabel(f"w{i + 1} - w*")
    ax.set_ylabel(f"w{j + 1} - w*")
    ax.ticklabel_format(style="sci", scilimits=(0, 0))
    ax.set_aspect("equal", adjustable="datalim")


def covariance_figure(results, outdir) -> Path:
    data = results["_data"]["per_eta"]
    eta = max(k for k, v in data.items() if "wr_cloud" in v)
    d = data[eta]
    i, j = PAIR
    fig, axes = plotting.figure(1, 3, figsize=(15, 4.6))
    _clouds(axes[0], d, i, j, [("wr", "C1", "WR: Sigma_disc (2 sd), x: theory mean"),
                               ("wor", "C0", "WOR: epoch-map covariance (2 sd)")])
    axes[0].set_title(f"stationary clouds at eta = {eta:g}", fontsize=9)
    axes[0].legend(fontsize=7)
    _clouds(axes[1], d, i, j, [("wor", "C0", "WOR (2 sd), x: argmin L_eff")])
    axes[1].plot(*d["wr_shift"][[i, j]], "x", color="C1", ms=8, label="WR theory mean")
    axes[1].set_title("zoom on the WOR cloud (epoch ends)", fontsize=9)
    axes[1].legend(fontsize=7)
    ax = axes[2]
    per = results["per_eta"]
    etas = np.array([e["eta"] for e in per])
    ax.loglog(etas, [e["wr_covariance_theory_trace"] for e in per], "C1-",
              label="WR theory tr Sigma_disc (~ eta)")
    wr = [e for e in per if "wr_covariance" in e]
    ax.loglog([e["eta"] for e in wr], [e["wr_covariance"]["trace"] for e in wr], "C1s",
              label="WR simulated")
    ax.loglog(etas, [e["wor_covariance"]["predicted_trace"] for e in per], "C0-",
              label="WOR theory, leading order (~ eta^3)")
    ax.errorbar(etas, [e["wor_covariance"]["trace"] for e in per],
                [e["wor_covariance"]["trace_ratio_stderr"] * e["wor_covariance"]["predicted_trace"]
                 for e in per], fmt="C0o", label="WOR simulated")
    ax.set_xlabel("eta")
    ax.set_ylabel("trace of the stationary covariance")
    ax.legend(fontsize=7)
    plotting.log_ticks_at(ax.xaxis, etas, fmt="%.2g", rotation=20)
    return plotting.save_figure(fig, outdir / "regression_wor_covariance.png")



