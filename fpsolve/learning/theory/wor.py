"""Minibatch SGD without replacement (WOR): epoch-wise theory at small learning rate.

Each epoch draws a uniform permutation of the ``N`` samples and takes ``R = N / B`` steps on its
consecutive batches.  Expanding the epoch map in ``eta`` (``docs/sgd-theory.md``):

* the batch gradients of an epoch add up to ``R grad L``, so the O(eta) noise cancels and the
  epoch displacement fluctuates only at O(eta^2): the per-epoch diffusion matrix
  ``D_epoch = Cov(epoch displacement) / 2`` (all orders, :attr:`EpochStatistics.diffusion`)
  has the leading term ``D_eta4 = (eta^4 / 2) Cov(S)`` (:func:`wor_leading_diffusion`), against
  ``eta^2`` with replacement;
* its mean is, to O(eta^2), ``R`` gradient-descent steps on the effective loss
  ``L_eff = L + (eta / 4) (N - B) / (B (N - 1)) tr Sigma_g``, whose minimizer is the
  stationary mean of WOR SGD up to O(eta^2).

The model interface is that of :mod:`fpsolve.learning.theory`.  Two optional methods are used
when present: ``per_sample_hessians(w, data) -> (N, d, d)`` (otherwise central differences of
the per-sample gradients) and ``minibatch_gradient(w, data, batch) -> (d,)``; and when
``per_sample_gradients`` also accepts a stack of parameter vectors ``(n, d) -> (n, N, d)`` the
epoch simulation runs vectorized over permutations.
"""

from __future__ import annotations

from dataclasses import dataclass

import warnings

import numpy as np

from ...errors import ModelError, SolverError
from ..._runs import check_count as _count
from ..dynamics.schedules import minibatch_indices
from ..models.minimum import Minimum, minimize
from .gaussian import (CHUNK, _batch_size, _eta, finite_population, _mean_cov,
                     _population_covariance, _sample_gradients, _vector)

__all__ = ["wor_effective_loss", "wor_stationary_mean", "EpochStatistics",
           "wor_epoch_statistics", "wor_leading_diffusion", "wor_diffusion"]

# Central-difference step relative to 1 + |w_k|: eps^(1/3) balances the O(h^2) truncation
# against the O(eps / h) round-off of the per-sample gradients (exact for quadratic losses).
_FD_STEP = np.finfo(float).eps ** (1 / 3)


def wor_effective_loss(model, data, w, *, eta: float, batch_size: int) -> float:
    """Effective loss of WOR SGD, ``L_eff = L + (eta / 4) (N - B) / (B (N - 1)) tr Sigma_g``.

    Parameters
    ----------
    model : object
        ``loss`` and ``per_sample_gradients`` (module docstring).
    data : object
    w : array_like, shape (d,)
    eta : float, keyword-only
        Learning rate.
    batch_size : int, keyword-only
        ``B``; must divide ``N``.

    Returns
    -------
    float

    Notes
    -----
    ``Sigma_g`` is the population covariance of the per-sample gradients at ``w``.  One WOR
    epoch moves the mean like ``R`` gradient steps on ``L_eff`` up to O(eta^3) (and up to the
    term ``(eta / 4)|grad L|^2`` of plain gradient descent, whose gradient vanishes at critical
    points); derivation on ``docs/sgd-theory.md``.

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> from fpsolve.learning.theory.wor import wor_effective_loss
    >>> m = SimpleNamespace(loss=lambda w, _: 0.0,
    ...                     per_sample_gradients=lambda w, _: np.array([[1.0], [-1.0]]))
    >>> wor_effective_loss(m, None, [0.0], eta=0.4, batch_size=1)  # 0.1 * (1/1) * 1
    0.1
    """
    G = _sample_gradients(model, data, w)
    c = 0.25 * _eta(eta) * _epoch_factor(G.shape[0], batch_size)
    return float(model.loss(_vector("w", w), data) + c * np.trace(_population_covariance(G)))


def wor_stationary_mean(model, data, w0, *, eta: float, batch_size: int, tol: float = 1e-10,
                        maxiter: int = 50) -> Minimum:
    """Minimizer of :func:`wor_effective_loss`: the stationary mean of WOR SGD to O(eta^2).

    Parameters
    ----------
    model : object
        ``loss``, ``hessian``, ``per_sample_gradients``; optionally ``per_sample_hessians``.
    data : object
    w0 : array_like, shape (d,)
        Starting point, usually the minimum of ``L``.
    eta, batch_size : keyword-only
        As for :func:`wor_effective_loss`.
    tol, maxiter : keyword-only
        As for :func:`~fpsolve.learning.theory.gaussian.find_minimum`.

    Returns
    -------
    Minimum
        ``w`` the minimizer, ``H`` the Hessian of ``L`` there, ``grad_norm`` that of
        ``grad L_eff``.

    Notes
    -----
    ``grad L_eff = grad L + (eta / 2) kappa (1/N) sum_i h_i (g_i - g)`` with the per-sample
    Hessians ``h_i`` (analytic when the model has ``per_sample_hessians``, otherwise central
    differences of the per-sample gradients, ``2 d`` calls), ``kappa = (N-B)/(B(N-1))``.
    Newton steps use the Hessian of ``L``: the neglected part is O(eta), so convergence is
    linear with rate O(eta) (a few steps).

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> from fpsolve.learning.theory.wor import wor_stationary_mean
    >>> a = np.array([1.0, 2.0])  # l_i = a_i^2 w^2 - 2 a_i w: w* = 0.6, shifted by eta
    >>> m = SimpleNamespace(loss=lambda w, _: np.mean(a**2 * w[0]**2 - 2 * a * w[0]),
    ...     hessian=lambda w, _: np.array([[np.mean(2 * a**2)]]),
    ...     per_sample_gradients=lambda w, _: (2 * a**2 * w[0] - 2 * a)[:, None])
    >>> round(float(wor_stationary_mean(m, None, [0.6], eta=0.01, batch_size=1).w[0]), 6)
    0.597621
    """
    c = 0.5 * _eta(eta) * _epoch_factor(_sample_gradients(model, data, w0).shape[0], batch_size)

    def gradient(w):
        G = _sample_gradients(model, data, w)
        h = _per_sample_hessians(model, data, w, G)
        return G.mean(axis=0) + c * np.einsum("nij,nj->i", h, G - G.mean(axis=0)) / G.shape[0]

    return minimize(lambda w: wor_effective_loss(model, data, w, eta=eta, batch_size=batch_size),
                     gradient, lambda w: model.hessian(w, data), w0, tol, maxiter)


@dataclass(frozen=True)
class EpochStatistics:
    """Mean and covariance of the displacement over one epoch (:func:`wor_epoch_statistics`).

    Attributes
    ----------
    mean : ndarray, shape (d,)
    cov : ndarray, shape (d, d)
        Sample covariance (``ddof=1``); :attr:`diffusion` is ``cov / 2``.
    n_perm : int
        Number of simulated epochs.
    replace : bool
        True for batches drawn with replacement (independently every step).
    """

    mean: np.ndarray
    cov: np.ndarray
    n_perm: int
    replace: bool

    @property
    def diffusion(self) -> np.ndarray:
        """``D_epoch = cov / 2 (d, d)``: the per-epoch diffusion matrix at this ``eta``, all
        orders (its leading O(eta^4) term is :func:`wor_leading_diffusion`)."""
        return 0.5 * self.cov


def wor_epoch_statistics(model, data, w, *, eta: float, batch_size: int, n_perm: int,
                         rng=None, replace: bool = False) -> EpochStatistics:
    """Simulate ``n_perm`` independent epochs of SGD from ``w``; moments of the displacement.

    Parameters
    ----------
    model : object
        ``per_sample_gradients``; vectorized when it accepts a stack of ``w`` (module docstring).
    data : object
    w : array_like, shape (d,)
        Start of every epoch.
    eta, batch_size : keyword-only
        Learning rate and ``B`` (dividing ``N``); an epoch is ``R = N / B`` steps.
    n_perm : int, keyword-only
        Number of epochs (permutations), ``>= 2``.
    rng : Generator, int, SeedSequence or None, keyword-only
        Seed of the batches (:func:`~fpsolve.learning.dynamics.schedules.minibatch_indices`).
    replace : bool, keyword-only
        Draw the ``R`` batches with replacement ("wr") instead of from one permutation.

    Returns
    -------
    EpochStatistics

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> from fpsolve.learning.theory.wor import wor_epoch_statistics
    >>> m = SimpleNamespace(per_sample_gradients=lambda w, _: np.array([[1.0], [-1.0]]))
    >>> s = wor_epoch_statistics(m, None, [0.0], eta=0.1, batch_size=1, n_perm=100, rng=0)
    >>> np.allclose(s.mean, 0), np.allclose(s.cov, 0)  # constant gradients cancel exactly
    (True, True)
    """
    G0 = _sample_gradients(model, data, w)
    w, (N, d), eta = _vector("w", w), G0.shape, _eta(eta)
    R, n = _epoch_length(N, batch_size), _count("n_perm", n_perm, 2)
    idx = minibatch_indices(N, N // R, n * R, schedule="wr" if replace else "wor", rng=rng)
    idx = idx.reshape(n, R, N // R)
    grad = _batch_gradient_function(model, data, w)

    def epochs(b):  # displacements over one epoch for the batches b (m, R, B)
        W = w - eta * G0[b[:, 0]].mean(axis=1)  # first step: all epochs start at w
        for k in range(1, R):
            W = W - eta * grad(W, b[:, k])
        return W - w

    chunk = max(1, CHUNK // (N * d))
    blocks = (epochs(idx[i:i + chunk]) for i in range(0, n, chunk))
    # centered on the first-order displacement -eta R grad L so the sums do not cancel
    mean, cov = _mean_cov(blocks, -eta * R * G0.mean(axis=0))
    return EpochStatistics(mean, cov, n, bool(replace))


def wor_leading_diffusion(model, data, w, *, eta: float, batch_size: int,
                          method: str = "sampled", n_perm: int = 4096, rng=None) -> np.ndarray:
    """Leading O(eta^4) term ``D_eta4`` of the per-epoch WOR diffusion matrix.

    The per-epoch diffusion ``D_epoch = Cov(epoch displacement) / 2`` (all orders; simulated by
    :func:`wor_epoch_statistics`, :attr:`EpochStatistics.diffusion`) is ``D_eta4 + O(eta^5)``.

    Parameters
    ----------
    model : object
        ``per_sample_gradients``, ``hessian``; optionally ``per_sample_hessians``.
    data : object
    w : array_like, shape (d,)
    eta, batch_size : keyword-only
        Learning rate and ``B`` (dividing ``N``).
    method : {"sampled", "leading"}, keyword-only
        ``"sampled"``: ``(eta^4 / 2) Cov(S)`` with ``S = sum_{j<k} H_k G_j`` (batch-mean
        Hessians and gradients at ``w``) over ``n_perm`` sampled permutations -- the exact
        O(eta^4) coefficient at any ``w``, up to sampling error ``~sqrt(2 / n_perm)``.
        ``"leading"``: the closed form ``(eta^4 / 2) R^2 (R^2 - 1) / (12 (N - 1)) H Sigma_g H``,
        its dominant part at a critical point (relative corrections ~ Var(h_i) / (N H^2); exact
        when all per-sample Hessians are equal).
    n_perm : int, keyword-only
    rng : keyword-only
        Seed of the permutations (``"sampled"``).

    Returns
    -------
    D_eta4 : ndarray, shape (d, d)

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> from fpsolve.learning.theory.wor import wor_leading_diffusion
    >>> m = SimpleNamespace(per_sample_gradients=lambda w, _: np.array([[1.0], [-1.0]]),
    ...                     hessian=lambda w, _: np.array([[2.0]]))
    >>> wor_leading_diffusion(m, None, [0.0], eta=0.1, batch_size=1, method="leading")
    array([[0.0002]])
    """
    G = _sample_gradients(model, data, w)
    (N, d), eta, R = G.shape, _eta(eta), _epoch_length(G.shape[0], batch_size)
    if method == "leading":
        H = np.asarray(model.hessian(_vector("w", w), data), dtype=float)
        return eta**4 * R**2 * (R**2 - 1) / (24 * (N - 1)) * H @ _population_covariance(G) @ H
    if method != "sampled":
        raise SolverError(f"method: expected 'sampled' or 'leading', got {method!r}")
    h, n = _per_sample_hessians(model, data, _vector("w", w), G), _count("n_perm", n_perm, 2)
    idx = minibatch_indices(N, N // R, n * R, schedule="wor", rng=rng).reshape(n, R, N // R)
    S, chunk = np.empty((n, d)), max(1, CHUNK // (N * d * d))
    for start in range(0, n, chunk):
        b = idx[start:start + chunk]
        Gb, Hb = G[b].mean(axis=2), h[b].mean(axis=2)        # (m, R, d), (m, R, d, d)
        before = np.cumsum(Gb, axis=1) - Gb                   # sum_{j<k} G_j
        S[start:start + chunk] = np.einsum("mkij,mkj->mi", Hb, before)
    return 0.5 * eta**4 * np.cov(S, rowvar=False).reshape(d, d)


def wor_diffusion(*args, **kwargs) -> np.ndarray:
    """Deprecated alias of :func:`wor_leading_diffusion` (the name ``D_WOR`` meant both
    ``D_eta4`` and ``D_epoch``); it will be removed in the next release."""
    warnings.warn("wor_diffusion is deprecated, use wor_leading_diffusion (the leading "
                  "O(eta^4) term) or EpochStatistics.diffusion (all orders)", DeprecationWarning,
                  stacklevel=2)
    return wor_leading_diffusion(*args, **kwargs)


# ----------------------------------------------------------------------------- helpers
def _epoch_length(N: int, batch_size) -> int:
    """``R = N / B``; the WOR theory needs ``B`` to divide ``N`` (every sample once an epoch)."""
    B = _batch_size(batch_size, N)
    if N % B:
        raise ModelError(f"batch_size: the WOR theory needs B to divide N = {N}, got {B}")
    return N // B


def _epoch_factor(N: int, batch_size) -> float:
    """``kappa = (N - B) / (B (N - 1)) = (R - 1) / (N - 1)``."""
    return finite_population(N, N // _epoch_length(N, batch_size))


def _per_sample_hessians(model, data, w, G) -> np.ndarray:
    """Per-sample Hessians ``(N, d, d)``: the model's, or central differences of ``G``."""
    N, d = G.shape
    if hasattr(model, "per_sample_hessians"):
        h = np.asarray(model.per_sample_hessians(w, data), dtype=float)
        if h.shape != (N, d, d) or not np.all(np.isfinite(h)):
            raise ModelError(f"model: per_sample_hessians must return finite values of shape "
                             f"{(N, d, d)}, got shape {h.shape}")
        return h
    h = np.empty((N, d, d))
    for k in range(d):
        e = np.zeros(d)
        e[k] = _FD_STEP * (1.0 + abs(w[k]))
        h[:, :, k] = (_sample_gradients(model, data, w + e)
                      - _sample_gradients(model, data, w - e)) / (2 * e[k])
    return 0.5 * (h + h.transpose(0, 2, 1))


def _batch_gradient_function(model, data, w):
    """``f(W (m, d), idx (m, B)) -> (m, d)``: batch-mean gradients at each row of ``W``."""
    if _accepts_stacks(model, data, w):
        return lambda W, idx: np.take_along_axis(
            np.asarray(model.per_sample_gradients(W, data), dtype=float),
            idx[:, :, None], axis=1).mean(axis=1)
    if hasattr(model, "minibatch_gradient"):
        return lambda W, idx: np.array([model.minibatch_gradient(v, data, b)
                                        for v, b in zip(W, idx)])
    return lambda W, idx: np.array([np.asarray(model.per_sample_gradients(v, data))[b].mean(0)
                                    for v, b in zip(W, idx)])


def _accepts_stacks(model, data, w) -> bool:
    """Whether ``per_sample_gradients`` maps a stack ``(2, d)`` to the two ``(N, d)`` results."""
    W = np.stack([w, w + 1e-3 * (1.0 + np.abs(w))])
    try:
        G = np.asarray(model.per_sample_gradients(W, data), dtype=float)
    except (ValueError, TypeError, IndexError):  # FpsolveError is a ValueError
        return False
    single = np.stack([_sample_gradients(model, data, v) for v in W])
    scale = np.abs(single).max() + np.finfo(float).tiny
    # vectorized arithmetic may sum in another order: agree to ~1e-12 of the largest entry
    return G.shape == single.shape and bool(np.allclose(G, single, rtol=0, atol=1e-12 * scale))
