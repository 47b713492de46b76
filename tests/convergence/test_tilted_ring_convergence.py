"""Tilted periodic potential: a ring with a uniform stationary current.

Periodic [0, 2 pi), ``U(x) = A cos x``, constant force ``f`` and constant ``D``
(``FokkerPlanckModel.from_potential(U, D, force=f)``, Ito drift ``D (-U' + f)``).  With the
tilted potential ``Psi(x) = U(x) - f x`` the flux is ``J = -D exp(-Psi) (exp(Psi) p)'``, constant
in x.  Integrating ``(exp(Psi) p)' = -(J/D) exp(Psi)`` over one period, with
``Psi(x + 2 pi) = Psi(x) - 2 pi f`` and periodic ``p``:

    p(x) = J exp(-Psi(x)) I(x) / (D (1 - exp(-2 pi f))),   I(x) = integral_x^(x+2pi) exp(Psi(y)) dy

and normalization gives

    J = D (1 - exp(-2 pi f)) / integral_0^(2pi) dx exp(-Psi(x)) I(x).

(For ``A = 0`` this is ``J = D f / (2 pi)``, free drift at speed ``D f`` with ``p = 1/(2 pi)``.
The variant with ``exp(+Psi(x))`` outside and ``exp(-Psi(y))`` inside, sometimes quoted, equals
``J exp(-2 pi f)`` and is wrong for this sign of ``f``.)  The entropy production rate is
``integral J^2 / (D p) dx = J integral (-U' + f - (ln p)') dx = 2 pi f J``.
"""

from __future__ import annotations

import numpy as np
import pytest
from convergence_orders import assert_order
from scipy.integrate import quad

import fpsolve as fp

A_AMP, FORCE, D = 1.5, 0.4, 0.7
RESOLUTIONS = (32, 64, 128, 256)
# quad accuracy: relative 1e-13 (smooth integrands over one period); the finest discretization
# errors are ~1e-6 relative, so the reference error is invisible in the fitted orders.
QUAD = {"epsabs": 0.0, "epsrel": 1e-13, "limit": 200}


def psi(x):
    return A_AMP * np.cos(x) - FORCE * x


def _inner(x: float) -> float:
    return quad(lambda y: np.exp(psi(y)), x, x + 2 * np.pi, **QUAD)[0]


PREFACTOR = 1.0 - np.exp(-2 * np.pi * FORCE)
J_EXACT = D * PREFACTOR / quad(lambda x: np.exp(-psi(x)) * _inner(x), 0.0, 2 * np.pi, **QUAD)[0]
EPR_EXACT = 2 * np.pi * FORCE * J_EXACT


def exact_density(x: np.ndarray) -> np.ndarray:
    inner = np.array([_inner(float(xi)) for xi in x])
    return J_EXACT * np.exp(-psi(x)) * inner / (D * PREFACTOR)


def _operator(n: int):
    grid = fp.CartesianGrid([(0.0, 2 * np.pi)], n, boundary="periodic")
    model = fp.FokkerPlanckModel.from_potential(lambda x: A_AMP * np.cos(x[0]), D,
                                                force=lambda x: np.full_like(x, FORCE))
    return fp.FokkerPlanckOperator(grid, model)


@pytest.fixture(scope="module")
def study():
    out = {"h": [], "density": [], "J": [], "epr bonds": [], "epr field": [], "spread": []}
    for n in RESOLUTIONS:
        op = _operator(n)
        res = fp.solve_stationary(op)
        grid = op.grid
        cur = fp.probability_current(res)
        out["h"].append(grid.spacing[0])
        out["density"].append(np.abs(res.p - exact_density(grid.axis_centers(0))).sum()
                              * grid.cell_volume)
        out["J"].append(abs(cur.cells.mean() - J_EXACT))
        for method in ("bonds", "field"):
            out[f"epr {method}"].append(abs(fp.entropy_production_rate(res, method=method)
                                            - EPR_EXACT))
        # Non-uniformity of the face current relative to the largest one-way bond flux.
        oneway = np.max(op.bonds.rate_forward * res.p.ravel()) * grid.spacing[0]
        out["spread"].append(np.ptp(cur.faces[0]) / oneway)
    return out


def test_reference_density_is_normalized_and_periodic():
    # Checks of the derivation itself: unit mass and p(0) = p(2 pi), to quad accuracy (1e-11
    # relative: 1e-13 per quad, amplified by the outer integration).
    mass = quad(lambda x: float(exact_density(np.array([x]))[0]), 0.0, 2 * np.pi,
                epsabs=0.0, epsrel=1e-12, limit=200)[0]
    assert abs(mass - 1.0) < 1e-11
    ends = exact_density(np.array([0.0, 2 * np.pi]))
    assert abs(ends[0] - ends[1]) < 1e-11 * ends[0]
    # Free-drift limit of the same formula (A = 0): J = D f / (2 pi).
    free = D * PREFACTOR / quad(lambda x: np.exp(FORCE * x) * quad(
        lambda y: np.exp(-FORCE * y), x, x + 2 * np.pi, **QUAD)[0], 0.0, 2 * np.pi, **QUAD)[0]
    assert abs(free - D * FORCE / (2 * np.pi)) < 1e-12


@pytest.mark.parametrize("quantity", ["density", "J", "epr bonds", "epr field"])
def test_tilted_ring_second_order(study, quantity):
    order = assert_order(f"tilted ring {quantity}", study["h"], study[quantity])
    print(f"tilted ring {quantity}: observed order {order:.3f}")


def test_current_uniform_to_round_off(study):
    # Stationary 1-D ring: every face carries the same flux.  The net flux is the difference of
    # two one-way fluxes ~(D / h) p, so round-off is judged against those: measured <= 1e-15 of
    # them; 1e-12 leaves room for the LU round-off growing with n.
    assert max(study["spread"]) < 1e-12
    assert J_EXACT > 1e-2  # a genuine NESS: the current is far above round-off


def test_current_reverses_with_force():
    # U is even and the cell centers (i + 1/2) h are mirror-symmetric about pi, so x -> 2 pi - x
    # maps the discrete problem with -f onto the one with f: J(-f) = -J(f) and the densities are
    # mirror images, up to round-off (1e-12 relative: measured ~1e-14, LU of 128 cells).
    def solve(force):
        model = fp.FokkerPlanckModel.from_potential(lambda x: A_AMP * np.cos(x[0]), D,
                                                    force=lambda x: np.full_like(x, force))
        grid = fp.CartesianGrid([(0.0, 2 * np.pi)], 128, boundary="periodic")
        return fp.solve_stationary(fp.FokkerPlanckOperator(grid, model))

    plus, minus = solve(FORCE), solve(-FORCE)
    J_plus = fp.probability_current(plus).cells.mean()
    J_minus = fp.probability_current(minus).cells.mean()
    assert abs(J_plus + J_minus) < 1e-12 * abs(J_plus)
    assert np.allclose(minus.p, plus.p[::-1], rtol=1e-12, atol=0)
