"""Frozen result containers returned by the solvers.

Every result carries the grid it lives on, its arrays, and how it was obtained (``method``,
``converged``, ``residual``, ``message``), so that analysis functions need nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["StationaryResult", "TimeSeriesResult", "QuasiStationaryResult",
           "FirstPassageResult", "SpectrumResult"]


@dataclass(frozen=True)
class StationaryResult:
    """Stationary density of a Fokker-Planck operator.

    Attributes
    ----------
    p : ndarray, shape grid.shape
        Density normalized so that ``sum(p) * grid.cell_volume == 1``.
    grid : CartesianGrid
    operator : FokkerPlanckOperator
        The operator whose null vector ``p`` is (its bond fluxes define the current).
    residual : float
        ``||G p||_2 / ||diag(G) p||_2``: net imbalance relative to the gross outflow per cell.
    converged : bool
    iterations : int
        Krylov iterations (0 for a direct solve).
    method : str
    message : str
    """

    p: np.ndarray
    grid: Any
    operator: Any
    residual: float
    converged: bool
    iterations: int = 0
    method: str = ""
    message: str = ""


@dataclass(frozen=True)
class TimeSeriesResult:
    """Densities ``p[t]`` at the requested ``times`` (shape ``(len(times), *grid.shape)``)."""

    times: np.ndarray
    p: np.ndarray
    grid: Any
    operator: Any
    method: str = ""
    n_steps: int = 0
    message: str = ""


@dataclass(frozen=True)
class QuasiStationaryResult:
    """Principal eigenpair with absorbing walls: ``G p = -decay_rate p``, ``sum(p) vol = 1``."""

    p: np.ndarray
    decay_rate: float
    grid: Any
    operator: Any
    residual: float
    converged: bool
    message: str = ""


@dataclass(frozen=True)
class FirstPassageResult:
    """Mean first-passage time ``tau`` to the absorbing walls from each cell center;
    ``residual`` is ``||G^T tau + 1|| / ||diag(G) tau||``."""

    tau: np.ndarray
    grid: Any
    operator: Any
    residual: float
    converged: bool
    message: str = ""


@dataclass(frozen=True)
class SpectrumResult:
    """Slowest relaxation rates ``rates`` (``-Re`` of eigenvalues, ascending) and eigenvalues."""

    rates: np.ndarray
    eigenvalues: np.ndarray
    modes: np.ndarray | None = None
    grid: Any = None
    message: str = ""
    extra: dict = field(default_factory=dict)
