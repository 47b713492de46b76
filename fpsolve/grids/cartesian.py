"""Uniform rectilinear (Cartesian) grids of cell-centered finite volumes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import GridError

__all__ = ["CartesianGrid", "BOUNDARIES"]

#: Boundary conditions understood by every layer of fpsolve.
BOUNDARIES = ("reflecting", "periodic", "absorbing")


@dataclass(frozen=True, init=False)
class CartesianGrid:
    """A uniform grid of ``shape`` cells covering the box ``bounds``.

    Parameters
    ----------
    bounds : sequence of (lo, hi)
        One pair per axis with ``lo < hi``, both finite.
    shape : sequence of int
        Number of cells per axis (at least 3 each).  An int is broadcast to every axis.
    boundary : str or sequence of str, keyword-only
        ``"reflecting"`` (no flux through the walls), ``"periodic"`` (the axis is a ring),
        or ``"absorbing"`` (density zero on the walls, probability leaves the box); one name for
        all axes or one per axis.

    Notes
    -----
    Cell ``i`` on axis ``k`` has center ``lo + (i + 1/2) h_k`` with ``h_k = (hi - lo) / n_k``;
    walls sit on the outer faces ``lo`` and ``hi``.  The grid holds geometry only.

    Examples
    --------
    >>> import fpsolve as fp
    >>> grid = fp.CartesianGrid([(-1.0, 1.0), (0.0, 1.0)], (4, 5), boundary="reflecting")
    >>> grid.shape, grid.spacing, grid.cell_volume
    ((4, 5), (0.5, 0.2), 0.1)
    >>> grid.cell_centers().shape
    (2, 4, 5)
    """

    bounds: tuple[tuple[float, float], ...]
    shape: tuple[int, ...]
    boundary: tuple[str, ...]

    def __init__(self, bounds: Sequence[Sequence[float]], shape, *, boundary="reflecting"):
        bounds_t = _check_bounds(bounds)
        ndim = len(bounds_t)
        shape_t = _check_shape(shape, ndim)
        boundary_t = _check_boundary(boundary, ndim)
        object.__setattr__(self, "bounds", bounds_t)
        object.__setattr__(self, "shape", shape_t)
        object.__setattr__(self, "boundary", boundary_t)

    # ------------------------------------------------------------------ geometry
    @property
    def ndim(self) -> int:
        """Number of dimensions d."""
        return len(self.shape)

    @property
    def size(self) -> int:
        """Total number of cells."""
        return int(np.prod(self.shape))

    @property
    def spacing(self) -> tuple[float, ...]:
        """Cell widths ``h_k`` per axis."""
        return tuple((hi - lo) / n for (lo, hi), n in zip(self.bounds, self.shape))

    @property
    def cell_volume(self) -> float:
        """Volume (length, area) of one cell, ``prod(h_k)``."""
        return float(np.prod(self.spacing))

    @property
    def periodic(self) -> tuple[bool, ...]:
        """Per axis: whether the axis is periodic."""
        return tuple(b == "periodic" for b in self.boundary)

    @property
    def has_absorbing(self) -> bool:
        """Whether any wall absorbs probability."""
        return "absorbing" in self.boundary

    def axis_centers(self, axis: int) -> np.ndarray:
        """Cell-center coordinates along ``axis``, shape ``(shape[axis],)``."""
        (lo, _), n, h = self.bounds[axis], self.shape[axis], self.spacing[axis]
        return lo + (np.arange(n) + 0.5) * h

    def axis_faces(self, axis: int) -> np.ndarray:
        """Face coordinates along ``axis`` (walls included), shape ``(shape[axis] + 1,)``."""
        (lo, _), n, h = self.bounds[axis], self.shape[axis], self.spacing[axis]
        return lo + np.arange(n + 1) * h

    def cell_centers(self) -> np.ndarray:
        """Coordinates of all cell centers, shape ``(d, *shape)``."""
        return np.stack(np.meshgrid(*[self.axis_centers(k) for k in range(self.ndim)],
                                    indexing="ij"))

    def contains(self, x) -> np.ndarray:
        """Whether points ``x`` of shape ``(d, ...)`` lie inside the box (walls included)."""
        x = np.asarray(x, dtype=float)
        inside = np.ones(x.shape[1:], dtype=bool)
        for k, (lo, hi) in enumerate(self.bounds):
            inside &= (x[k] >= lo) & (x[k] <= hi)
        return inside

    def integrate(self, f) -> float:
        """Midpoint-rule integral of cell values ``f`` (shape ``grid.shape``) over the box."""
        f = np.asarray(f)
        if f.shape != self.shape:
            raise GridError(f"f: expected shape {self.shape}, got {f.shape}")
        return float(f.sum() * self.cell_volume)

    def refined(self, factor: int = 2) -> CartesianGrid:
        """The same box with ``factor`` times more cells per axis."""
        return CartesianGrid(self.bounds, tuple(n * factor for n in self.shape),
                             boundary=self.boundary)

    def __repr__(self) -> str:
        return (f"CartesianGrid(bounds={list(self.bounds)}, shape={self.shape}, "
                f"boundary={list(self.boundary)})")


def _check_bounds(bounds) -> tuple[tuple[float, float], ...]:
    try:
        arr = np.asarray(bounds, dtype=float)
    except (TypeError, ValueError) as exc:
        raise GridError(f"bounds: expected a sequence of (lo, hi) pairs, got {bounds!r}") from exc
    if arr.ndim == 1 and arr.shape == (2,):
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < 1:
        raise GridError(f"bounds: expected a sequence of (lo, hi) pairs, got shape {arr.shape}")
    for k, (lo, hi) in enumerate(arr):
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise GridError(f"bounds: axis {k} has non-finite bounds ({lo}, {hi})")
        if not lo < hi:
            raise GridError(f"bounds: axis {k} needs lo < hi, got lo={lo}, hi={hi}")
    return tuple((float(lo), float(hi)) for lo, hi in arr)


def _check_shape(shape, ndim: int) -> tuple[int, ...]:
    if np.isscalar(shape):
        shape = (shape,) * ndim
    shape = tuple(shape)
    if len(shape) != ndim:
        raise GridError(f"shape: expected {ndim} entries (one per axis of bounds), "
                        f"got {len(shape)}")
    out = []
    for k, n in enumerate(shape):
        if isinstance(n, (bool, np.bool_)) or not float(n).is_integer():
            raise GridError(f"shape: axis {k} needs an integer number of cells, got {n!r}")
        if int(n) < 3:
            raise GridError(f"shape: axis {k} needs at least 3 cells, got {int(n)}")
        out.append(int(n))
    return tuple(out)


def _check_boundary(boundary, ndim: int) -> tuple[str, ...]:
    names = (boundary,) * ndim if isinstance(boundary, str) else tuple(boundary)
    if len(names) != ndim:
        raise GridError(f"boundary: expected one name or {ndim} names, got {len(names)}")
    for name in names:
        if name not in BOUNDARIES:
            raise GridError(f"boundary: unknown name {name!r}; expected one of {BOUNDARIES}")
    return names
