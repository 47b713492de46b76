"""Figures of the ou-ness case: density and current streamlines, convergence of the errors."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def main(results: dict, outdir: Path) -> list[Path]:
    data = results["_data"]
    x, y = data["x"][0][:, 0], data["x"][1][0, :]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5), sharey=True)
    for ax, p, J, title in [(axes[0], data["p"], data["J"], "finite volume"),
                            (axes[1], data["p_exact"], data["J_exact"], "exact")]:
        ax.pcolormesh(x, y, p.T, shading="auto", cmap="viridis")
        ax.streamplot(x, y, J[0].T, J[1].T, color="white", density=1.0, linewidth=0.7)
        ax.set_title(f"{title}: density and current")
        ax.set_xlabel("x1")
        ax.set_xlim(-4, 4)
        ax.set_ylim(-4, 4)
    axes[0].set_ylabel("x2")
    fig.tight_layout()
    first = Path(outdir) / "ou_ness_density_current.png"
    fig.savefig(first, dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    h = np.asarray(results["h"])
    for key, errs in results["errors"].items():
        ax.loglog(h, errs, "o-", label=key.replace("_", " "))
    ax.loglog(h, 0.5 * results["errors"]["density_l1_error"][0] * (h / h[0]) ** 2, "k--",
              label="slope 2")
    ax.set_xlabel("h")
    ax.set_ylabel("error")
    ax.set_title("ou-ness: observed orders " + ", ".join(
        f"{k} {v:.2f}" for k, v in results["orders"].items()), fontsize=8)
    ax.legend(fontsize=8)
    fig.tight_layout()
    second = Path(outdir) / "ou_ness_convergence.png"
    fig.savefig(second, dpi=110)
    plt.close(fig)
    return [first, second]
