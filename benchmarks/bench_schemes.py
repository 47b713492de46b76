"""Bond-rate schemes over the gallery: L1 density error, relative EPR error and run time.

Every problem has an exact stationary density; the error is ``sum |p - p_exact| V`` with
``p_exact`` the exact density at the cell centers normalized on the grid.  The entropy
production rate is Schnakenberg's bond sum (``fp.entropy_production_rate``), compared with the
exact value (relative error; absolute where the exact value is 0).  Schemes: ``sg``, ``split``,
``sqra`` (one solve each) and ``fitted`` (SG solve, then self-consistent density refits with
``fp.solve_stationary`` refits "fitted" rates itself; the number of refits is printed).  Times
are end to end (operator build, solves, refits) after a warm-up, on this machine.

    python benchmarks/bench_schemes.py [--problems hipe rot ...] [--scale 1.0]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import fpsolve as fp
from fpsolve.models.gallery import OrnsteinUhlenbeck, PositionDependentDiffusion1D, TiltedRing
from fpsolve.operators import SCHEMES

from _common import warm_up

J2 = np.array([[0.0, 1.0], [-1.0, 0.0]])
EPS = 0.05


def _ou(A, D, n, L=6.0):
    ou = OrnsteinUhlenbeck(A, D)
    grid = fp.CartesianGrid([(-L, L)] * ou.ndim, (n,) * ou.ndim)
    return grid, ou.model, ou.stationary_density, ou.entropy_production_rate


def _gradient_family(U, grad_U, D, Q, n, L, *, as_potential=False, div_D=None):
    """``a = -(D + Q) grad U (+ div D)``, Q antisymmetric: ``p ~ exp(-U)`` for any ``D(x)``;
    ``EPR = integral (Q grad U) . D^-1 (Q grad U) p`` by the midpoint rule on a fine grid
    (spectrally accurate for these smooth, rapidly decaying integrands)."""
    if callable(D):
        Dx = D
    else:
        D_const = np.asarray(D)

        def Dx(x):
            return np.broadcast_to(D_const.reshape(D_const.shape + (1,) * (x.ndim - 1)),
                                   D_const.shape + x.shape[1:])
    d = len(Q)
    if as_potential:
        def force(x):
            return -np.linalg.solve(np.moveaxis(Dx(x), (0, 1), (-2, -1)),
                                    np.moveaxis(np.tensordot(Q, grad_U(x), axes=1), 0, -1)
                                    [..., None])[..., 0].transpose(-1, *range(x.ndim - 1))
        model = fp.FokkerPlanckModel.from_potential(U, D, force=force,
                                                    diffusion_divergence=div_D)
    else:
        def drift(x):
            a = -np.einsum("ij...,j...->i...", Dx(x), grad_U(x)) - np.tensordot(Q, grad_U(x), 1)
            return a if div_D is None else a + div_D(x)
        model = fp.FokkerPlanckModel(drift, D, diffusion_divergence=div_D)
    fine = fp.CartesianGrid([(-L, L)] * d, (400,) * d if d == 2 else (60,) * d)
    X = fine.cell_centers()
    p = np.exp(-U(X))
    p /= p.sum() * fine.cell_volume
    Jc = -np.tensordot(Q, grad_U(X), axes=1) * p
    Di = np.linalg.inv(np.moveaxis(Dx(X), (0, 1), (-2, -1)))
    epr = float(np.sum(np.einsum("i...,...ij,j...->...", Jc, Di, Jc) / p) * fine.cell_volume)
    grid = fp.CartesianGrid([(-L, L)] * d, (n,) * d)
    return grid, model, lambda x: np.exp(-U(x)), epr


def _quadratic(x):
    return 0.5 * (x ** 2).sum(0)


def _nonlinear_U(x):
    return x[0] ** 4 / 4 + x[1] ** 2 / 2 + 0.3 * x[0] * x[1] + 0.05 * x[1] ** 4


def _nonlinear_grad(x):
    return np.stack([x[0] ** 3 + 0.3 * x[1], x[1] + 0.3 * x[0] + 0.2 * x[1] ** 3])


def _varying_D(x):
    """Diagonal ``D(x) = diag(1 + 0.5 tanh x0, 0.6 + 0.3 sin x1)``."""
    z = np.zeros_like(x[0])
    return np.array([[1 + 0.5 * np.tanh(x[0]), z], [z, 0.6 + 0.3 * np.sin(x[1])]])


def _varying_D_div(x):
    return np.stack([0.5 / np.cosh(x[0]) ** 2, 0.3 * np.cos(x[1])])


def _ring(amplitude, force, n):
    ring = TiltedRing(amplitude, force)
    grid = fp.CartesianGrid([(0.0, ring.period)], (n,), boundary="periodic")
    return grid, ring.model, lambda x: ring.stationary_density(x[0]), ring.entropy_production_rate


def _washboard_2d(n):
    """Tilted ring in x0 times a harmonic well in x1 (separable, exact)."""
    ring = TiltedRing(2.0, 1.0)
    model = fp.FokkerPlanckModel.from_potential(
        lambda x: 2.0 * np.cos(x[0]) + 0.5 * x[1] ** 2, 1.0,
        force=lambda x: np.stack([np.ones_like(x[0]), np.zeros_like(x[1])]))
    grid = fp.CartesianGrid([(0.0, ring.period), (-6.0, 6.0)], (n, n),
                            boundary=("periodic", "reflecting"))
    return (grid, model, lambda x: ring.stationary_density(x[0]) * np.exp(-0.5 * x[1] ** 2),
            ring.entropy_production_rate)


def _position_dependent(n):
    pdd = PositionDependentDiffusion1D()
    grid = fp.CartesianGrid([(-5.0, 5.0)], (n,))
    return grid, pdd.model(), lambda x: pdd.stationary_density(x[0]), 0.0


ROT = np.array([[-1.0, 0.8], [-0.8, -1.0]])
PROBLEMS = {
    "hipe (drift)": lambda s: _ou(-(EPS * np.eye(2) + J2), EPS, int(200 * s)),
    "hipe (U + f)": lambda s: _gradient_family(_quadratic, lambda x: x, EPS * np.eye(2), J2,
                                               int(200 * s), 6.0, as_potential=True),
    "hipe aniso": lambda s: _gradient_family(_quadratic, lambda x: x, np.diag([EPS, EPS / 4]),
                                             J2, int(200 * s), 6.0),
    "rotational OU": lambda s: _ou(ROT, 1.0, int(100 * s)),
    "anisotropic OU": lambda s: _ou(ROT, np.diag([1.0, 0.2]), int(100 * s)),
    "correlated OU": lambda s: _ou(ROT, np.array([[1.0, 0.3], [0.3, 0.5]]), int(100 * s)),
    "3-D OU": lambda s: _ou(np.array([[-1, .5, 0], [-.5, -1, .3], [0, -.3, -1.]]), 1.0,
                            int(24 * s), 5.0),
    "nonlinear NESS": lambda s: _gradient_family(_nonlinear_U, _nonlinear_grad,
                                                 np.diag([1.0, 0.5]), 2 * J2, int(100 * s), 4.0),
    "nonlinear D(x)": lambda s: _gradient_family(_nonlinear_U, _nonlinear_grad, _varying_D, J2,
                                                 int(100 * s), 4.0, div_D=_varying_D_div),
    "tilted ring": lambda s: _ring(2.0, 1.0, int(64 * s)),
    "tilted ring hi": lambda s: _ring(5.0, 3.0, int(64 * s)),
    "washboard 2-D": lambda s: _washboard_2d(int(64 * s)),
    "pos.-dep. D 1-D": lambda s: _position_dependent(int(100 * s)),
}


def run(grid, model, exact, epr_exact, scheme):
    """``(L1 error, EPR error, seconds, refits)`` of one scheme on one problem."""
    t0 = time.perf_counter()
    op = fp.FokkerPlanckOperator(grid, model, scheme=scheme)
    res = fp.solve_stationary(op)          # refits "fitted" rates itself
    op = res.operator
    seconds = time.perf_counter() - t0
    ref = exact(grid.cell_centers())
    ref = ref / (ref.sum() * grid.cell_volume)
    l1 = float(np.abs(res.p - ref).sum() * grid.cell_volume)
    epr = fp.entropy_production_rate(res)
    err = abs(epr - epr_exact) / epr_exact if epr_exact else abs(epr)
    return l1, err, seconds, op.refits


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--problems", nargs="+", default=list(PROBLEMS))
    parser.add_argument("--scale", type=float, default=1.0, help="grid size factor")
    args = parser.parse_args()
    warm_up()
    warnings.simplefilter("ignore")
    schemes = [s for s in ("sg", "split", "sqra", "fitted") if s in SCHEMES]
    print("L1 density error / EPR error (relative; absolute where the exact EPR is 0) / seconds")
    print(f"{'problem':16s} {'grid':>8s} " + " ".join(f"{s:>24s}" for s in schemes))
    for name in args.problems:
        grid, model, exact, epr_exact = PROBLEMS[name](args.scale)
        cells = "x".join(map(str, grid.shape))
        cols = []
        for s in schemes:
            l1, err, sec, refits = run(grid, model, exact, epr_exact, s)
            tag = f"+{refits}" if refits else ""
            cols.append(f"{l1:.2e}/{err:.1e}/{sec:.2f}{tag}")
        print(f"{name:16s} {cells:>8s} " + " ".join(f"{c:>24s}" for c in cols), flush=True)


if __name__ == "__main__":
    main()
