"""Second-order convergence with a position-dependent diffusion ``D(x)`` in each convention.

1-D, reflecting box [-6, 6], ``D(x) = 1 + 0.5 sin(x)^2``, ``b(x) = -x``.  The Ito drift is
``a = b + alpha D'`` (alpha = 0, 1/2, 1 for Ito, Stratonovich, anti-Ito) and the zero-current
stationary density solves ``a p - (D p)' = 0``:

    p(x) = exp(integral_0^x a/D dt) / D(x) / Z = D(x)^(alpha - 1) exp(-phi(x)) / Z,
    phi(x) = integral_0^x t / D(t) dt,

normalized on the box (reflecting walls: the zero-current density restricted to the box is the
stationary state).  ``phi`` and ``Z`` are computed by adaptive quadrature to ~1e-13 relative,
far below the finest discretization error (~1e-5).
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from convergence_orders import assert_order
from scipy.integrate import quad

import fpsolve as fp

L = 6.0
RESOLUTIONS = (64, 128, 256, 512)
CONVENTIONS = {"ito": 0.0, "stratonovich": 0.5, "anti-ito": 1.0}


def D_of(x):
    return 1.0 + 0.5 * np.sin(x) ** 2


def dD_of(x):
    return 0.5 * np.sin(2.0 * x)


def _phi(x: float) -> float:
    return quad(lambda t: t / D_of(t), 0.0, x, epsabs=0.0, epsrel=1e-13, limit=200)[0]


@functools.cache
def _phi_at_centers(n: int) -> np.ndarray:
    xc = fp.CartesianGrid([(-L, L)], n).axis_centers(0)
    return np.array([_phi(float(x)) for x in xc])


@functools.cache
def _normalization(alpha: float) -> float:
    return quad(lambda x: D_of(x) ** (alpha - 1) * np.exp(-_phi(x)), -L, L,
                epsabs=0.0, epsrel=1e-12, limit=200)[0]


def exact_density(n: int, alpha: float) -> np.ndarray:
    """Exact stationary density at the cell centers of the n-cell grid on [-L, L]."""
    xc = fp.CartesianGrid([(-L, L)], n).axis_centers(0)
    return D_of(xc) ** (alpha - 1) * np.exp(-_phi_at_centers(n)) / _normalization(alpha)


def _model(convention: str, given_divergence: bool):
    return fp.FokkerPlanckModel(
        lambda x: -x, lambda x: D_of(x[0]), convention,
        diffusion_divergence=(lambda x: dD_of(x)) if given_divergence else None)


@pytest.fixture(scope="module")
def studies():
    out = {}
    for conv, alpha in CONVENTIONS.items():
        for given in (True, False):
            h, err, max_face = [], [], []
            for n in RESOLUTIONS:
                grid = fp.CartesianGrid([(-L, L)], n)
                op = fp.FokkerPlanckOperator(grid, _model(conv, given))
                res = fp.solve_stationary(op)
                p_ex = exact_density(n, alpha)
                h.append(grid.spacing[0])
                err.append(np.abs(res.p - p_ex).sum() * grid.cell_volume)
                # Largest one-way bond flux (rate times density) times h: the current scale
                # against which a cancellation to zero is judged.
                oneway = np.max(op.bonds.rate_forward * res.p.ravel()) * grid.spacing[0]
                max_face.append(np.abs(fp.probability_current(res).faces[0]).max() / oneway)
            out[conv, given] = {"h": h, "density": err, "face current": max_face}
    return out


@pytest.mark.parametrize("given_divergence", [True, False], ids=["given-divD", "findiff-divD"])
@pytest.mark.parametrize("convention", list(CONVENTIONS))
def test_density_second_order(studies, convention, given_divergence):
    study = studies[convention, given_divergence]
    order = assert_order(f"1-D D(x) {convention} ({'given' if given_divergence else 'findiff'} "
                         "div D) density", study["h"], study["density"])
    print(f"{convention}, given div D = {given_divergence}: observed order {order:.3f}")


@pytest.mark.parametrize("convention", list(CONVENTIONS))
def test_stationary_current_vanishes(studies, convention):
    # 1-D with reflecting walls: the stationary flux is uniform and zero at the walls, so it
    # vanishes on every face, up to the round-off of the cancellation between the two one-way
    # fluxes (measured <= 1e-14 of them; bound 1e-12 allows the LU round-off at 512 cells).
    for given in (True, False):
        assert max(studies[convention, given]["face current"]) < 1e-12


def test_conventions_differ():
    # Guard against a convention being silently ignored: the three stationary densities differ
    # at O(1) (by the factor D^alpha), far above the O(h^2) discretization error.
    grid = fp.CartesianGrid([(-L, L)], 128)
    ps = [fp.solve_stationary(fp.FokkerPlanckOperator(grid, _model(c, True))).p
          for c in CONVENTIONS]
    for a, b in ((0, 1), (1, 2), (0, 2)):
        assert np.abs(ps[a] - ps[b]).sum() * grid.cell_volume > 1e-2


# --------------------------------------------------------------------------- 2-D, full D(x)
#
# A drift model (not from_potential) whose exact stationary density is exp(-U) with zero current:
# the Ito drift a = -D grad U + div D, handed over as b = a - alpha div D in each convention.
# Unlike from_potential, the operator only sees b and D at cell centers, so the density is
# second order, not exact; with the findiff divergence also the div D term is approximated.


def U2(x):
    return 0.5 * x[0] ** 2 + 0.4 * x[1] ** 2 + 0.2 * np.sin(x[0]) * x[1]


def grad_U2(x):
    return np.stack([x[0] + 0.2 * np.cos(x[0]) * x[1], 0.8 * x[1] + 0.2 * np.sin(x[0])])


def D2_of(x):
    # D_00 in [1, 1.3], D_11 in [0.5, 0.9], |D_01| <= 0.25: bond weights >= 0 on the grids below.
    d00 = 1.0 + 0.3 * np.sin(x[0]) ** 2
    d01 = 0.25 * np.cos(x[1])
    d11 = 0.7 + 0.2 * np.cos(x[0])
    return np.stack([np.stack([d00, d01]), np.stack([d01, d11])])


def div_D2(x):
    # (div D)_i = d_j D_ij: d_0 D_00 + d_1 D_01 and d_0 D_10 + d_1 D_11 (= 0 + 0).
    return np.stack([0.3 * np.sin(2 * x[0]) - 0.25 * np.sin(x[1]), np.zeros_like(x[0])])


def _model_2d(convention: str, given_divergence: bool):
    alpha = CONVENTIONS[convention]

    def drift(x):
        a = -np.einsum("ij...,j...->i...", D2_of(x), grad_U2(x)) + div_D2(x)
        return a - alpha * div_D2(x)

    return fp.FokkerPlanckModel(drift, D2_of, convention,
                                diffusion_divergence=div_D2 if given_divergence else None)


@pytest.mark.parametrize("convention, given_divergence",
                         [("ito", False), ("stratonovich", False), ("anti-ito", False),
                          ("stratonovich", True)])
def test_2d_full_diffusion_density_second_order(convention, given_divergence):
    # Box [-6, 6] x [-6.5, 6.5]: U >= 14 on the walls, exp(-U) tails below 1e-6 of the peak.
    # Local orders from 32 cells: 1.93 -> 1.98 (findiff div D), 2.00 (given div D) (measured).
    h, err = [], []
    for n in (32, 64, 128):
        grid = fp.CartesianGrid([(-6.0, 6.0), (-6.5, 6.5)], n)
        res = fp.solve_stationary(fp.FokkerPlanckOperator(grid, _model_2d(convention,
                                                                          given_divergence)))
        w = np.exp(-U2(grid.cell_centers()))
        w /= w.sum() * grid.cell_volume
        h.append(grid.spacing[0])
        err.append(np.abs(res.p - w).sum() * grid.cell_volume)
    order = assert_order(f"2-D full D(x) {convention} (given div D = {given_divergence}) "
                         "density", h, err)
    print(f"2-D full D(x) {convention}, given div D = {given_divergence}: order {order:.3f}")
