"""Streaming observables: accumulated while the ensemble runs, without storing paths.

:class:`PathObservable` is the extension contract.  :func:`~fpsolve.stochastic.simulate`
copies every observable it is given, calls ``start`` once, then ``update`` after each chunk of
steps with the positions of that chunk, and puts the copy in ``result.observables[name]``:

``start(n_traj, dt, n_steps)``
    Allocate zeroed accumulators.
``update(path, step0)``
    ``path (m + 1, n_traj, d)`` holds the positions after global steps ``step0 .. step0 + m``;
    row 0 was already the last row of the previous call, so step ``g = step0 + r`` is the pair
    ``(path[r - 1], path[r])`` for ``r >= 1``.  Absorbed or failed trajectories are NaN.  Work is
    done in a kernel on arrays: tabulated fields (cell-center tables, multilinear interpolation
    as in :func:`fpsolve.stochastic._kernels_tables.locate`) and the path; reductions over
    trajectories use a fixed number of blocks so that sums do not depend on the thread count.
``state() -> dict`` / ``load_state(dict)``
    The accumulators as arrays, saved in checkpoints.
``config() -> str``
    What must match for a checkpoint to be resumed.

A per-step scalar ``w(x_n, x_{n+1})`` summed along each path (entropy production, work, heat) is
a :class:`RunningEntropy`: ``w = F(x_mid) . dx - (U(x_{n+1}) - U(x_n))`` for a tabulated vector
field ``F`` and optional scalar ``U``; subclasses may override ``update`` with their own kernel.
"""

from __future__ import annotations

import copy
import hashlib

import numpy as np

from ..errors import SolverError
from ..grids import CartesianGrid
from . import _kernels_observables
from .tables import grid_geometry

__all__ = ["CellCurrent", "Histogram", "PathObservable", "RunningEntropy"]

_BLOCKS = 16          # fixed reduction blocks (independent of the thread count)
_BLOCK_BUDGET = 2**24  # doubles per block array set (128 MB) before fewer blocks are used


class PathObservable:
    """Base class of streaming observables (see the module docstring for the contract)."""

    name = "observable"

    def start(self, n_traj: int, dt: float, n_steps: int) -> None:  # pragma: no cover
        raise NotImplementedError

    def update(self, path: np.ndarray, step0: int) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def state(self) -> dict:
        return {}

    def load_state(self, state: dict) -> None:
        for key, value in state.items():
            getattr(self, key)[...] = value

    def config(self) -> str:
        return repr(self)

    #: Axis of the trajectories (or of their blocks) in each array of :meth:`state`; None: a
    #: count shared by every shard.  Observables that define it (and :meth:`shard`) can run
    #: on a cluster (:mod:`fpsolve.distributed`).
    state_axes: dict | None = None

    def cuts(self):
        """Trajectory indices where a shard may start or end (block edges), None for any."""
        return None

    def shard(self, i0: int, i1: int) -> PathObservable:
        """A started copy for trajectories ``[i0, i1)`` that accumulates exactly their part."""
        raise SolverError(f"observables: {type(self).__name__} cannot be split across shards "
                          "(define state_axes and shard); run it without client=")

    def _shard_blocks(self, i0: int, i1: int, names) -> PathObservable:
        """Copy holding the blocks of ``self._edges`` between ``i0`` and ``i1``."""
        b0, b1 = np.searchsorted(self._edges, [i0, i1])
        if self._edges[b0] != i0 or self._edges[b1] != i1:
            raise SolverError(f"shards: [{i0}, {i1}) does not align with the reduction blocks "
                              f"{self._edges.tolist()} of observable {self.name!r}")
        part = copy.copy(self)
        part._edges = self._edges[b0:b1 + 1] - i0
        for name in names:
            setattr(part, name, getattr(self, name)[b0:b1].copy())
        return part

    @staticmethod
    def _rows(step0: int, m: int, every: int, burn_in: int) -> np.ndarray:
        """Rows ``r in 1..m`` whose global step ``step0 + r`` is counted."""
        g = step0 + np.arange(1, m + 1)
        return (g[(g % every == 0) & (g > burn_in)] - step0).astype(np.int64)


def _check_grid(grid) -> CartesianGrid:
    if not isinstance(grid, CartesianGrid):
        raise SolverError(f"grid: expected a CartesianGrid, got {type(grid).__name__}")
    return grid


def _check_count(name, value, minimum) -> int:
    if isinstance(value, (bool, np.bool_)) or int(value) != value or value < minimum:
        raise SolverError(f"{name}: expected an int >= {minimum}, got {value!r}")
    return int(value)


def block_edges(n_traj: int, per_block: int) -> np.ndarray:
    """Edges ``(n_blocks + 1,)`` of the fixed reduction blocks of ``n_traj`` trajectories:
    block ``b`` holds trajectories ``edges[b] <= i < edges[b + 1]`` (global indices, so a shard
    made of whole blocks sums exactly what one run sums)."""
    blocks = max(1, min(_BLOCKS, n_traj, _BLOCK_BUDGET // max(per_block, 1)))
    return np.array([b * n_traj // blocks for b in range(blocks + 1)], dtype=np.int64)


class Histogram(PathObservable):
    """Visits of each cell of ``grid`` at every ``every``-th step after ``burn_in`` steps.

    Parameters
    ----------
    grid : CartesianGrid
        Cells to count in (positions outside its box are not counted).
    every : int, default 1, keyword-only
    burn_in : int, default 0, keyword-only
        Steps ``g <= burn_in`` are not counted (the initial positions never are).
    name : str, default "histogram", keyword-only

    Attributes
    ----------
    counts : ndarray of int64, shape grid.shape

    Examples
    --------
    >>> import numpy as np, fpsolve as fp
    >>> from fpsolve.stochastic import simulate, Histogram
    >>> grid = fp.CartesianGrid([(0, 1)], 4)
    >>> res = simulate(fp.FokkerPlanckModel(lambda x: 0 * x, 0.1), 0.5, grid=grid, dt=1e-3,
    ...                n_steps=100, n_traj=50, rng=1, observables=[Histogram(grid)],
    ...                record_every=0)
    >>> h = res.observables["histogram"]
    >>> int(h.counts.sum()), round(float(h.density().sum() * grid.cell_volume), 12)
    (5000, 1.0)
    """

    def __init__(self, grid, *, every: int = 1, burn_in: int = 0, name: str = "histogram"):
        self.grid = _check_grid(grid)
        self.every = _check_count("every", every, 1)
        self.burn_in = _check_count("burn_in", burn_in, 0)
        self.name = str(name)

    state_axes = {"_acc": 0}

    def start(self, n_traj, dt, n_steps):
        self._edges = block_edges(n_traj, self.grid.size)
        self._acc = np.zeros((self._edges.size - 1, self.grid.size), dtype=np.int64)

    def update(self, path, step0):
        tgeo, tint = grid_geometry(self.grid)
        rows = self._rows(step0, path.shape[0] - 1, self.every, self.burn_in)
        _kernels_observables.histogram_update(path, rows, tgeo[0], tgeo[1], tint[0],
                                              self._edges, self._acc)

    def state(self):
        return {"_acc": self._acc}

    def cuts(self):
        return self._edges

    def shard(self, i0, i1):
        return self._shard_blocks(i0, i1, ["_acc"])

    @property
    def counts(self) -> np.ndarray:
        """Visits per cell, shape ``grid.shape``."""
        return self._acc.sum(axis=0).reshape(self.grid.shape)

    def density(self) -> np.ndarray:
        """Counts normalized like a grid density: ``sum(p) * cell_volume == 1`` (NaN if empty)."""
        c = self.counts.astype(float)
        total = c.sum()
        return c / (total * self.grid.cell_volume) if total > 0 else np.full_like(c, np.nan)

    def __repr__(self):
        return f"Histogram({self.grid!r}, every={self.every}, burn_in={self.burn_in})"


class CellCurrent(PathObservable):
    """Empirical probability current per cell from Stratonovich (midpoint) increments.

    ``J ~ sum (x_{n+1} - x_n) [midpoint in cell] / (T n_traj cell_volume)`` over the steps after
    ``burn_in``, ``T`` their total duration.  Increments on periodic axes are taken by minimum
    image (steps must be shorter than half a period).  Absorbed trajectories stop contributing
    but stay in ``n_traj``.

    Parameters
    ----------
    grid : CartesianGrid
    burn_in : int, default 0, keyword-only
    name : str, default "current", keyword-only

    Examples
    --------
    >>> import numpy as np, fpsolve as fp
    >>> from fpsolve.stochastic import simulate, CellCurrent
    >>> grid = fp.CartesianGrid([(0, 1)], 4, boundary="periodic")   # drift 1 on a ring: J = 1
    >>> res = simulate(fp.FokkerPlanckModel(lambda x: 1 + 0 * x, 1e-4), 0.3, grid=grid,
    ...                dt=1e-3, n_steps=4000, n_traj=20, rng=2, record_every=0,
    ...                observables=[CellCurrent(grid)])
    >>> J = res.observables["current"].current()
    >>> J.shape, bool(np.allclose(J, 1.0, atol=0.02))
    ((1, 4), True)
    """

    def __init__(self, grid, *, burn_in: int = 0, name: str = "current"):
        self.grid = _check_grid(grid)
        self.burn_in = _check_count("burn_in", burn_in, 0)
        self.name = str(name)

    state_axes = {"_acc": 0, "_steps": None}

    def start(self, n_traj, dt, n_steps):
        d, n = self.grid.ndim, self.grid.size
        self._edges = block_edges(n_traj, n * d)
        self._acc = np.zeros((self._edges.size - 1, n, d))
        self._steps = np.zeros((), dtype=np.int64)
        self._n_traj, self._dt = n_traj, dt

    def update(self, path, step0):
        tgeo, tint = grid_geometry(self.grid)
        rows = self._rows(step0, path.shape[0] - 1, 1, self.burn_in)
        _kernels_observables.current_update(path, rows, tgeo[0], tgeo[1], tint[0],
                                            _period(self.grid), self._edges, self._acc)
        self._steps += rows.size

    def state(self):
        return {"_acc": self._acc, "_steps": self._steps}

    def cuts(self):
        return self._edges

    def shard(self, i0, i1):
        part = self._shard_blocks(i0, i1, ["_acc"])
        part._steps = self._steps.copy()
        return part

    def current(self) -> np.ndarray:
        """Estimated current ``J``, shape ``(d, *grid.shape)``."""
        total = self._acc.sum(axis=0)
        scale = int(self._steps) * self._dt * self._n_traj * self.grid.cell_volume
        J = total / scale if scale > 0 else np.full_like(total, np.nan)
        return np.moveaxis(J, -1, 0).reshape((self.grid.ndim,) + self.grid.shape)

    def __repr__(self):
        return f"CellCurrent({self.grid!r}, burn_in={self.burn_in})"


class RunningEntropy(PathObservable):
    """Per-trajectory sum of ``w = F(x_mid)^T (x_{n+1} - x_n) - (U(x_{n+1}) - U(x_n))``.

    With ``F`` the effective force ``D^-1 (a - div D)`` (``model.fields(grid).force``) and ``U``
    the potential of a potential model, the sum is the medium entropy production in units of
    k_B by the Stratonovich midpoint rule (see :mod:`fpsolve.stochastic.entropy`); use
    :meth:`from_model`.  Any tabulated ``F`` and ``U`` give the corresponding line integral.

    Parameters
    ----------
    grid : CartesianGrid
        Grid on whose cell centers ``field`` and ``potential`` are given.
    field : ndarray, shape (d,) + grid.shape
    potential : ndarray, shape grid.shape, optional, keyword-only
    every : int, default 0, keyword-only
        Also record the running totals after every ``every``-th step (0: totals only).
    burn_in : int, default 0, keyword-only
        Steps ``g <= burn_in`` are not summed.
    name : str, default "entropy", keyword-only

    Attributes
    ----------
    total : ndarray, shape (n_traj,)
    snapshots : ndarray, shape (n_steps // every, n_traj)
        ``total`` after steps ``every, 2 every, ...`` (rows before ``burn_in`` are zero).
    """

    def __init__(self, grid, field, *, potential=None, every: int = 0, burn_in: int = 0,
                 name: str = "entropy"):
        self.grid = _check_grid(grid)
        d = self.grid.ndim
        field = np.asarray(field, dtype=float)
        if field.shape != (d,) + self.grid.shape or not np.all(np.isfinite(field)):
            raise SolverError(f"field: expected finite values of shape {(d,) + self.grid.shape}, "
                              f"got {field.shape}")
        self.field = np.ascontiguousarray(field.reshape(d, -1).T)
        self.potential = np.zeros((0, 1))
        if potential is not None:
            potential = np.asarray(potential, dtype=float)
            if potential.shape != self.grid.shape or not np.all(np.isfinite(potential)):
                raise SolverError(f"potential: expected finite values of shape "
                                  f"{self.grid.shape}, got {potential.shape}")
            self.potential = potential.reshape(-1, 1).copy()
        self.every = _check_count("every", every, 0)
        self.burn_in = _check_count("burn_in", burn_in, 0)
        self.name = str(name)

    @classmethod
    def from_model(cls, model, grid, **kwargs) -> RunningEntropy:
        """Medium entropy production of ``model``: ``F`` and ``U`` from ``model.fields(grid)``."""
        fields = model.fields(grid)
        return cls(grid, fields.force, potential=fields.potential, **kwargs)

    def start(self, n_traj, dt, n_steps):
        self.total = np.zeros(n_traj)
        n_snap = n_steps // self.every if self.every else 0
        self.snapshots = np.zeros((n_snap, n_traj))

    def update(self, path, step0):
        m = path.shape[0] - 1
        g = step0 + np.arange(1, m + 1)
        rows = np.flatnonzero(g > self.burn_in) + 1
        snap = np.full(rows.size, -1, dtype=np.int64)
        if self.every:
            gr = step0 + rows
            hit = (gr % self.every == 0) & (gr // self.every - 1 < self.snapshots.shape[0])
            snap[hit] = gr[hit] // self.every - 1
        tgeo, tint = grid_geometry(self.grid)
        _kernels_observables.line_integral_update(path, rows.astype(np.int64), tgeo, tint,
                                                  _period(self.grid), self.field, self.potential,
                                                  self.total, snap, self.snapshots)

    state_axes = {"total": 0, "snapshots": 1}

    def state(self):
        return {"total": self.total, "snapshots": self.snapshots}

    def shard(self, i0, i1):
        part = copy.copy(self)
        part.total = self.total[i0:i1].copy()
        part.snapshots = np.ascontiguousarray(self.snapshots[:, i0:i1])
        return part

    def config(self):
        digest = hashlib.sha256(self.field.tobytes() + self.potential.tobytes()).hexdigest()
        return f"{self!r} {digest[:16]}"

    def __repr__(self):
        return (f"RunningEntropy({self.grid!r}, every={self.every}, burn_in={self.burn_in}, "
                f"potential={self.potential.size > 0})")


def _period(grid) -> np.ndarray:
    return np.array([(hi - lo) if per else 0.0 for (lo, hi), per
                     in zip(grid.bounds, grid.periodic)])
