"""Stochastic entropy production along recorded trajectories: system, medium and total parts.

For ``dx = a dt + sqrt(2 D) dW`` (Ito) the current is ``J = D (F p - grad p)`` with the effective
force ``F = D^-1 (a - div D)`` (see :class:`~fpsolve.models.FokkerPlanckModel`).  Along a path
``x(t)`` over a window ``[t, t + tau]`` (units of k_B):

* system  ``dS_sys = ln p_ss(x(t)) - ln p_ss(x(t + tau))``;
* medium  ``dS_med = int F(x) o dx`` (Stratonovich), discretized by the midpoint rule
  ``sum_n F((x_n + x_{n+1}) / 2) . (x_{n+1} - x_n)``;
* total   ``dS_tot = dS_sys + dS_med``, with ``<dS_tot> / tau`` the entropy production rate in the
  stationary state and ``<exp(-dS_tot)> = 1``.  Theory: ``docs/stochastic-thermodynamics.md``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ..errors import FpsolveError
from ..results import LabelledResult, StationaryResult
from .fluctuation import Estimate, _normal_interval

__all__ = ["stochastic_entropy_production", "StochasticEntropyResult", "extrapolate_to_zero_dt"]

_CHUNK_POINTS = 2**18   # points per vectorized chunk: keeps temporaries at a few MB


@dataclass(frozen=True)
class StochasticEntropyResult(LabelledResult):
    """Entropy production of each trajectory over windows of ``window`` recorded steps.

    Attributes
    ----------
    system, medium, total : ndarray, shape (n_windows, n_traj)
        ``dS_sys``, ``dS_med`` and ``dS_tot = dS_sys + dS_med`` (units of k_B).
    tau : float
        Window length ``window * dt``.
    dt : float
        Spacing of the recorded positions.
    window, stride : int
        Window length and spacing of window starts, in recorded steps.
    starts : ndarray of int, shape (n_windows,)
        Index of the first recorded position of each window.
    """

    system: np.ndarray
    medium: np.ndarray
    total: np.ndarray
    tau: float
    dt: float
    window: int
    stride: int
    starts: np.ndarray

    def rate(self, part: str = "total", *, confidence: float = 0.95) -> Estimate:
        """Mean production rate ``<part> / tau`` with its standard error.

        Windows of one trajectory are correlated, so each trajectory is first averaged over its
        windows; the standard error is that of the mean of these ``n_traj`` independent values
        (NaN for a single trajectory).
        """
        if part not in ("system", "medium", "total"):
            raise FpsolveError(f"part: expected 'system', 'medium' or 'total', got {part!r}")
        per_traj = getattr(self, part).mean(axis=0) / self.tau
        value = float(per_traj.mean())
        n = per_traj.size
        stderr = float(per_traj.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
        return Estimate(value, stderr, _normal_interval(value, stderr, confidence))


def stochastic_entropy_production(positions, *, dt=None, p_ss, model=None, grid=None,
                                  force=None, log_density: bool = False, window: int = 1,
                                  stride: int | None = None) -> StochasticEntropyResult:
    """System, medium and total entropy production along recorded trajectories.

    Parameters
    ----------
    positions : ndarray, shape (n_saved, n_traj, d), or a trajectory result
        Positions recorded every ``dt``; an object with a ``positions`` attribute (such as a
        ``TrajectoryResult``) is unpacked.
    dt : float, keyword-only
        Spacing of the recorded positions (not the integrator's step when it saves every k-th
        step).  Taken from a result's uniform ``times`` when omitted.
    p_ss : StationaryResult or callable, keyword-only
        Stationary density: a grid solution (``ln p`` interpolated multilinearly between cell
        centers) or a callable ``x (d, ...) -> p(x) (...)`` (``ln p`` when ``log_density``).
    model : FokkerPlanckModel, optional, keyword-only
        Source of the force ``F``, tabulated on ``grid`` and interpolated multilinearly.
    grid : CartesianGrid, optional, keyword-only
        Grid for ``model``; defaults to ``p_ss.grid`` for a grid solution.
    force : callable, optional, keyword-only
        Exact effective force ``x (d, ...) -> F(x) (d, ...)``, instead of ``model``; its
        increments use the minimum image on the periodic axes of ``grid`` (or ``p_ss.grid``).
    log_density : bool, default False, keyword-only
        Whether a callable ``p_ss`` returns ``ln p`` rather than ``p``.
    window : int, default 1, keyword-only
        Window length in recorded steps (``tau = window * dt``).
    stride : int, optional, keyword-only
        Recorded steps between window starts; default ``window`` (adjacent windows).

    Returns
    -------
    StochasticEntropyResult

    Raises
    ------
    FpsolveError
        Invalid shapes or options; a position outside the grid box; ``p_ss`` zero, negative or
        non-finite where a path goes (the message names the position).

    Notes
    -----
    Medium part: ``sum_n F(x_mid) . dx_n`` with ``x_mid = (x_n + x_{n+1}) / 2`` converges to the
    Stratonovich integral ``int F o dx``; its mean per unit time has a bias of order ``dt`` (use
    :func:`extrapolate_to_zero_dt`).  For a potential model, ``F = -grad U + f`` and the
    conservative part is summed exactly, ``-(U(x_end) - U(x_start))`` with ``U`` interpolated
    multilinearly, so only ``f`` is integrated by the midpoint rule.  Multilinear interpolation
    (linear extrapolation in the half cells next to the walls) reproduces linear ``F`` and ``ln p``
    exactly; otherwise its error is ``O(h^2)``.  On periodic axes increments are taken by minimum
    image, so positions may be wrapped or not but must move less than half a period per step.

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.models.gallery import OrnsteinUhlenbeck
    >>> from fpsolve.stochastic.entropy import stochastic_entropy_production
    >>> ou = OrnsteinUhlenbeck(-1.0, 1.0)            # equilibrium: F = -x, p_ss = N(0, 1)
    >>> x = np.random.default_rng(0).normal(size=(11, 4, 1))
    >>> res = stochastic_entropy_production(x, dt=0.1, p_ss=ou.stationary_density,
    ...                                     force=lambda x: -x, window=5)
    >>> res.total.shape, res.tau
    ((2, 4), 0.5)
    >>> bool(np.allclose(res.total, 0.0))           # F = grad ln p: midpoint rule is exact
    True
    """
    x, dt = _check_positions(positions, dt)
    window, stride = _check_window(window, stride, x.shape[0])
    starts = np.arange(0, x.shape[0] - window, stride)
    ends = starts + window
    x = x[:ends[-1] + 1]                      # positions after the last window are never used
    p_grid = p_ss.grid if isinstance(p_ss, StationaryResult) else None
    grid = p_grid if grid is None else grid
    for name, g in (("grid", grid), ("p_ss", p_grid)):
        if g is not None:
            _check_inside(name, g, x)
    # ln p and U are needed at window ends only; F at every step inside a window.
    rows, inverse = np.unique(np.concatenate([starts, ends]), return_inverse=True)
    log_p = _log_stationary(p_ss, x[rows], log_density)
    system = log_p[inverse[:starts.size]] - log_p[inverse[starts.size:]]
    cover = np.zeros(x.shape[0], dtype=np.intp)   # +1 at window starts, -1 at window ends
    np.add.at(cover, starts, 1)
    np.add.at(cover, ends, -1)
    in_window = np.flatnonzero(np.cumsum(cover)[:-1] > 0)
    steps, potential = _medium_steps(x, in_window, rows, model, grid, force)
    cum = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(steps, axis=0)])
    medium = cum[ends] - cum[starts]
    if potential is not None:
        medium -= potential[inverse[starts.size:]] - potential[inverse[:starts.size]]
    return StochasticEntropyResult(system=system, medium=medium, total=system + medium,
                                   tau=window * dt, dt=dt, window=window, stride=stride,
                                   starts=starts)


def extrapolate_to_zero_dt(dts, values, stderrs, *, order: int = 1,
                           confidence: float = 0.95) -> Estimate:
    """Weighted least-squares extrapolation of ``values(dt)`` to ``dt -> 0``.

    Parameters
    ----------
    dts, values, stderrs : array_like, shape (k,)
        Step sizes (positive, distinct), estimates at each step size and their standard errors
        (positive).  The estimates must be statistically independent (separate simulations).
    order : int, default 1, keyword-only
        Degree of the polynomial in ``dt`` (1: linear, 2: quadratic); needs ``k >= order + 1``.
    confidence : float, default 0.95, keyword-only

    Returns
    -------
    Estimate
        The intercept, its standard error (from the weights ``1 / stderr^2``, not rescaled by the
        fit quality) and the fit's reduced chi-square (NaN when ``k == order + 1``).

    Examples
    --------
    >>> from fpsolve.stochastic.entropy import extrapolate_to_zero_dt
    >>> est = extrapolate_to_zero_dt([0.1, 0.2, 0.4], [0.9, 0.8, 0.6], [0.01, 0.01, 0.01])
    >>> round(est.value, 12), round(est.reduced_chi2, 12)
    (1.0, 0.0)
    """
    dts, values, stderrs = (np.asarray(v, dtype=float).ravel() for v in (dts, values, stderrs))
    _check_extrapolation(dts, values, stderrs, order)
    _normal_interval(0.0, 0.0, confidence)            # validates confidence before any work
    scale = dts.max()                      # fit in dt / max(dt): a well-conditioned Vandermonde
    X = np.vander(dts / scale, order + 1, increasing=True) / stderrs[:, None]
    y = values / stderrs
    cov = np.linalg.inv(X.T @ X)
    coef = cov @ (X.T @ y)
    dof = dts.size - order - 1
    chi2 = float(np.sum((y - X @ coef) ** 2) / dof) if dof else float("nan")
    value, stderr = float(coef[0]), float(np.sqrt(cov[0, 0]))
    return Estimate(value, stderr, _normal_interval(value, stderr, confidence),
                    reduced_chi2=chi2)


# ----------------------------------------------------------------------------- system part
def _log_stationary(p_ss, x, log_density) -> np.ndarray:
    """``ln p_ss`` at the positions ``x (rows, n_traj, d)``, shape ``(rows, n_traj)``."""
    if isinstance(p_ss, StationaryResult):
        p, grid = np.asarray(p_ss.p, dtype=float), p_ss.grid
        if p.shape != grid.shape:
            raise FpsolveError(f"p_ss: density of shape {p.shape} on a grid of shape {grid.shape}")
        good = np.isfinite(p) & (p > 0)
        table = np.log(np.where(good, p, 1.0))[None]
        return _on_rows(x, lambda pts: _interpolate(grid, table, pts, bad=~good)[0])
    if not callable(p_ss):
        raise FpsolveError("p_ss: expected a StationaryResult or a callable x (d, ...) -> p(x)")
    return _on_rows(x, lambda pts: _log_of_callable(p_ss, pts, log_density))


def _log_of_callable(p_ss, pts, log_density) -> np.ndarray:
    val = np.asarray(p_ss(pts), dtype=float)
    if val.shape != pts.shape[1:]:
        raise FpsolveError(f"p_ss: callable returned shape {val.shape}; expected "
                           f"{pts.shape[1:]} for points of shape {pts.shape}")
    good = np.isfinite(val) if log_density else np.isfinite(val) & (val > 0)
    if not good.all():
        kind = "non-finite log-density" if log_density else "zero, negative or non-finite density"
        _raise_at(f"p_ss: {kind}", ~good, pts)
    return val if log_density else np.log(val)


# ----------------------------------------------------------------------------- medium part
def _medium_steps(x, step_rows, rows, model, grid, force):
    """Midpoint-rule increments ``F(x_mid) . dx`` (shape ``(n_saved - 1, n_traj)``, zero outside
    ``step_rows``) and the potential at the positions ``x[rows]`` (or None) whose drop is the
    conservative part."""
    if (model is None) == (force is None):
        raise FpsolveError("model: give exactly one of model (with a grid) or force")
    if force is not None:
        if not callable(force):
            raise FpsolveError("force: expected a callable x (d, ...) -> F(x) (d, ...)")
        return _midpoint_sum(x, step_rows, grid, lambda pts: _force_of_callable(force, pts)), None
    if grid is None:
        raise FpsolveError("grid: a model needs a grid to tabulate its force on (or pass a "
                           "StationaryResult as p_ss)")
    fields = model.fields(grid)
    table = np.asarray(fields.force, dtype=float)
    steps = _midpoint_sum(x, step_rows, grid, lambda pts: _interpolate(grid, table, pts))
    if fields.potential is None:
        return steps, None
    U = np.asarray(fields.potential, dtype=float)[None]
    return steps, _on_rows(x[rows], lambda pts: _interpolate(grid, U, pts)[0])


def _force_of_callable(force, pts) -> np.ndarray:
    val = np.asarray(force(pts), dtype=float)
    if val.shape != pts.shape:
        raise FpsolveError(f"force: callable returned shape {val.shape}; expected {pts.shape}")
    bad = ~np.isfinite(val)
    if bad.any():
        _raise_at("force: non-finite value", bad.any(axis=0), pts)
    return val


def _midpoint_sum(x, step_rows, grid, force_at) -> np.ndarray:
    """``F(x_mid) . (x_{n+1} - x_n)`` for the steps ``n`` in ``step_rows``, in chunks."""
    n_traj, d = x.shape[1], x.shape[2]
    period = np.array([(hi - lo) if per else 0.0 for (lo, hi), per
                       in zip(grid.bounds, grid.periodic)]) if grid is not None else np.zeros(d)
    wrap = period > 0
    out = np.zeros((x.shape[0] - 1, n_traj))
    chunk = max(1, _CHUNK_POINTS // n_traj)
    for c0 in range(0, step_rows.size, chunk):
        n = step_rows[c0:c0 + chunk]
        dx = x[n + 1] - x[n]
        if wrap.any():  # minimum image: recorded positions may be wrapped into the box
            dx[..., wrap] -= period[wrap] * np.round(dx[..., wrap] / period[wrap])
        mid = np.moveaxis(x[n] + 0.5 * dx, -1, 0)
        out[n] = np.einsum("i...,...i->...", force_at(mid), dx)
    return out


# ----------------------------------------------------------------------------- interpolation
def _interpolate(grid, table, pts, *, bad=None) -> np.ndarray:
    """Multilinear interpolation of cell-center values ``table (m, *grid.shape)`` at points
    ``pts (d, ...)``; shape ``(m, ...)``.  With ``bad`` (boolean, ``grid.shape``) an error names
    the first point whose interpolation uses a bad cell with non-zero weight."""
    d, shape = grid.ndim, pts.shape[1:]
    flat_pts = pts.reshape(d, -1)
    axes = [_axis_stencil(grid, k, flat_pts[k]) for k in range(d)]
    flat_table = table.reshape(table.shape[0], -1)
    out = np.zeros((table.shape[0], flat_pts.shape[1]))
    hit = np.zeros(flat_pts.shape[1], dtype=bool)
    for corner in itertools.product((0, 1), repeat=d):
        idx = np.ravel_multi_index([axes[k][0][c] for k, c in enumerate(corner)], grid.shape)
        w = np.prod([axes[k][1][c] for k, c in enumerate(corner)], axis=0)
        out += w * flat_table[:, idx]
        if bad is not None:
            hit |= bad.ravel()[idx] & (w != 0)
    if hit.any():
        _raise_at("p_ss: the stationary density is zero, negative or non-finite on a cell "
                  "next to the path", hit, flat_pts)
    return out.reshape((table.shape[0],) + shape)


def _axis_stencil(grid, k, xk):
    """Lower/upper cell indices and weights of points ``xk`` along axis ``k``."""
    n, h, lo = grid.shape[k], grid.spacing[k], grid.bounds[k][0]
    s = (xk - lo) / h - 0.5                      # fractional cell-center index
    if grid.periodic[k]:
        i0 = np.floor(s)
        w1 = s - i0
        i0 = i0.astype(np.intp) % n
        return (i0, (i0 + 1) % n), (1.0 - w1, w1)
    i0 = np.clip(np.floor(s), 0, n - 2).astype(np.intp)
    w1 = s - i0                                  # outside [0, 1] in the half cells at the walls
    return (i0, i0 + 1), (1.0 - w1, w1)


# ----------------------------------------------------------------------------- helpers
def _on_rows(x, func) -> np.ndarray:
    """``func(pts)`` for ``pts (d, rows, n_traj)`` chunks of ``x``; shape ``x.shape[:2]``."""
    out = np.empty(x.shape[:2])
    rows = max(1, _CHUNK_POINTS // x.shape[1])
    for r0 in range(0, x.shape[0], rows):
        out[r0:r0 + rows] = func(np.moveaxis(x[r0:r0 + rows], -1, 0))
    return out


def _raise_at(message, mask, pts) -> None:
    idx = np.unravel_index(int(np.argmax(mask)), mask.shape)
    where = tuple(float(pts[(k,) + idx]) for k in range(pts.shape[0]))
    raise FpsolveError(f"{message} at position x = {where} ({int(mask.sum())} points affected)")


def _check_inside(name, grid, x) -> None:
    if grid.ndim != x.shape[2]:
        raise FpsolveError(f"{name}: {grid.ndim}-D grid for {x.shape[2]}-D positions")
    outside = np.zeros(x.shape[:2], dtype=bool)
    for k, ((lo, hi), per) in enumerate(zip(grid.bounds, grid.periodic)):
        if not per:
            outside |= (x[..., k] < lo) | (x[..., k] > hi)
    if outside.any():
        i, j = np.unravel_index(int(np.argmax(outside)), outside.shape)
        raise FpsolveError(f"positions: x = {tuple(x[i, j].tolist())} (saved index {i}, "
                           f"trajectory {j}) lies outside the box {list(grid.bounds)} of {name}")


def _check_positions(positions, dt):
    if hasattr(positions, "positions"):
        times = getattr(positions, "times", None)
        positions = positions.positions
        if times is not None and np.size(times) > 1:
            steps = np.diff(np.asarray(times, dtype=float))
            if not np.allclose(steps, steps[0], rtol=1e-9, atol=0):
                if dt is None:
                    raise FpsolveError("dt: the result's times are not uniformly spaced; pass dt")
            elif dt is None:
                dt = float(steps[0])
            elif not np.isclose(dt, steps[0], rtol=1e-9, atol=0):
                raise FpsolveError(f"dt: {dt} differs from the spacing {steps[0]} of the result's "
                                   "times (dt is the recorded spacing, not the integrator step)")
    x = np.asarray(positions, dtype=float)
    if x.ndim != 3 or x.shape[0] < 2 or x.shape[1] < 1 or x.shape[2] < 1:
        raise FpsolveError(f"positions: expected shape (n_saved >= 2, n_traj, d), got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise FpsolveError("positions: contains NaN or inf (absorbed or failed trajectories "
                           "must be removed first)")
    if dt is None or not np.isfinite(dt) or not dt > 0:
        raise FpsolveError(f"dt: expected the positive spacing of the recorded positions, got {dt}")
    return x, float(dt)


def _check_window(window, stride, n_saved):
    stride = window if stride is None else stride
    for name, v in (("window", window), ("stride", stride)):
        if isinstance(v, (bool, np.bool_)) or int(v) != v or v < 1:
            raise FpsolveError(f"{name}: expected a positive int (recorded steps), got {v!r}")
    if window > n_saved - 1:
        raise FpsolveError(f"window: {window} steps do not fit in {n_saved - 1} recorded steps")
    return int(window), int(stride)


def _check_extrapolation(dts, values, stderrs, order) -> None:
    if isinstance(order, (bool, np.bool_)) or int(order) != order or order < 0:
        raise FpsolveError(f"order: expected a non-negative int, got {order!r}")
    if not dts.size == values.size == stderrs.size:
        raise FpsolveError(f"values: dts, values and stderrs need equal lengths, got "
                           f"{dts.size}, {values.size}, {stderrs.size}")
    if dts.size < order + 1:
        raise FpsolveError(f"dts: order {order} needs at least {order + 1} step sizes, "
                           f"got {dts.size}")
    if not (np.all(np.isfinite(dts)) and np.all(dts > 0)) or np.unique(dts).size != dts.size:
        raise FpsolveError(f"dts: expected distinct positive finite step sizes, got {dts}")
    if not np.all(np.isfinite(values)):
        raise FpsolveError(f"values: expected finite numbers, got {values}")
    if not (np.all(np.isfinite(stderrs)) and np.all(stderrs > 0)):
        raise FpsolveError(f"stderrs: expected positive finite standard errors, got {stderrs}")
