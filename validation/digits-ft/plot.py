"""Figures of the digits-ft case: entropy-production histograms with the DFT line, IFT against
the window length, spectrum of Sigma (theory vs trajectory), WR vs WOR scaling, the slice."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fpsolve import plotting

RUNS = (("B100", "softmax, B = 100", "ft_B100"), ("B10", "softmax, B = 10", "ft_B10"),
        ("mlp", "MLP", None))


def _section(results, key):
    return results["mlp"]["ft"] if key is None else results[key]


def histograms(results, outdir):
    """Top: dS histograms (binned in the compute step: counts at the bin centers); bottom:
    ln P(s)/P(-s) with the line of slope 1."""
    hist = results["_data"]["hist"]
    names = [k for k in ("B100_w1", "B10_w1", "mlp_w1", "B100_w8") if k in hist]
    fig, axes = plotting.figure(2, len(names), figsize=(3.6 * len(names), 6.4), squeeze=False)
    for col, name in enumerate(names):
        edges, counts, points = hist[name]
        edges = np.asarray(edges)
        ax = plotting.entropy_histogram(0.5 * (edges[1:] + edges[:-1]), bins=edges,
                                        weights=counts, histtype="step", color="k",
                                        ax=axes[0, col])
        ax.set_title(name.replace("_w", ", window "), fontsize=9)
        plotting.fluctuation_ratio(points, label="SGD", ax=axes[1, col])
    return plotting.save_figure(fig, Path(outdir) / "digits_ft_dft.png")


def ift_windows(results, outdir):
    fig, ax = plotting.figure(figsize=(5.6, 4.2))
    for i, (_, label, key) in enumerate(RUNS):
        win = _section(results, key)["windows"]
        k = np.array([w["window"] for w in win.values()], dtype=float)
        v = np.array([w["ift"] for w in win.values()])
        e = np.array([w["ift_stderr"] for w in win.values()])
        ax.errorbar(k * (1 + 0.04 * i), v, yerr=e, fmt="o-", ms=3, label=label)
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("window (SGD steps); <dS> ~ window at the chosen eta")
    ax.set_ylabel("<exp(-dS)>")
    ax.set_title("IFT against window length (tail index < 2 beyond a few steps)", fontsize=9)
    ax.legend(fontsize=8)
    return plotting.save_figure(fig, Path(outdir) / "digits_ft_ift_windows.png")


def spectrum(results, outdir):
    sp = results["_data"]["spectrum"]
    fig, ax = plotting.figure(figsize=(5.6, 4.2))
    n = np.arange(1, len(sp["_spectrum"]) + 1)
    ax.loglog(n, sp["_spectrum"], "k-", label="theory: eigenvalues of Sigma_disc")
    ax.loglog(n, sp["_projected"], ".", ms=3, label="WR SGD: variance along them")
    ax.loglog(n, sp["_empirical_eigs"], "-", lw=0.8, label="WR SGD: eigenvalues")
    ax.loglog(n, results["_data"]["wor_spectrum"], ".", ms=2, label="WOR SGD (epoch starts)")
    ax.set_xlabel("rank")
    ax.set_ylabel("variance")
    ax.set_title("softmax: stationary covariance spectrum, eta lambda_max = 0.1", fontsize=9)
    ax.legend(fontsize=7)
    return plotting.save_figure(fig, Path(outdir) / "digits_ft_spectrum.png")


def wr_wor(results, outdir):
    """Left: one-epoch displacement covariance against eta, WR and WOR, with their theories
    (same colour as the data).  Right: stationary traces; the WR Lyapunov theory is drawn as a
    bar marker at each eta (a dashed line alone vanishes when, as in quick mode, there is one
    eta).  WOR has no stationary theory here: its epoch expansion needs R eta lambda << 1."""
    ep, st = results["wr_wor"]["epoch"], results["wr_wor"]["stationary"]
    fig, axes = plotting.figure(1, 2, figsize=(10, 4.2))
    ax = plotting.convergence(ep["eta"], {"WR SGD": ep["wr"], "WOR SGD": ep["wor"]},
                              orders={"WR SGD": ep["wr_slope"], "WOR SGD": ep["wor_slope"]},
                              fmt={"WR SGD": "C0o", "WOR SGD": "C2s"}, xlabel="eta",
                              ylabel="tr Cov(one-epoch displacement)", ax=axes[0])
    ax.loglog(ep["eta"], ep["wr_theory"], "C0--", lw=0.8, label="WR theory")
    ax.loglog(ep["eta"], ep["wor_theory"], "C2--", lw=0.8, label="WOR theory (leading, eta^4)")
    ax.legend(fontsize=7)
    ax.set_title("one epoch from w*", fontsize=9)
    plotting.log_ticks_at(ax.xaxis, ep["eta"], fmt="%.2g", rotation=20)
    ax = axes[1]
    eta = np.asarray(st["eta"], dtype=float)
    line = "--" if eta.size > 1 else ""
    ax.loglog(eta, st["trace_wr"], "C0o", label="WR: tr Sigma (SGD)")
    ax.loglog(eta, st["trace_wr_theory"], f"k_{line}", ms=22, mew=1.5, lw=0.8,
              label="WR: Lyapunov theory")
    ax.loglog(eta, st["trace_wor"], "C2s", label="WOR: tr Sigma at epoch starts")
    ax.set_xlim(eta.min() / 1.6, eta.max() * 1.6)
    ax.margins(y=0.15)
    plotting.log_ticks_at(ax.xaxis, eta, fmt="%.2g", rotation=20)
    plotting.log_ticks_125(ax.yaxis)
    ratio = ", ".join(f"{r:.3g}" for r in st["ratio_wor_wr"])
    reta = ", ".join(f"{r:.3g}" for r in st["R_eta_lambda_max"])
    ax.set(xlabel="eta", ylabel="stationary trace")
    ax.set_title(f"stationary: WOR / WR = {ratio}\n(no WOR theory: its epoch expansion needs "
                 f"R eta lambda_max << 1, here {reta})", fontsize=8)
    ax.legend(fontsize=7, loc="center right", handlelength=3)
    return plotting.save_figure(fig, Path(outdir) / "digits_ft_wr_wor.png")






def slice_figure(results, outdir):
    x, p_grid, p_sgd = results["_data"]["slice"]
    fig, axes = plotting.figure(1, 2, figsize=(10, 4), sharey=True)
    vmax = float(max(np.max(p_grid), np.max(p_sgd)))   # one colour scale for both
    for ax, p, title in ((axes[0], p_grid, "grid (slice Fokker-Planck)"),
                         (axes[1], p_sgd, "SGD in the slice")):
        plotting.density(p, centers=x, ax=ax, vmin=0.0, vmax=vmax, colorbar="p")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(f"w[{results['slice']['free'][0]}]")
    axes[0].set_ylabel(f"w[{results['slice']['free'][1]}]")
    return plotting.save_figure(fig, Path(outdir) / "digits_ft_slice.png")


def main(results: dict, outdir: Path) -> list[Path]:
    return [histograms(results, outdir), ift_windows(results, outdir),
            spectrum(results, outdir), wr_wor(results, outdir), slice_figure(results, outdir)]
