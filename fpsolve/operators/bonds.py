"""Lattice bonds of the finite-volume discretization and their exponentially fitted rates.

The diffusion tensor is decomposed onto lattice bonds, ``D = sum_k c_k v_k v_k^T``, with the axis
bonds ``v = h_i e_i`` and the diagonal bonds ``v = h_i e_i +- h_j e_j`` (``i < j``):

    c_(i+-j) = max(+-D_ij, 0) / (h_i h_j),     c_i = D_ii / h_i^2 - sum_(j != i) |D_ij| / (h_i h_j).

Along each bond the flux ``J = D (F p - grad p)`` is integrated with exponential fitting
(Scharfetter-Gummel): with the potential drop ``dPsi = -integral F . dl`` from ``x`` to ``y``,

    rate(x -> y) = c B(dPsi),   rate(y -> x) = c B(-dPsi),   B(z) = z / (exp(z) - 1),

so ``rate(x -> y) / rate(y -> x) = exp(-dPsi)``: every bond is in detailed balance with
``exp(-Psi)`` and a gradient drift gives the discrete Boltzmann density with zero current.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from ..errors import PositivityWarning

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
    """

    offsets: np.ndarray
    rate_forward: np.ndarray
    rate_backward: np.ndarray
    neighbor: np.ndarray
    previous: np.ndarray
    exits: dict
    weights: np.ndarray

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


def build_bonds(grid, fields, *, warn: bool = True) -> BondSet:
    """Bond rates of ``grid`` for model ``fields`` (see :class:`~fpsolve.models.ModelFields`)."""
    offsets = bond_offsets(grid.ndim)
    K, n = len(offsets), grid.size
    rf, rb, weights = (np.zeros((K, n)) for _ in range(3))
    nbr = np.empty((K, n), dtype=np.int64)
    h = np.asarray(grid.spacing)
    for k, off in enumerate(offsets):
        c = _bond_weight(fields.D, off, h)
        drop = _potential_drop(grid, fields, off, h)
        nbr[k] = _neighbor_index(grid, off).ravel()
        present = nbr[k] >= 0
        weights[k] = c.ravel()
        rf[k] = np.where(present, (c * bernoulli(drop)).ravel(), 0.0)
        rb[k] = np.where(present, (c * bernoulli(-drop)).ravel(), 0.0)
    previous = np.full((K, n), -1, dtype=np.int64)
    for k in range(K):
        src = np.flatnonzero(nbr[k] >= 0)
        previous[k, nbr[k, src]] = src
    if warn:
        _warn_negative_weights(grid, weights, nbr, offsets)
    return BondSet(offsets, rf, rb, nbr, previous, _exit_rates(grid, fields, h), weights)


def _midpoint_slices(off) -> tuple:
    """Half-mesh index ``2 x + 1 + off`` of the bond midpoints, as slices per axis."""
    return tuple({0: slice(1, None, 2), 1: slice(2, None, 2), -1: slice(0, -1, 2)}[int(o)]
                 for o in off)


def _bond_weight(D: np.ndarray, off, h) -> np.ndarray:
    sl = _midpoint_slices(off)
    axes = np.flatnonzero(off)
    if len(axes) == 1:
        i = axes[0]
        c = D[(i, i) + sl] / h[i] ** 2
        for j in range(len(off)):
            if j != i:
                c = c - np.abs(D[(i, j) + sl]) / (h[i] * h[j])
        return c
    i, j = axes
    sign = off[i] * off[j]
    return np.maximum(sign * D[(i, j) + sl], 0.0) / (h[i] * h[j])


def _potential_drop(grid, fields, off, h) -> np.ndarray:
    """``Psi(x + off) - Psi(x)``: exact ``U`` differences plus the midpoint rule for ``F``."""
    sl = _midpoint_slices(off)
    step = off * h
    drop = -np.tensordot(step, fields.force[(slice(None),) + sl], axes=(0, 0))
    if fields.potential is not None:
        U = fields.potential[tuple(slice(1, None, 2) for _ in off)]
        drop = drop + np.roll(U, shift=tuple(-off), axis=tuple(range(len(off)))) - U
    return drop


def _neighbor_index(grid, off) -> np.ndarray:
    """Linear index of ``x + off`` (wrapped on periodic axes), -1 outside the box."""
    idx = np.arange(grid.size, dtype=np.int64).reshape(grid.shape)
    nb = np.roll(idx, shift=tuple(-off), axis=tuple(range(grid.ndim)))
    for axis, o in enumerate(off):
        if o != 0 and not grid.periodic[axis]:
            edge = [slice(None)] * grid.ndim
            edge[axis] = -1 if o > 0 else 0
            nb[tuple(edge)] = -1
    return nb


def _exit_rates(grid, fields, h) -> dict:
    """Rates through absorbing walls: a half bond of length h/2 to the wall where p = 0."""
    exits = {}
    for axis, kind in enumerate(grid.boundary):
        if kind != "absorbing":
            continue
        for side in (-1, 1):
            wall = [slice(1, None, 2)] * grid.ndim
            wall[axis] = 0 if side < 0 else -1
            cell = [slice(1, None, 2)] * grid.ndim
            cell[axis] = 1 if side < 0 else -2
            D_nn = fields.D[(axis, axis) + tuple(wall)]
            F_n = 0.5 * (fields.force[(axis,) + tuple(wall)] + fields.force[(axis,) + tuple(cell)])
            drop = -side * 0.5 * h[axis] * F_n
            if fields.potential is not None:
                drop = drop + fields.potential[tuple(wall)] - fields.potential[tuple(cell)]
            rate = np.zeros(grid.shape)
            edge = [slice(None)] * grid.ndim
            edge[axis] = 0 if side < 0 else -1
            rate[tuple(edge)] = 2.0 * D_nn / h[axis] ** 2 * bernoulli(drop)
            exits[(axis, side)] = rate.ravel()
    return exits


def _warn_negative_weights(grid, weights, nbr, offsets) -> None:
    bad = (weights < 0) & (nbr >= 0)
    if not bad.any():
        return
    cells = np.flatnonzero(bad.any(axis=0))
    k, x = np.unravel_index(int(np.argmax(bad)), bad.shape)
    where = tuple(float(c) for c in grid.cell_centers().reshape(grid.ndim, -1)[:, x])
    warnings.warn(
        f"diffusion tensor is not diagonally dominant enough for this spacing: {len(cells)} cells "
        f"have negative bond weights (first at x = {where}, bond {tuple(offsets[k])}, weight "
        f"{weights[k, x]:.3g}); the operator is not an M-matrix and densities may become "
        "negative. Refine the grid anisotropically or reduce |D_ij|.",
        PositivityWarning, stacklevel=4)
