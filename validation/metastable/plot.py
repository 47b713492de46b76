"""Figures of the metastable case: log-density of the 2-D well pair (GTH and sparse LU) with the
bottleneck plane, relative error per cell against the exact density on the 1e-300 tail, and
the well masses of the three problems."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fpsolve import plotting

ZERO_DRAWN_AT = 1e-18   # relative errors that are exactly 0 are drawn here on the log axis


def _log10(p):
    """log10 of a density, masked where it is not positive (round-off zeros of LU)."""
    p = np.asarray(p, dtype=float)
    return np.ma.masked_where(p <= 0, np.log10(np.where(p > 0, p, 1.0)))


def well_pair(results: dict, outdir: Path) -> Path:
    data, out = results["_data"]["well_2d"], results["well_2d"]
    logs = [_log10(data["p_gth"]), _log10(data["p_direct"])]
    vmin, vmax = min(v.min() for v in logs), max(v.max() for v in logs)
    fig, axes = plotting.figure(1, 2, figsize=(11, 4.2), sharey=True)
    axis, at = data["bottleneck"]
    for ax, logp, J, key, name in [(axes[0], logs[0], data["J"], "auto", "GTH (default)"),
                                   (axes[1], logs[1], None, "direct", "sparse LU (direct)")]:
        plotting.density(logp, J, centers=(data["x"], data["y"]), ax=ax, cmap="magma",
                         vmin=vmin, vmax=vmax, streamlines=J is not None,
                         colorbar="log10 p" if ax is axes[1] else False, stream_density=0.8)
        (ax.axvline if axis == 0 else ax.axhline)(at, color="cyan", ls="--", lw=1.2,
                                                  label=f"bottleneck plane x{axis + 1} = {at:.3g}")
        r = out[key]
        ax.set(title=f"{name}: left mass {r['left_mass']:.15f}\n"
                     f"converged={r['converged']}, kappa={r['kappa']:.1e}", xlabel="x1")
        ax.title.set_fontsize(8)
    axes[0].set_ylabel("x2")
    axes[0].legend(loc="lower left", fontsize=7)
    fig.suptitle(f"a = -(I + Q) grad U, barrier {results['well_1d']['barrier']:g} D, "
                 f"{out['shape'][0]}x{out['shape'][1]} cells "
                 f"(GTH: current streamlines; density range {out['auto']['dynamic_range']:.0e})",
                 fontsize=9)
    return plotting.save_figure(fig, Path(outdir) / "metastable_2d_log_density.png")


def tail_errors(results: dict, outdir: Path) -> Path:
    # log10 coordinates on linear axes: matplotlib's log axes overflow near 1e-304.
    data, out = results["_data"]["tail"], results["tail"]
    fig, ax = plotting.figure(figsize=(6.5, 4.5))
    x = np.log10(data["rel_density"])
    for key, name, marker in [("err_gth", "GTH (default)", "o"),
                              ("err_direct", "sparse LU (direct)", "s")]:
        err = np.asarray(data[key], dtype=float)
        ax.plot(x, np.log10(np.where(err > 0, err, ZERO_DRAWN_AT)), marker, ms=2.5, ls="none",
                label=name)
    ax.axhline(-6, color="k", lw=0.8, ls=":", label="target 1e-6")
    ax.axvline(np.log10(data["floor_direct"]), color="tab:orange", lw=0.8, ls="--",
               label=f"LU floor reported in res.conditioning ({data['floor_direct']:.1e})")
    off = out["direct"]["log10_error_outer_min"]
    lu = (f"off by >= {off:.0f} decades" if np.isfinite(off)
          else "returned as 0 (infinitely many decades off)")
    ax.set(xlabel="log10 (exact density / max) of the cell",
           ylabel="log10 relative error of the cell (exact 0 drawn at -18)",
           title=f"a = -1, D = 1 on [0, 700], {out['n']} cells, SG rates: GTH max "
                 f"{out['gth']['rel_error_max']:.1e}; LU outer tenth {lu}",
           ylim=(np.log10(ZERO_DRAWN_AT) - 0.5, None))
    ax.title.set_fontsize(8)
    ax.invert_xaxis()
    ax.legend(fontsize=7, loc="center left")
    return plotting.save_figure(fig, Path(outdir) / "metastable_tail_errors.png")


def well_masses(results: dict, outdir: Path) -> Path:
    d1, masses = results["_data"]["well_1d"], results["_data"]["masses"]
    fig, axes = plotting.figure(1, 2, figsize=(11, 4.2))
    ax = axes[0]
    ax.plot(d1["x"], _log10(d1["p_gth"]), label="GTH (default)")
    ax.plot(d1["x"], _log10(d1["p_direct"]), "--", label="sparse LU (direct)")
    ax.set(xlabel="x", ylabel="log10 p",
           title=f"1-D double well, barrier {results['well_1d']['barrier']:g} D, "
                 f"{results['well_1d']['n']} cells: left mass GTH "
                 f"{results['well_1d']['gth']['left_mass']:.15f}, "
                 f"LU {results['well_1d']['direct']['left_mass']:.4f}")
    ax.title.set_fontsize(7)
    ax.legend(fontsize=7)
    ax = axes[1]
    names = list(masses)
    pos = np.arange(len(names))
    gth = [masses[k][0] for k in names]
    lu = [masses[k][1] for k in names]
    floor = 1e-17   # exact zeros would vanish on the log axis
    ax.bar(pos - 0.2, np.maximum(gth, floor), 0.4, label="GTH / auto (default)")
    ax.bar(pos[[v is not None for v in lu]] + 0.2,
           [max(v, floor) for v in lu if v is not None], 0.4, label="sparse LU (direct)")
    for x, g, v in zip(pos, gth, lu):
        ax.text(x - 0.2, max(g, floor) * 2, f"{g:.1e}", ha="center", fontsize=7)
        if v is not None:
            ax.text(x + 0.2, max(v, floor) * 2, f"{v:.1e}", ha="center", fontsize=7)
    ax.axhline(1e-6, color="k", lw=0.8, ls=":", label="target 1e-6")
    ax.set_yscale("log")
    ax.set(xticks=pos, xticklabels=names, ylabel="max |well mass - 1/2|", ylim=(floor, 10),
           title="well masses against the exact 1/2 (symmetry)")
    ax.title.set_fontsize(8)
    ax.legend(fontsize=7, loc="center left")
    return plotting.save_figure(fig, Path(outdir) / "metastable_well_masses.png")


def main(results: dict, outdir: Path) -> list[Path]:
    return [well_pair(results, outdir), tail_errors(results, outdir),
            well_masses(results, outdir)]
