"""Lattice bonds of the finite-volume discretization and their exponentially fitted rates.

The diffusion tensor is decomposed onto lattice bonds, ``D = sum_k c_k v_k v_k^T``, with the axis
bonds ``v = h_i e_i`` and the diagonal bonds ``v = h_i e_i +- h_j e_j`` (``i < j``):

    c_(i+-j) = max(+-D_ij, 0) / (h_i h_j),     c_i = D_ii / h_i^2 - sum_(j != i) |D_ij| / (h_i h_j).

Along each bond the flux ``J = D (F p - grad p)`` is integrated with exponential fitting
(Scharfetter-Gummel): with the potential drop ``dPsi = -integral F . dl`` from ``x`` to ``y``,

    rate(x -> y) = c B(dPsi),   rate(y -> x) = c B(-dPsi),   B(z) = z / (exp(z) - 1),

so ``rate(x -> y) / rate(y -> x) = exp(-dPsi)``: every bond is in detailed balance with
``exp(-Psi)`` and a gradient drift gives the discrete Boltzmann density with zero current.
Other schemes keep this ratio and refit only the symmetric weight (:mod:`.schemes`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from ..errors import PositivityWarning
from . import _kernels
from .schemes import fitting_drops

__all__ = ["BondSet", "bond_offsets", "build_bonds", "bernoulli"]


@dataclass(frozen=True)
class BondSet:
    """All bonds of a grid with their rates, in flattened (C-order) cell arrays.

    Attributes
    ----------
    offsets : ndarray, shape (K, d)
        Lattice step of each bond family (entries -1, 0, 1).
    rate_forward, rate_backward : ndarray, shape (K, n)
        ``x -> nbr`` and ``nbr -> x`` rates (zero for absent bonds).
    neighbor, previous : ndarray of int64, shape (K, n)
        Target cell of the bond starting at ``x`` / source cell of the bond ending at ``x``;
        -1 where there is none.
    exits : dict of (axis, side) -> ndarray, shape (n,)
        Rates of leaving the box through an absorbing wall (side -1 lower, +1 upper).
    weights : ndarray, shape (K, n)
        Diffusive bond weights ``c_k`` before masking; negative where the decomposition is not
        an M-matrix.
    drops : ndarray, shape (K, n), or None
        Potential drops ``dPsi`` of the bonds (what a refit of the weights starts from).
    """

    offsets: np.ndarray
    rate_forward: np.ndarray
    rate_backward: np.ndarray
    neighbor: np.ndarray
    previous: np.ndarray
    exits: dict
    weights: np.ndarray
    drops: np.ndarray | None = None

    @property
    def exit_rate(self) -> np.ndarray:
        """Total exit rate per cell, shape ``(n,)``."""
        total = np.zeros(self.rate_forward.shape[1])
        for rate in self.exits.values():
            total += rate
        return total


def bernoulli(z) -> np.ndarray:
    """Bernoulli function ``B(z) = z / (exp(z) - 1)`` with ``B(0) = 1``, stable for all z.

    ``expm1`` keeps full relative precision near 0; for large positive ``z`` the overflow gives
    the correct limit 0, for large negative ``z`` the value tends to ``-z``.
    """
    z = np.asarray(z, dtype=float)
    out = np.ones_like(z)
    nz = z != 0.0
    with np.errstate(over="ignore"):
        out[nz] = z[nz] / np.expm1(z[nz])
    return out


def bond_offsets(ndim: int) -> np.ndarray:
    """Bond families: the ``d`` axes, then ``e_i + e_j`` and ``e_i - e_j`` for ``i < j``."""
    eye = np.eye(ndim, dtype=np.int64)
    offs = [eye[i] for i in range(ndim)]
    for i, j in combinations(range(ndim), 2):
        offs += [eye[i] + eye[j], eye[i] - eye[j]]
    return np.array(offs, dtype=np.int64).reshape(-1, ndim)


def build_bonds(grid, fields, *, warn: bool = True, scheme: str = "sg") -> BondSet:
    """Bond rates of ``grid`` for model ``fields`` (see :class:`~fpsolve.models.ModelFields`)
    with the bond-rate ``scheme`` of :mod:`fpsolve.operators.schemes` (``"fitted"`` builds SG
    rates until it is refitted)."""
    offsets = bond_offsets(grid.ndim)
    K, n = len(offsets), grid.size
    rf, rb, weights, drops = (np.empty((K, n)) for _ in range(4))
    nbr = np.empty((K, n), dtype=np.int64)
    previous = np.full((K, n), -1, dtype=np.int64)
    h = np.asarray(grid.spacing)
    shape = np.asarray(grid.shape, dtype=np.int64)
    periodic = np.asarray(grid.periodic, dtype=np.bool_)
    constant = bool(np.all(fields.D == fields.D[(Ellipsis,) + (slice(0, 1),) * grid.ndim]))
    for k, off in enumerate(offsets):
        _kernels.shifted_index(shape, periodic, off, nbr[k], previous[k])
        weights[k] = np.broadcast_to(_bond_weight(fields.D, off, h, constant), grid.shape).ravel()
        drops[k] = _potential_drop(grid, fields, off, h)
        fit = fitting_drops(scheme, drops[k], _difference(fields.potential, off))
        if fit is None:
            _kernels.fitted_rates(weights[k], drops[k], nbr[k], rf[k], rb[k])
        else:
            _kernels.weighted_rates(weights[k], drops[k], fit, nbr[k], rf[k], rb[k])
    if warn:
        _warn_negative_weights(grid, weights, nbr, offsets)
    return BondSet(offsets, rf, rb, nbr, previous, _exit_rates(grid, fields, h), weights, drops)


def _shift(values: np.ndarray, off, lead: int = 0) -> np.ndarray:
    """``out[..., x] = values[..., x + off]`` (cyclic; callers mask bonds that leave the box)."""
    axes = tuple(lead + k for k, o in enumerate(off) if o != 0)
    return np.roll(values, tuple(-int(o) for o in off if o != 0), axis=axes) if axes else values


def _at_midpoints(values: np.ndarray, off, lead: int = 0) -> np.ndarray:
    """Bond-midpoint values of cell ``values``: the mean over the cells spanned by the bond
    (2 for an axis bond, the 4 corners of the plaquette for a diagonal one); second order."""
    corners = [np.where(np.arange(len(off)) == k, off, 0) for k in np.flatnonzero(off)]
    total, count = values, 1
    for c in corners:
        total = total + _shift(total, c, lead)
        count *= 2
    return total / count


def _bond_weight(D: np.ndarray, off, h, constant: bool) -> np.ndarray:
    """Weight ``c_k`` of the bond family ``off`` at the bond midpoints (a scalar for constant D)."""
    cell = (slice(None),) * 2 + (0,) * (D.ndim - 2) if constant else (slice(None),) * 2
    D = D[cell]
    axes = np.flatnonzero(off)
    if len(axes) == 1:
        i = axes[0]
        c = D[i, i] / h[i] ** 2
        for j in range(len(off)):
            if j != i:
                c = c - np.abs(D[i, j]) / (h[i] * h[j])
    else:
        i, j = axes
        c = np.maximum(off[i] * off[j] * D[i, j], 0.0) / (h[i] * h[j])
    return c if constant else _at_midpoints(c, off)


def _potential_drop(grid, fields, off, h) -> np.ndarray:
    """Flattened ``Psi(x + off) - Psi(x)``: exact ``U`` differences plus the trapezoid rule for
    ``F``."""
    # -F . v is averaged over the bond's cells: the trapezoid rule for the line integral.
    drop = _at_midpoints(-np.tensordot(off * h, fields.force, axes=(0, 0)), off).ravel()
    if fields.potential is not None:
        drop = drop + _difference(fields.potential, off)
    return drop


def _difference(potential, off):
    """Flattened ``U(x + off) - U(x)`` (None without a potential)."""
    if potential is None:
        return None
    return np.ascontiguousarray(_shift(potential, off) - potential).ravel()


def _exit_rates(grid, fields, h) -> dict:
    """Rates through absorbing walls: a half bond of length h/2 to the wall where p = 0.

    Wall values are linear extrapolations of the two nearest cells (second order).
    """
    exits = {}
    for axis, kind in enumerate(grid.boundary):
        if kind != "absorbing":
            continue
        for side in (-1, 1):
            near = [slice(None)] * grid.ndim
            near[axis] = 0 if side < 0 else -1
            inner = list(near)
            inner[axis] = 1 if side < 0 else -2
            near, inner = tuple(near), tuple(inner)

            def wall(v, lead=0, near=near, inner=inner):   # bind this side's slices
                pre = (slice(None),) * lead
                return 1.5 * v[pre + near] - 0.5 * v[pre + inner]

            F_n = 0.5 * (wall(fields.force[axis]) + fields.force[axis][near])
            drop = -side * 0.5 * h[axis] * F_n
            if fields.potential is not None:
                drop = drop + wall(fields.potential) - fields.potential[near]
            D_nn = np.maximum(wall(fields.D[axis, axis]), 0.5 * fields.D[axis, axis][near])
            rate = np.zeros(grid.shape)
            rate[near] = 2.0 * D_nn / h[axis] ** 2 * bernoulli(drop)
            exits[(axis, side)] = rate.ravel()
    return exits


def _warn_negative_weights(grid, weights, nbr, offsets) -> None:
    bad = (weights < 0) & (nbr >= 0)
    if not bad.any():
        return
    cells = np.flatnonzero(bad.any(axis=0))
    k, x = np.unravel_index(int(np.argmax(bad)), bad.shape)
    bond = tuple(int(o) for o in offsets[k])
    where = tuple(float(c) for c in grid.cell_centers().reshape(grid.ndim, -1)[:, x])
    warnings.warn(
        f"diffusion tensor is not diagonally dominant enough for this spacing: {len(cells)} cells "
        f"have negative bond weights (first at x = {where}, bond {bond}, weight "
        f"{weights[k, x]:.3g}); the operator is not an M-matrix and densities may become "
        "negative. Refine the grid anisotropically or reduce |D_ij|.",
        PositivityWarning, stacklevel=4)
