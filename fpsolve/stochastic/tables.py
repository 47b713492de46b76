"""Drift and noise factor of a model tabulated at cell centers for the SDE kernels.

The kernels never call the model: its Ito drift ``a`` and noise factor ``sigma`` (with
``sigma sigma^T = 2 D``) are sampled once at the cell centers of a *table grid* and interpolated
multilinearly, with linear extrapolation in the half cells next to the walls
(:func:`fpsolve.stochastic._kernels_tables.locate`).  Affine drifts (Ornstein-Uhlenbeck) and affine
noise factors are therefore reproduced exactly everywhere in the box; otherwise the
interpolation error is ``O(h^2)`` in the table spacing ``h``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import GridError, SolverError
from ..grids import CartesianGrid
from . import _kernels

__all__ = ["TABLE_MAX_CELLS", "TABLE_MIN_CELLS", "SDETables", "default_table_grid", "tabulate"]

#: Fewest table cells per axis chosen by default, by dimension (the box grid is refined to it).
TABLE_MIN_CELLS = {1: 256, 2: 256, 3: 64}
#: Most table cells in all chosen by default: tables of d(d+2) doubles per cell stay <= 120 MB.
TABLE_MAX_CELLS = 2**20

_KIND = {"reflecting": _kernels.REFLECTING, "periodic": _kernels.PERIODIC,
         "absorbing": _kernels.ABSORBING}


@dataclass(frozen=True)
class SDETables:
    """Everything the step kernels know about the model and the walls.

    Attributes
    ----------
    drift : ndarray, shape (n_cells, d) or (d + 1, d)
        Drift at the table cell centers: Ito ``a`` (Euler-Maruyama, Milstein) or Stratonovich
        ``a - (1/2) div D`` (Heun).  When the tabulated drift is affine to round-off it is
        stored as ``[b; M^T]`` (``d + 1`` rows, ``a = b + M x``): the same values, evaluated
        without interpolation.
    sigma : ndarray, shape (n_cells, d * d) or (1, d * d)
        Lower Cholesky factor of ``2 D`` per cell (flattened row-major); one row when ``D`` is
        constant (no interpolation).
    dsigma : ndarray, shape (n_cells, d), (1, d) or (0, d)
        ``d sigma_kk / dx_k`` (Milstein only).
    tgeo, tint : ndarray, shape (2, d)
        Table grid ``[lo; h]`` and ``[n; periodic]``.
    wall, kind : ndarray, shape (2, d) and (d,)
        Walls ``[lo; hi]`` of the simulation grid and their kinds.
    table_grid : CartesianGrid
    constant_diffusion, diagonal : bool
    """

    drift: np.ndarray
    sigma: np.ndarray
    dsigma: np.ndarray
    tgeo: np.ndarray
    tint: np.ndarray
    wall: np.ndarray
    kind: np.ndarray
    table_grid: CartesianGrid
    constant_diffusion: bool
    diagonal: bool


def default_table_grid(grid: CartesianGrid) -> CartesianGrid:
    """``grid`` refined by an integer factor per axis to at least ``TABLE_MIN_CELLS[d]`` cells
    per axis, keeping at most ``TABLE_MAX_CELLS`` cells (never coarser than ``grid``).

    Examples
    --------
    >>> import fpsolve as fp
    >>> from fpsolve.stochastic.tables import default_table_grid
    >>> default_table_grid(fp.CartesianGrid([(0, 1)], 50)).shape
    (300,)
    """
    target = TABLE_MIN_CELLS.get(grid.ndim, 16)
    factors = [max(1, math.ceil(target / n)) for n in grid.shape]
    while np.prod([n * f for n, f in zip(grid.shape, factors)]) > TABLE_MAX_CELLS \
            and max(factors) > 1:
        k = int(np.argmax(factors))
        factors[k] = max(1, factors[k] // 2)
    shape = tuple(n * f for n, f in zip(grid.shape, factors))
    return CartesianGrid(grid.bounds, shape, boundary=grid.boundary)


def tabulate(model, grid: CartesianGrid, method: str, *, table_grid=None) -> SDETables:
    """Tables of ``model`` for ``method`` on ``table_grid`` (default :func:`default_table_grid`).

    Raises :class:`~fpsolve.errors.SolverError` when the method needs a noise structure the
    model lacks (diagonal ``D`` for Milstein and, with position-dependent ``D``, for Heun), and
    :class:`~fpsolve.errors.GridError` when ``table_grid`` does not cover the same box.
    The noise factor is the lower Cholesky factor of ``2 D`` (for diagonal ``D`` it is
    ``sqrt(2 D)``, the symmetric square root too).
    """
    tgrid = default_table_grid(grid) if table_grid is None else table_grid
    _check_table_grid(grid, tgrid)
    fields = model.fields(tgrid)
    d = grid.ndim
    D = fields.D.reshape(d, d, -1)
    constant = model.is_constant_diffusion
    offdiag = D - np.einsum("ij,ijn->ijn", np.eye(d), D)
    diagonal = bool(np.all(np.abs(offdiag) <= 1e-14 * np.abs(D).max()))
    if method == "milstein" and not (constant or diagonal):
        raise SolverError("method: 'milstein' needs diagonal noise (a diagonal diffusion tensor "
                          "D(x)) or constant D; use 'euler_maruyama'")
    if method == "heun" and not (constant or diagonal):
        raise SolverError("method: 'heun' needs constant or diagonal D: for a non-diagonal D(x) "
                          "the Stratonovich drift a - (1/2) div D does not match the Cholesky "
                          "noise factor; use 'euler_maruyama'")
    drift = model.ito_drift(tgrid).reshape(d, -1)
    if method == "heun":
        drift = drift - 0.5 * fields.div_D.reshape(d, -1)
    sigma = _cholesky_2d(D[:, :, :1] if constant else D)
    dsigma = np.zeros((0, d))
    if method == "milstein":
        sdiag = np.einsum("nkk->nk", sigma.reshape(-1, d, d))
        dsigma = (np.zeros((1, d)) if constant
                  else fields.div_D.reshape(d, -1).T / sdiag)  # (div D)_k = d_k D_kk
    return SDETables(drift=_affine_or_table(drift.T, tgrid), sigma=sigma,
                     dsigma=np.ascontiguousarray(dsigma), tgeo=_geometry(tgrid)[0],
                     tint=_geometry(tgrid)[1], wall=np.array(grid.bounds, dtype=float).T.copy(),
                     kind=np.array([_KIND[b] for b in grid.boundary], dtype=np.int64),
                     table_grid=tgrid, constant_diffusion=constant, diagonal=diagonal)


def _affine_or_table(drift: np.ndarray, tgrid: CartesianGrid) -> np.ndarray:
    """``[b; M^T]`` if ``drift (n_cells, d)`` is ``b + M x`` at the cell centers to round-off
    (1e-13 of its scale) on a grid without periodic axes, else the table itself."""
    d = tgrid.ndim
    if any(tgrid.periodic):
        return np.ascontiguousarray(drift)
    X = np.column_stack([np.ones(tgrid.size), tgrid.cell_centers().reshape(d, -1).T])
    coef = np.linalg.lstsq(X, drift, rcond=None)[0]
    scale = np.abs(drift).max() + np.abs(X).max() * np.abs(coef).max()
    if np.abs(X @ coef - drift).max() <= 1e-13 * scale:
        return np.ascontiguousarray(coef)
    return np.ascontiguousarray(drift)


def grid_geometry(grid: CartesianGrid):
    """``([lo; h], [n; periodic])`` of a grid, the form the kernels take."""
    return _geometry(grid)


def _geometry(grid):
    lo = np.array([b[0] for b in grid.bounds])
    tgeo = np.stack([lo, np.array(grid.spacing)])
    tint = np.stack([np.array(grid.shape), np.array(grid.periodic)]).astype(np.int64)
    return tgeo, tint


def _cholesky_2d(D: np.ndarray) -> np.ndarray:
    """Lower Cholesky factors of ``2 D`` for ``D (d, d, n)``, flattened to ``(n, d * d)``."""
    d, n = D.shape[0], D.shape[2]
    L = np.linalg.cholesky(2.0 * np.moveaxis(D, 2, 0))  # the model checked D is SPD
    return np.ascontiguousarray(L.reshape(n, d * d))


def _check_table_grid(grid, tgrid) -> None:
    if not isinstance(tgrid, CartesianGrid):
        raise GridError(f"table_grid: expected a CartesianGrid, got {type(tgrid).__name__}")
    if tgrid.ndim != grid.ndim or not np.allclose(tgrid.bounds, grid.bounds, rtol=1e-12,
                                                  atol=0):
        raise GridError(f"table_grid: must cover the box of grid {list(grid.bounds)}, got "
                        f"{list(tgrid.bounds)}")
    if tgrid.periodic != grid.periodic:
        raise GridError("table_grid: periodic axes must match those of grid")
