"""The result of an ensemble simulation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..results import LabelledResult

__all__ = ["TrajectoryResult"]


@dataclass(frozen=True)
class TrajectoryResult(LabelledResult):
    """Trajectories of an SDE ensemble (``fpsolve.simulate``).

    Attributes
    ----------
    positions : ndarray, shape (n_saved, n_traj, d), or None
        Positions at ``times`` (row 0: the initial positions); NaN after a trajectory was
        absorbed or failed.  None when ``record_every == 0`` (streaming observables only).
    times : ndarray, shape (n_saved,)
        ``k * record_every * dt``.
    final_positions : ndarray, shape (n_traj, d)
        Position after the last step, or the exit point (on the wall) of an absorbed trajectory.
    exit_time : ndarray, shape (n_traj,)
        Time of absorption, NaN for trajectories that never left.
    exit_side : ndarray of int, shape (n_traj,)
        0 for none, ``-(axis + 1)`` for the lower and ``+(axis + 1)`` for the upper wall.
    winding : ndarray of int, shape (n_traj, d)
        Net number of wraps on periodic axes (zero elsewhere): the unwrapped position is
        ``final_positions + winding * (hi - lo)``.
    observables : dict
        Accumulated streaming observables by name (see :mod:`fpsolve.stochastic.observables`).
    dt : float
    n_steps : int
    method : str
    seed : dict
        ``{"key": [k0, k1]}`` the Philox key (enough to reproduce every variate) and, when
        known, ``"entropy"`` of the SeedSequence it came from (``rng=SeedSequence(entropy)``
        reproduces the run).
    grid : CartesianGrid
        Box and walls the trajectories obeyed.
    table_grid : CartesianGrid or None
        Grid on which drift and noise were tabulated.
    orders : dict
        Declared ``{"strong", "weak", ...}`` orders of ``method``.
    options : dict
        Remaining options (``record_every``, ``chunk_steps``, ``exit_correction``) and
        ``wall_hit_rate``, the reflections on reflecting walls per trajectory step (simulate
        warns above 0.1).

    Examples
    --------
    >>> import numpy as np, fpsolve as fp
    >>> from fpsolve.stochastic import simulate
    >>> grid = fp.CartesianGrid([(-5, 5)], 20)
    >>> res = simulate(fp.FokkerPlanckModel(lambda x: -x), 0.0, grid=grid, dt=0.01, n_steps=10,
    ...                n_traj=3, rng=0)
    >>> res.positions.shape, float(res.times[-1]), res.n_traj, res.ndim
    ((11, 3, 1), 0.1, 3, 1)
    """

    positions: np.ndarray | None
    times: np.ndarray
    final_positions: np.ndarray
    exit_time: np.ndarray
    exit_side: np.ndarray
    winding: np.ndarray
    observables: dict
    dt: float
    n_steps: int
    method: str
    seed: dict
    grid: Any = None
    table_grid: Any = None
    orders: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)

    @property
    def path(self) -> np.ndarray | None:
        """The recorded path ``(n_saved, n_traj, d)`` (``positions``): the name every
        trajectory result shares (``SGDResult.path``, ``SampleResult.path``)."""
        return self.positions

    @property
    def steps(self) -> np.ndarray:
        """Global step counts of the rows of :attr:`path`."""
        every = self.options.get("record_every", 0)
        return np.arange(0 if self.positions is None else self.positions.shape[0]) * every

    @property
    def stride(self) -> int:
        """Steps between two rows of :attr:`path` (``record_every``)."""
        return int(self.options.get("record_every", 0))

    @property
    def n_traj(self) -> int:
        """Number of trajectories."""
        return self.final_positions.shape[0]

    @property
    def ndim(self) -> int:
        """Dimension d."""
        return self.final_positions.shape[1]

    @property
    def absorbed(self) -> np.ndarray:
        """Boolean mask of the trajectories that left through an absorbing wall."""
        return ~np.isnan(self.exit_time)

    @property
    def total_time(self) -> float:
        """``n_steps * dt``."""
        return self.n_steps * self.dt

    def unwrapped_final_positions(self) -> np.ndarray:
        """``final_positions + winding * period`` (periodic axes unwrapped)."""
        period = np.array([hi - lo for lo, hi in self.grid.bounds])
        return self.final_positions + self.winding * period
