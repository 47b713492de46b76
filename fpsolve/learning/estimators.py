"""Trajectory estimators of the linear (Gaussian) SGD theory: area velocity and windowed
stochastic entropy production of the linearized chain ``x' = (I - eta H) x + xi``."""

from __future__ import annotations

import numpy as np

from ..errors import SolverError
from .._runs import check_count as _count
from .models.minimum import as_vector as _vector
from .theory import GaussianTheory

__all__ = ["area_velocity", "entropy_production_windows"]


def area_velocity(trajectory, mean=None) -> np.ndarray:
    """Area velocity ``A = antisym <(x_n - m)(x_{n+1} - x_n)^T>`` of a recorded trajectory.

    Parameters
    ----------
    trajectory : array_like, shape (n_points, ..., d)
        Positions along axis 0; further leading axes are independent chains, pooled.
    mean : array_like, shape (d,), optional
        Center ``m``; default the sample mean of all positions.

    Returns
    -------
    A : ndarray, shape (d, d)
        Antisymmetric, ``A_ij = <x_i dx_j - x_j dx_i> / 2`` (area swept per step).

    Notes
    -----
    For the stationary chain ``x' = (I - eta H) x + xi``, ``<x (x' - x)^T> = -eta Sigma_disc H``:
    ``A`` estimates exactly ``C_disc`` of :class:`GaussianTheory`, and ``C`` to O(eta) relative.

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.learning.estimators import area_velocity
    >>> t = np.linspace(0, 2 * np.pi, 10001)  # unit circle, counterclockwise
    >>> A = area_velocity(np.c_[np.cos(t), np.sin(t)], mean=[0, 0])
    >>> bool(np.isclose(A[0, 1] * 10000, np.pi, rtol=1e-6))  # total area swept
    True
    """
    X = _trajectory(trajectory)
    d = X.shape[-1]
    m = X.reshape(-1, d).mean(axis=0) if mean is None else _vector("mean", mean, d)
    x, dx = (X[:-1] - m).reshape(-1, d), np.diff(X, axis=0).reshape(-1, d)
    K = x.T @ dx / x.shape[0]
    return 0.5 * (K - K.T)


def entropy_production_windows(trajectory, theory: GaussianTheory, *, window: int = 1,
                               form: str = "exact", center=None) -> np.ndarray:
    """Stochastic entropy production of the linear SGD chain over windows of ``window`` steps.

    Parameters
    ----------
    trajectory : array_like, shape (n_points, ..., d)
        Parameters ``w`` along axis 0; further axes are independent chains.
    theory : GaussianTheory
    window : int, keyword-only
        Steps per window; non-overlapping windows start at points ``0, window, 2 window, ...``.
    form : {"exact", "midpoint", "prepoint"}, keyword-only
        Medium part (Notes); the system part uses ``Sigma_disc`` for "exact", else ``Sigma``.
    center : array_like, shape (d,), optional
        The minimum ``w*`` (``x = w - w*``); default the origin.

    Returns
    -------
    sigma : ndarray, shape (n_windows, ...)
        Total entropy production ``ln p(x_start) - ln p(x_end) + sum of medium terms`` (k_B).

    Notes
    -----
    Per step, with ``M = I - eta H`` and ``F(x) = -eta D^-1 H x`` (derivations on
    ``docs/sgd-theory.md``): ``exact`` ``ln N(x'; M x, 2D) - ln N(x; M x', 2D)``, for which
    ``<exp(-sigma)> = 1`` exactly from a stationary start; ``midpoint`` ``F((x + x')/2).(x' - x)``
    (same stationary mean); ``prepoint`` ``F(x).(x' - x) - eta tr H`` (Ito plus the mean
    Ito-Stratonovich correction; mean biased by ``(eta^3 / 2) tr(D^-1 H^2 Sigma_disc H)``).

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.learning.theory import gaussian_theory
    >>> from fpsolve.learning.estimators import entropy_production_windows
    >>> th = gaussian_theory(np.diag([1.0, 2.0]), [[0.01, 0.005], [0.005, 0.02]], 0.1)
    >>> x = np.random.default_rng(0).normal(size=(11, 3, 2))  # 10 steps of 3 chains
    >>> entropy_production_windows(x, th, window=5).shape
    (2, 3)
    """
    if form not in ("exact", "midpoint", "prepoint"):
        raise SolverError(f"form: expected 'exact', 'midpoint' or 'prepoint', got {form!r}")
    d, window = theory.H.shape[0], _count("window", window, 1)
    X = _trajectory(trajectory, d) - (0.0 if center is None else _vector("center", center, d))
    n_win = (X.shape[0] - 1) // window
    if n_win < 1:
        raise SolverError(f"window: {window} steps do not fit in a trajectory of "
                          f"{X.shape[0] - 1} steps")
    X = X[:n_win * window + 1]
    medium = _medium(X, theory, form)
    medium = medium.reshape((n_win, window) + medium.shape[1:]).sum(axis=1)
    S = theory.Sigma_disc if form == "exact" else theory.Sigma
    q = _quadratic(X[::window], np.linalg.inv(S))
    return medium + 0.5 * (q[1:] - q[:-1])  # ln p(x_start) - ln p(x_end)



def _medium(X, th: GaussianTheory, form: str) -> np.ndarray:
    """Medium entropy of every step of ``X`` (n + 1 points) in the given form, shape (n, ...)."""
    x, x1 = X[:-1], X[1:]
    if form == "exact":
        M, Qinv = np.eye(th.H.shape[0]) - th.eta * th.H, np.linalg.inv(2.0 * th.D)
        return 0.5 * (_quadratic(x - x1 @ M, Qinv) - _quadratic(x1 - x @ M, Qinv))  # M = M^T
    K = th.eta * th.H @ np.linalg.inv(th.D)  # F(x) . dx = -x^T K dx
    if form == "midpoint":
        return -np.einsum("...i,ij,...j->...", 0.5 * (x + x1), K, x1 - x)
    return -np.einsum("...i,ij,...j->...", x, K, x1 - x) - th.eta * np.trace(th.H)


def _quadratic(v, P) -> np.ndarray:
    return np.einsum("...i,ij,...j->...", v, P, v)



def _trajectory(trajectory, d=None) -> np.ndarray:
    X = np.asarray(trajectory, dtype=float)
    if (X.ndim < 2 or X.shape[0] < 2 or (d is not None and X.shape[-1] != d)
            or not np.all(np.isfinite(X))):
        raise SolverError(f"trajectory: expected finite positions of shape (n_points >= 2, ..., "
                          f"{d or 'd'}), got shape {X.shape}")
    return X
