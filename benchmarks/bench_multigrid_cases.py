"""Stationary solves on hard and easy 2-D problems: direct vs geometric multigrid vs classical AMG
vs "auto" (multigrid with the AMG fallback).

Cases: strong rotation with small D (cell Peclet number ~2.5; the geometric hierarchy fails and
"auto" falls back), 10x anisotropic grid spacing with strong drift, 100x anisotropic D
(semi-coarsening), the rotating double well, a tilted torus, odd sizes with correlated D.  Each row
prints time, iterations, relative residual and the L1 distance to the direct solution, which is
the baseline of the same run.

    python benchmarks/bench_multigrid_cases.py
"""

from __future__ import annotations

import warnings

import numpy as np

import fpsolve as fp

from _common import A_OU, D_OU, median_seconds, warm_up


def _linear(A, D):
    return fp.FokkerPlanckModel(lambda x: np.tensordot(np.asarray(A), x, axes=1), D)


def cases() -> dict:
    rot = [[-1.0, 5.0], [-5.0, -1.0]]
    box = fp.CartesianGrid
    torus = fp.FokkerPlanckModel(
        lambda x: np.stack([1.0 + np.cos(x[0]) + 0 * x[1], 0.5 + np.sin(x[0] + x[1])]), 0.3)
    return {
        "rotation 5, D 0.01, 300^2": (box([(-1, 1)] * 2, (300, 300)), _linear(rot, 0.01)),
        "spacing 10x, 200^2": (box([(-5, 5), (-50, 50)], (200, 200)),
                               _linear([[-1, 0.8], [-0.008, -0.01]], 1.0)),
        "D diag(1, 0.01), 200^2": (box([(-5, 5)] * 2, (200, 200)), _linear(A_OU, [1.0, 0.01])),
        "double well, 256^2": (box([(-2.5, 2.5)] * 2, (256, 256)),
                               fp.models.RotatingDoubleWell().model),
        "tilted torus, 200x180": (box([(0, 2 * np.pi)] * 2, (200, 180), boundary="periodic"),
                                  torus),
        "OU D_OU, 301x257": (box([(-7, 7)] * 2, (301, 257)), _linear(A_OU, D_OU)),
    }


def main() -> None:
    warm_up()
    for name, (grid, model) in cases().items():
        op = fp.FokkerPlanckOperator(grid, model)
        row, reference = [], None
        for method in ("direct", "multigrid", "amg", "auto"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                seconds, res = median_seconds(
                    lambda op=op, method=method: fp.solve_stationary(op, method=method), 1)
            reference = res.p if reference is None else reference
            l1 = np.abs(res.p - reference).sum() * grid.cell_volume
            row.append(f"{method} {seconds:.2f} s, {res.iterations} it, res {res.residual:.0e}, "
                       f"L1 {l1:.0e}{'' if res.converged else ' (not converged)'}"
                       f"{' [' + res.method + ']' if method == 'auto' else ''}")
        print(f"{name}:\n  " + "\n  ".join(row))


if __name__ == "__main__":
    main()
