"""Figures of the ou-ness case: density and current streamlines (finite volume and exact, on one
colour scale), the error map FV - exact, and the convergence of the errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.ticker import FormatStrFormatter

from fpsolve import plotting

BOX = {"xlim": (-4, 4), "ylim": (-4, 4)}


def density_current(data: dict, outdir: Path) -> Path:
    """FV and exact densities with their current streamlines, one colour scale, and the signed
    error map FV - exact on a symmetric diverging scale."""
    fig, axes = plotting.figure(1, 3, figsize=(15, 4.6), sharey=True)
    vmax = float(max(np.max(data["p"]), np.max(data["p_exact"])))
    for ax, p, J, title in [(axes[0], data["p"], data["J"], "finite volume"),
                            (axes[1], data["p_exact"], data["J_exact"], "exact")]:
        plotting.density(p, J, centers=data["x"], ax=ax, vmin=0.0, vmax=vmax, colorbar="p")
        ax.set(title=f"{title}: density and current", xlabel="x1", **BOX)
    err = np.asarray(data["p"]) - np.asarray(data["p_exact"])
    scale = float(np.abs(err).max()) or 1.0
    plotting.density(err, centers=data["x"], ax=axes[2], streamlines=False, cmap="RdBu_r",
                     vmin=-scale, vmax=scale)
    # explicit exponents on the colour bar: its "1e-5" offset text would hit the title
    fig.colorbar(axes[2].collections[0], ax=axes[2], label="p (FV) - p (exact)",
                 format=FormatStrFormatter("%.1e"))
    axes[2].set(title=f"error FV - exact (max {scale / vmax:.1e} of max p)", xlabel="x1",
                **BOX)
    axes[0].set_ylabel("x2")
    return plotting.save_figure(fig, Path(outdir) / "ou_ness_density_current.png")


def convergence(results: dict, outdir: Path) -> Path:
    fig, ax = plotting.figure(figsize=(5.5, 4.5))
    errors = {key.replace("_", " "): errs for key, errs in results["errors"].items()}
    plotting.convergence(results["h"], errors, reference=2, ax=ax)
    plotting.log_ticks_at(ax.xaxis, results["h"])
    ax.set_title("ou-ness: errors and observed orders (least-squares slopes)", fontsize=8)
    return plotting.save_figure(fig, Path(outdir) / "ou_ness_convergence.png")




def main(results: dict, outdir: Path) -> list[Path]:
    return [density_current(results["_data"], outdir), convergence(results, outdir)]
