"""Figures of the ou-ness case: density and current streamlines, convergence of the errors."""

from __future__ import annotations

from pathlib import Path

from fpsolve import plotting


def main(results: dict, outdir: Path) -> list[Path]:
    data = results["_data"]
    fig, axes = plotting.figure(1, 2, figsize=(10, 4.5), sharey=True)
    for ax, p, J, title in [(axes[0], data["p"], data["J"], "finite volume"),
                            (axes[1], data["p_exact"], data["J_exact"], "exact")]:
        plotting.density(p, J, centers=data["x"], ax=ax)
        ax.set(title=f"{title}: density and current", xlabel="x1", xlim=(-4, 4), ylim=(-4, 4))
    axes[0].set_ylabel("x2")
    first = plotting.save_figure(fig, Path(outdir) / "ou_ness_density_current.png")

    fig, ax = plotting.figure(figsize=(5.5, 4.5))
    errors = {key.replace("_", " "): errs for key, errs in results["errors"].items()}
    plotting.convergence(results["h"], errors, reference=2, ax=ax)
    ax.set_title("ou-ness: errors and observed orders (least-squares slopes)", fontsize=8)
    second = plotting.save_figure(fig, Path(outdir) / "ou_ness_convergence.png")
    return [first, second]
