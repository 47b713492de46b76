"""Trajectory estimators of the linear (Gaussian) SGD theory: area velocity and windowed
stochastic entropy production of the linearized chain ``x' = (I - eta H) x + xi``.

*Stride.*  Every estimator knows how many SGD steps lie between two records: an
:class:`~fpsolve.learning.sgd.SGDResult` brings its own (``record_every``); a bare array is read
as records of every step unless ``stride=`` says otherwise, and the entropy estimators refuse
records whose steps do not match the theory's noise at that stride (thinned records read as
single steps gave 0.1155 "per step" against 0.0031).

*Expansion point.*  Positions are measured from ``center``: by default the minimum the theory
was built at (``theory.w``, :func:`~fpsolve.learning.gaussian_theory` ``w=``), and the
sample mean where an estimator has no theory (:func:`area_velocity`).  A theory built without
its minimum takes bare arrays as displacements ``w - w*``, and refuses an ``SGDResult``.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from ...errors import SolverError
from ..._runs import check_count as _count
from ..models.minimum import as_vector as _vector
from .gaussian import GaussianTheory

__all__ = ["area_velocity", "entropy_production_windows", "EntropyProductionStream"]

_UNSET = object()
# Noise check: the chain's residual x' - M_s x has covariance Q_s, so z = r^T Q_s^-1 r averages
# to d.  Refuse a mean of z / d off by more than this factor (stride 2 misread as 1 gives ~2)
# when the excess is also beyond 6 standard errors of the mean (no false alarm on short paths).
_NOISE_FACTOR, _NOISE_Z = 1.5, 6.0


def area_velocity(trajectory, center=None, *, stride=None, mean=_UNSET) -> np.ndarray:
    """Area velocity ``A = antisym <(x_n - m)(x_{n+1} - x_n)^T> / stride`` of a recorded path.

    Parameters
    ----------
    trajectory : array_like, shape (n_points, ..., d), or SGDResult
        Positions along axis 0; further leading axes are independent chains, pooled.
    center : array_like, shape (d,), optional
        Center ``m``; default the sample mean of all positions.
    stride : int, optional, keyword-only
        SGD steps between records: an ``SGDResult``'s ``record_every``, else 1.
    mean : deprecated
        Old name of ``center``.

    Returns
    -------
    A : ndarray, shape (d, d)
        Antisymmetric, ``A_ij = <x_i dx_j - x_j dx_i> / (2 stride)``: area swept per step.

    Notes
    -----
    For the stationary chain ``x' = (I - eta H) x + xi``, ``<x (x' - x)^T> = -eta Sigma_disc H``:
    at stride 1 ``A`` estimates exactly ``C_disc`` of :class:`GaussianTheory` (and ``C`` to
    O(eta) relative); at stride ``s`` it estimates ``antisym(Sigma_disc M^s) / s``, which is
    ``C_disc`` up to O(s eta lambda) relative.

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.learning.theory.estimators import area_velocity
    >>> t = np.linspace(0, 2 * np.pi, 10001)  # unit circle, counterclockwise
    >>> A = area_velocity(np.c_[np.cos(t), np.sin(t)], center=[0, 0])
    >>> bool(np.isclose(A[0, 1] * 10000, np.pi, rtol=1e-6))  # total area swept
    True
    """
    if mean is not _UNSET:
        warnings.warn("area_velocity(mean=) is deprecated, use center=", DeprecationWarning,
                      stacklevel=2)
        center = mean if center is None else center
    X, stride, _ = _records(trajectory, stride)
    X = _trajectory(X)
    d = X.shape[-1]
    m = X.reshape(-1, d).mean(axis=0) if center is None else _vector("center", center, d)
    x, dx = (X[:-1] - m).reshape(-1, d), np.diff(X, axis=0).reshape(-1, d)
    K = x.T @ dx / (x.shape[0] * stride)
    return 0.5 * (K - K.T)


def entropy_production_windows(trajectory, theory: GaussianTheory, *, window: int = 1,
                               form: str = "exact", center=None, stride=None) -> np.ndarray:
    """Stochastic entropy production of the linear SGD chain over windows of ``window`` records.

    Parameters
    ----------
    trajectory : array_like, shape (n_points, ..., d_w), or SGDResult
        Parameters ``w`` along axis 0; further axes are independent chains.
    theory : GaussianTheory
    window : int, keyword-only
        Records per window; non-overlapping windows start at records ``0, window, ...``.
    form : {"exact", "midpoint", "prepoint"}, keyword-only
        Medium part (Notes); the system part uses ``Sigma_disc`` for "exact", else ``Sigma``.
        Only "exact" accepts ``stride > 1``.
    center : array_like, shape (d_w,), optional, keyword-only
        Expansion point ``w*`` (``x = (w - w*) @ theory.basis``); default ``theory.w``
        (module docstring).
    stride : int, optional, keyword-only
        SGD steps between records: an ``SGDResult``'s ``record_every``, else 1.

    Returns
    -------
    sigma : ndarray, shape (n_windows, ...)
        Total entropy production ``ln p(x_start) - ln p(x_end) + sum of medium terms`` (k_B)
        of each window of ``window * stride`` steps.

    Raises
    ------
    SolverError
        Also when the steps do not match the theory's noise at ``stride`` (module docstring).

    Notes
    -----
    Per record, with ``M = I - eta H`` and ``F(x) = -eta D^-1 H x`` (derivations on
    ``docs/sgd-theory.md``): ``exact`` ``ln N(x'; M_s x, Q_s) - ln N(x; M_s x', Q_s)`` with the
    ``s``-step map ``M_s = M^s`` and noise ``Q_s = sum_{k<s} M^k (2D) M^k`` (the thinned chain is
    again linear Gaussian), for which ``<exp(-sigma)> = 1`` exactly from a stationary start;
    ``midpoint`` ``F((x + x')/2).(x' - x)`` (same stationary mean); ``prepoint``
    ``F(x).(x' - x) - eta tr H`` (Ito plus the mean Ito-Stratonovich correction; mean biased by
    ``(eta^3 / 2) tr(D^-1 H^2 Sigma_disc H)``).  "exact" is evaluated regrouped (see
    :class:`EntropyProductionStream`), free of the cancellation of its two ``Q^-1`` quadratics.
    At stride ``s`` the result is the entropy production of the thinned path, at most that of
    the ``s`` steps it spans (coarse graining loses irreversibility).

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.learning.theory import gaussian_theory
    >>> from fpsolve.learning.theory.estimators import entropy_production_windows
    >>> th = gaussian_theory(np.diag([1.0, 2.0]), [[0.01, 0.005], [0.005, 0.02]], 0.1)
    >>> x = th.stationary_sample(3, rng=0)[None] + np.zeros((11, 1, 1))  # 10 steps of 3 chains
    >>> x[1:] += np.cumsum(np.random.default_rng(1).normal(0, 0.15, (10, 3, 2)), axis=0)
    >>> entropy_production_windows(x, th, window=5).shape
    (2, 3)
    """
    if form not in ("exact", "midpoint", "prepoint"):
        raise SolverError(f"form: expected 'exact', 'midpoint' or 'prepoint', got {form!r}")
    X, stride, _ = _records(trajectory, stride, theory, center)
    if form != "exact" and stride != 1:
        raise SolverError(f"form: {form!r} needs records of every step, got stride {stride}; "
                          f"use form='exact'")
    window = _count("window", window, 1)
    X = _trajectory(theory.coordinates(_trajectory(X), _center(center, X)),
                    theory.H.shape[0])
    n_win = (X.shape[0] - 1) // window
    if n_win < 1:
        raise SolverError(f"window: {window} records do not fit in a trajectory of "
                          f"{X.shape[0] - 1} recorded steps")
    X = X[:n_win * window + 1]
    kernel = _Kernel(theory, stride)
    kernel.check(X)
    if form == "exact":
        step, q = kernel.step_and_system(X)
    else:
        step, q = _medium(X, theory, form), _quadratic(X, np.linalg.inv(theory.Sigma))
    step = step.reshape((n_win, window) + step.shape[1:]).sum(axis=1)
    return step + 0.5 * (q[window::window] - q[:-1:window])  # ln p(x_start) - ln p(x_end)


class EntropyProductionStream:
    """Windowed entropy production of long runs, streamed over recorded chunks.

    The "exact" form of :func:`entropy_production_windows`, regrouped for speed: per recorded
    step ``dS = (x' - x) . A x`` plus the boundary term ``(q(x_end) - q(x_start)) / 2`` of a
    window, ``A = Q_s^-1 M_s - M_s Q_s^-1`` (antisymmetric), ``q(x) = x . B x``,
    ``B = Sigma_disc^-1 - Q_s^-1 + M_s Q_s^-1 M_s`` (``B = 0`` at detailed balance).  The terms
    of ``Q^-1`` that grow like ``1 / (eta lambda)`` cancel analytically, and one matrix product
    ``X [A^T, B]`` per chunk gives every step.

    Parameters
    ----------
    theory : GaussianTheory
    windows : sequence of int
        Window lengths (in records) whose values are kept; windows do not straddle chunks.
    stride : int, keyword-only
        SGD steps between records (an added ``SGDResult`` must have it as ``record_every``).
    center : array_like, shape (d_w,), optional, keyword-only
        Expansion point, default ``theory.w`` (module docstring).

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.learning.theory import gaussian_theory
    >>> from fpsolve.learning.theory.estimators import EntropyProductionStream
    >>> th = gaussian_theory(np.diag([1.0, 2.0]), [[0.01, 0.005], [0.005, 0.02]], 0.1)
    >>> x = th.stationary_sample(3, rng=0)[None] + np.zeros((11, 1, 1))
    >>> x[1:] += np.cumsum(np.random.default_rng(1).normal(0, 0.15, (10, 3, 2)), axis=0)
    >>> acc = EntropyProductionStream(th, windows=(5,))
    >>> acc.add(x[:6]); acc.add(x[5:])       # chunks share their end points
    >>> acc.window_samples(5).shape, acc.steps
    ((2, 3), 10)
    """

    def __init__(self, theory: GaussianTheory, windows=(1,), *, stride: int = 1, center=None):
        self.theory, self.windows = theory, tuple(_count("windows", k, 1) for k in windows)
        self.stride, self.center = _count("stride", stride, 1), center
        self._kernel = _Kernel(theory, self.stride)
        self._samples = {k: [] for k in self.windows}
        self._total = self._q_first = self._q_last = None
        self.steps, self.seconds = 0, 0.0

    def add(self, chunk) -> None:
        """Add records ``(m + 1, C, d_w)`` (or an ``SGDResult``) continuing the previous chunk."""
        t0 = time.perf_counter()
        X, _, _ = _records(chunk, self.stride, self.theory, self.center)
        X = _trajectory(X)
        Y = self.theory.coordinates(X, _center(self.center, X))
        if self._total is None:
            self._kernel.check(Y)          # once: the first chunk shows a wrong stride
        s, q = self._kernel.step_and_system(Y)
        self._total = s.sum(0) if self._total is None else self._total + s.sum(0)
        self._q_first = q[0] if self._q_first is None else self._q_first
        self._q_last, m = q[-1], s.shape[0]
        self.steps += m
        for k in self.windows:
            nw = m // k
            if nw:
                ds = s[:nw * k].reshape((nw, k) + s.shape[1:]).sum(1)
                self._samples[k].append(ds + 0.5 * (q[k:nw * k + 1:k] - q[:nw * k:k]))
        self.seconds += time.perf_counter() - t0

    def chain_rates(self) -> np.ndarray:
        """Entropy production per SGD step of each chain over its whole run, shape ``(...)``."""
        if self._total is None:
            raise SolverError("chain_rates: no chunk added yet")
        total = self._total + 0.5 * (self._q_last - self._q_first)
        return total / (self.steps * self.stride)

    def window_samples(self, k: int) -> np.ndarray:
        """Values of the windows of ``k`` records, shape ``(n_windows, ...)``."""
        if k not in self._samples:
            raise SolverError(f"k: expected one of the windows {self.windows}, got {k!r}")
        return np.concatenate(self._samples[k]) if self._samples[k] else np.zeros((0,))


def _medium(X, th: GaussianTheory, form: str) -> np.ndarray:
    """Medium entropy of every step of ``X`` (n + 1 points), "midpoint" or "prepoint" form,
    shape (n, ...); "exact" is :class:`_Kernel`'s."""
    x, x1 = X[:-1], X[1:]
    K = th.eta * th.H @ np.linalg.inv(th.D)  # F(x) . dx = -x^T K dx
    if form == "midpoint":
        return -np.sum(_times(0.5 * (x + x1), K) * (x1 - x), axis=-1)
    return -np.sum(_times(x, K) * (x1 - x), axis=-1) - th.eta * np.trace(th.H)


def _quadratic(v, P) -> np.ndarray:
    """``v . P v`` over the last axis for symmetric ``P`` (one matrix product, BLAS)."""
    return np.sum(_times(v, P) * v, axis=-1)


def _times(X, A) -> np.ndarray:
    """``X @ A`` for ``X (..., d)`` as one 2-D product (a stacked ``@`` loops over the rows)."""
    return (X.reshape(-1, X.shape[-1]) @ A).reshape(X.shape[:-1] + (A.shape[1],))


class _Kernel:
    """``M_s = M^s``, ``Q_s^-1`` and the regrouped ``A``, ``B`` of the chain at stride ``s``,
    built in the eigenbasis of ``H`` (``Q_s = V [Q~_ij (1 - (mu_i mu_j)^s) / (1 - mu_i mu_j)]
    V^T`` without cancellation)."""

    def __init__(self, th: GaussianTheory, stride: int):
        lam, V = np.linalg.eigh(th.H)
        mu = 1.0 - th.eta * lam
        x = np.outer(mu, mu)
        if stride == 1:
            g = np.ones_like(x)
        else:   # (1 - x^s) / (1 - x), accurate for x near 1
            with np.errstate(divide="ignore"):
                num = np.where(x > 0, -np.expm1(stride * np.log(np.abs(x))), 1.0 - x**stride)
            g = num / (1.0 - x)
        Qs_t = (V.T @ (2.0 * th.D) @ V) * g
        Qi = V @ np.linalg.inv(0.5 * (Qs_t + Qs_t.T)) @ V.T
        self.M, self.Qi = (V * mu**stride) @ V.T, 0.5 * (Qi + Qi.T)
        A = self.Qi @ self.M - self.M @ self.Qi
        B = np.linalg.inv(th.Sigma_disc) - self.Qi + self.M @ self.Qi @ self.M
        self.AB, self.stride = np.hstack([A.T, 0.5 * (B + B.T)]), stride

    def step_and_system(self, X):
        """Per-step ``(x' - x) . A x`` ``(n, ...)`` and ``q(x) = x . B x`` ``(n + 1, ...)``."""
        d, U = X.shape[-1], _times(X, self.AB)
        s = np.einsum("t...i,t...i->t...", X[1:] - X[:-1], U[:-1, ..., :d])
        return s, np.einsum("t...i,t...i->t...", X, U[..., d:])

    def check(self, X) -> None:
        """Refuse steps whose residual ``x' - M_s x`` does not match the noise ``Q_s``."""
        z = _quadratic(X[1:] - _times(X[:-1], self.M), self.Qi).ravel() / X.shape[-1]
        ratio = z.mean()
        se = z.std() / np.sqrt(z.size) if z.size > 1 else np.inf
        if abs(np.log(ratio)) > np.log(_NOISE_FACTOR) and abs(ratio - 1) > _NOISE_Z * se:
            raise SolverError(
                f"stride: the recorded steps carry {ratio:.3g} times the theory's noise over "
                f"{self.stride} step(s): thinned records (pass the SGDResult, or "
                f"stride=record_every), or positions not measured from the minimum (center=)")


def _records(trajectory, stride, theory=None, center=None):
    """``(positions, stride, is_result)`` of an ``SGDResult`` or a bare array."""
    if hasattr(trajectory, "record_every") and hasattr(trajectory, "w"):
        every = int(trajectory.record_every)
        if stride is not None and int(stride) != every:
            raise SolverError(f"stride: the result records every {every} steps, got {stride}")
        if theory is not None and center is None and theory.w is None:
            raise SolverError("center: an SGDResult holds parameters w and the theory has no "
                              "minimum; pass center=w* or gaussian_theory(..., w=w*)")
        return trajectory.w, every, True
    return trajectory, 1 if stride is None else _count("stride", stride, 1), False


def _center(center, X):
    return None if center is None else _vector("center", center, X.shape[-1])


def _trajectory(trajectory, d=None) -> np.ndarray:
    X = np.asarray(trajectory, dtype=float)
    if (X.ndim < 2 or X.shape[0] < 2 or (d is not None and X.shape[-1] != d)
            or not np.all(np.isfinite(X))):
        raise SolverError(f"trajectory: expected finite positions of shape (n_points >= 2, ..., "
                          f"{d or 'd'}), got shape {X.shape}")
    return X
