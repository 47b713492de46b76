"""Figures of the regression-slice case: densities with currents, TV and EPR against eta."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fpsolve import plotting

LABELS = {"grid": "grid FP (covariance D)", "grid_modified": "grid FP (modified equation)",
          "grid_second": "grid FP (second-moment D)", "gauss": "Gaussian (continuous Sigma)",
          "gauss_disc": "Gaussian (exact chain Sigma_disc)"}


def _smooth(J, k=4):
    """Block-average a current field over k x k cells (the SGD estimate is noisy per cell)."""
    n0, n1 = (s // k * k for s in J.shape[1:])
    return J[:, :n0, :n1].reshape(2, n0 // k, k, n1 // k, k).mean(axis=(2, 4))


def _limits(grid, p, k=4.0):
    """``mean +- k std`` of the density ``p`` per axis (the box is wider, +-6 sigma)."""
    w = p / p.sum()
    out = []
    for axis in range(2):
        c = grid.axis_centers(axis)
        marg = w.sum(axis=1 - axis)
        m = (c * marg).sum()
        out.append((m - k * np.sqrt(((c - m) ** 2 * marg).sum()),
                    m + k * np.sqrt(((c - m) ** 2 * marg).sum())))
    return out


def density_figure(results, outdir) -> Path:
    fields = results["_data"]["fields"]
    pair = results["_data"]["pair"]
    fig, axes = plotting.figure(len(fields), 2, figsize=(10, 4.2 * len(fields)), squeeze=False)
    for row, (label, (grid, p, J, p_sgd, J_sgd)) in zip(axes, fields.items()):
        x, y = grid.axis_centers(0), grid.axis_centers(1)
        lim = _limits(grid, p_sgd)
        for ax, dens, cur, k, title in [(row[0], p, J, 1, "grid FP"),
                                        (row[1], p_sgd, J_sgd, 4, "slice SGD histogram")]:
            plotting.density(dens, centers=(x, y), ax=ax)  # streamlines of the smoothed J below
            X = np.stack(np.meshgrid(x, y, indexing="ij"))
            Jk, Xk = (_smooth(cur, k), _smooth(X, k)) if k > 1 else (cur, X)
            # streamlines only where the SGD histogram has mass (elsewhere it is pure noise)
            weak = _smooth(np.stack([p_sgd, p_sgd]), k)[0] < 0.02 * p_sgd.max()
            Jk = np.ma.masked_where(np.stack([weak, weak]), Jk)
            ax.streamplot(Xk[0][:, 0], Xk[1][0], Jk[0].T, Jk[1].T, color="white",
                          density=0.9, linewidth=0.6)
            ax.contour(x, y, p.T, levels=5, colors="red", linewidths=0.6)
            ax.set_xlim(*lim[0])
            ax.set_ylim(*lim[1])
            ax.set_title(f"eta = {label}: {title} and current (red: grid contours)", fontsize=9)
            ax.set_xlabel(f"w{pair[0] + 1}")
            ax.set_ylabel(f"w{pair[1] + 1}")
    return plotting.save_figure(fig, Path(outdir) / "regression_slice_density_current.png",
                                dpi=100)


def tv_figure(results, outdir) -> Path:
    d = results["_data"]
    etas = np.asarray(d["etas"])
    fig, axes = plotting.figure(1, 3, figsize=(15, 4.5))
    ax = axes[0]
    for key, vals in d["tv"].items():
        ax.loglog(etas, vals, "o-", label=LABELS[key])
    ax.loglog(etas, d["tv_noise"], "k--", label="sampling noise level")
    ax.set_xlabel("eta")
    ax.set_ylabel("TV distance to the SGD histogram")
    ax.legend(fontsize=7)
    ax = axes[1]
    ep = d["epr"]
    ax.errorbar(etas, np.asarray(ep["sgd"]) / etas, 2 * np.asarray(ep["sgd_se"]) / etas, fmt="ko",
                capsize=3, label="SGD trajectories (+-2 SE)")
    for key in ("grid", "grid_modified", "gauss"):
        ax.semilogx(etas, np.asarray(ep[key]) / etas, "s-" if key != "gauss" else "--",
                    label=LABELS[key])
    ax.set_xscale("log")
    ax.set_yscale("log")  # the modified equation leaves the scale at eta lambda_max > 1
    ax.set_xlabel("eta")
    ax.set_ylabel("entropy production per step / eta")
    ax.legend(fontsize=7)
    ax = axes[2]
    m = d["mean"]
    ax.errorbar(etas, m["sgd"], 2 * np.asarray(m["sgd_se"]), fmt="ko", capsize=3,
                label="SGD (+-2 SE)")
    ax.semilogx(etas, m["grid"], "s-", label=LABELS["grid"])
    ax.semilogx(etas, m["grid_modified"], "^-", label=LABELS["grid_modified"])
    ax.axhline(0, color="gray", ls="--", label="Gaussian theories")
    ax.set_xlabel("eta")
    ax.set_ylabel(f"mean shift of w{d['pair'][0] + 1} / sigma")
    ax.legend(fontsize=7)
    fig.suptitle(f"SGD on the slice (w{d['pair'][0] + 1}, w{d['pair'][1] + 1}) of the paper's "
                 "regression network", fontsize=10)
    return plotting.save_figure(fig, Path(outdir) / "regression_slice_tv_epr_mean.png", dpi=100)


def main(results: dict, outdir: Path) -> list[Path]:
    return [density_figure(results, outdir), tv_figure(results, outdir)]
