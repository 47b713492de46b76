"""Frozen result containers returned by the solvers.

Every result carries the grid it lives on, its arrays, and how it was obtained (``method``,
``converged``, ``residual``, ``message``), so that analysis functions need nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["StationaryResult", "TimeSeriesResult", "QuasiStationaryResult",
           "FirstPassageResult", "SpectrumResult", "ErrorReport", "ExtrapolatedResult"]


class LabelledResult:
    """Base of the results with a grid or trajectories: adds :meth:`to_xarray`."""

    __slots__ = ()

    def to_xarray(self):
        """This result as an :class:`xarray.Dataset` (:func:`fpsolve.io.to_xarray`; needs
        ``pip install "fpsolve[xarray]"``)."""
        from .io import to_xarray  # io sits above results: imported only when called
        return to_xarray(self)


@dataclass(frozen=True)
class ErrorReport:
    """What a stationary solve knows about its own discretization error.

    Built by :func:`fpsolve.solvers.accuracy.estimate_error` from solves of the same model on
    coarser grids (Richardson's error estimate with the observed order).

    Attributes
    ----------
    density_l1, density_max : float
        Estimated ``sum |p_h - p| V`` and ``max |p_h - p|`` against the exact density at the
        cell centers.
    density_cells : ndarray, shape grid.shape, or None
        Estimated signed error ``p_h - p`` per cell.
    current_l1 : float
        Estimated L1 error of the cell-centered current (summed over components).
    epr : float
        Estimated absolute error of the entropy production rate (bond sum).
    orders : dict
        Order used per quantity (``"density"``, ``"current"``, ``"epr"``): observed on three
        grids where available, else the declared order 2.
    peclet : float
        Largest cell Peclet number ``|F . h e_k|`` over the axis bonds of the cells that hold
        ``mass_fraction`` of the mass; ``peclet_at`` its cell center.
    threshold : float
        Estimated density L1 error above which the result warns.
    pre_asymptotic : bool
        Whether the estimate or the Peclet number says the grid is too coarse (then an
        :class:`~fpsolve.errors.AccuracyWarning` was issued).
    suggested_spacing : tuple of float, or None
        Per axis, the spacing that brings the estimate under ``threshold`` and the Peclet number
        under its limit (``None`` when the grid is fine as it is).
    shapes : tuple of tuple of int
        Shapes of the grids compared, finest first.
    message : str
        One-line summary (the warning text when ``pre_asymptotic``).
    """

    density_l1: float
    density_max: float
    current_l1: float
    epr: float
    orders: dict
    peclet: float
    peclet_at: tuple
    threshold: float
    pre_asymptotic: bool
    density_cells: np.ndarray | None = None
    density_max_at: tuple = ()
    mass_fraction: float = 0.999
    peclet_limit: float = 0.0
    suggested_spacing: tuple | None = None
    shapes: tuple = ()
    message: str = ""


@dataclass(frozen=True)
class ExtrapolatedResult(LabelledResult):
    """Stationary density, cell current and entropy production rate after Richardson
    extrapolation (fourth order on smooth problems), on the fine grid.

    Attributes
    ----------
    p : ndarray, shape grid.shape
        Extrapolated density (positive; extrapolated in ``log p``).
    current : ndarray, shape (d,) + grid.shape
        Extrapolated cell-centered current.
    epr : float
        Extrapolated entropy production rate.
    grid : CartesianGrid
        The fine grid.
    ratio : int
        Coarsening factor between the solves.
    order : int
        Order of the extrapolated values (4).
    fine_p : ndarray, shape grid.shape
        The plain second-order solution on the fine grid; ``fine_epr`` its entropy production.
    error : dict or None
        Estimated errors of the extrapolated values (``"density_l1"``, ``"density_max"``,
        ``"current_l1"``, ``"epr"``) and of the plain fine solution (``"fine_density_l1"``,
        ``"fine_epr"``); ``None`` without a third grid.
    shapes : tuple of tuple of int
        Shapes of the grids solved, finest first.
    """

    p: np.ndarray
    current: np.ndarray
    epr: float
    grid: Any
    ratio: int
    order: int
    fine_p: np.ndarray
    fine_epr: float
    error: dict | None = None
    shapes: tuple = ()


@dataclass(frozen=True)
class StationaryResult(LabelledResult):
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
    error : ErrorReport or None
        Estimated discretization error and Peclet number
        (:func:`fpsolve.solvers.accuracy.estimate_error`); ``None`` when not computed.
    conditioning : dict or None
        Metastability and round-off diagnostic of the linear solve: ``kappa`` (condition
        estimate of a normwise solve, from the smallest plane conductance), ``conductance``,
        ``axis``/``at`` (the bottleneck), ``floor`` (density relative to the largest above which
        every cell is accurate to the tolerance; 0 for GTH) and ``dynamic_range``
        (``min p / max p``).
    """

    p: np.ndarray
    grid: Any
    operator: Any
    residual: float
    converged: bool
    iterations: int = 0
    method: str = ""
    message: str = ""
    error: ErrorReport | None = None
    conditioning: dict | None = None


@dataclass(frozen=True)
class TimeSeriesResult(LabelledResult):
    """Densities ``p[t]`` at the requested ``times`` (shape ``(len(times), *grid.shape)``)."""

    times: np.ndarray
    p: np.ndarray
    grid: Any
    operator: Any
    method: str = ""
    n_steps: int = 0
    message: str = ""


@dataclass(frozen=True)
class QuasiStationaryResult(LabelledResult):
    """Principal eigenpair with absorbing walls: ``G p = -decay_rate p``, ``sum(p) vol = 1``."""

    p: np.ndarray
    decay_rate: float
    grid: Any
    operator: Any
    residual: float
    converged: bool
    message: str = ""


@dataclass(frozen=True)
class FirstPassageResult(LabelledResult):
    """Mean first-passage time ``tau`` to the absorbing walls from each cell center;
    ``residual`` is ``||G^T tau + 1|| / ||diag(G) tau||``."""

    tau: np.ndarray
    grid: Any
    operator: Any
    residual: float
    converged: bool
    message: str = ""


@dataclass(frozen=True)
class SpectrumResult(LabelledResult):
    """Slowest relaxation rates ``rates`` (``-Re`` of eigenvalues, ascending) and eigenvalues."""

    rates: np.ndarray
    eigenvalues: np.ndarray
    modes: np.ndarray | None = None
    grid: Any = None
    message: str = ""
    extra: dict = field(default_factory=dict)
