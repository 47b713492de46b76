"""Linear (Gaussian) theory of minibatch SGD near a minimum, in any dimension.

SGD at constant learning rate ``eta`` with minibatches of ``B`` distinct indices out of ``N``,
``w <- w - eta grad L_batch(w)``, ``L = mean_i l_i``.  Near a minimum ``w*`` with Hessian ``H``
the displacement ``x = w - w*`` follows the linear Gaussian chain

    x' = (I - eta H) x + xi,     Cov(xi) = 2 D,     D = (eta^2 / 2) (N - B) / (B (N - 1)) Sigma_g,

``Sigma_g`` the population covariance of the per-sample gradients; :mod:`fpsolve.linear` solves
it, this module adds the learning side and trajectory estimators (docs/sgd-theory.md).  Models
(duck-typed, as :class:`~fpsolve.learning.models.GradientModel`) provide ``loss(w, data)``,
``gradient``, ``hessian`` and ``per_sample_gradients(w, data) -> (N, d)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from ..errors import DiffusionError, ModelError
from ..linear import (circulation, discrete_entropy_production, discrete_stationary_covariance,
                      stationary_covariance)
from ..linear.lyapunov import _symmetric
from .._runs import check_count, check_positive
from .dynamics.schedules import check_batch_size, minibatch_indices
from .models.minimum import Minimum, as_vector as _vector, find_minimum
from .models.minimum import model_array as _model_array

__all__ = ["Minimum", "find_minimum", "minibatch_diffusion", "empirical_diffusion",
           "GaussianTheory", "gaussian_theory"]

_CHUNK = 2**20       # floats per temporary array in the sampling loops (8 MB)


def minibatch_diffusion(model, data, w, *, eta: float, batch_size: int) -> np.ndarray:
    """Diffusion matrix per SGD step, ``D = Cov(dw) / 2`` for ``dw = -eta grad L_batch(w)``.

    Parameters
    ----------
    model, data : object
        ``per_sample_gradients(w, data) -> (N, d)``; the training set.
    w : array_like, shape (d,)
    eta, batch_size : keyword-only
        Learning rate; ``B``, distinct indices per batch, ``1 <= B <= N``.

    Returns
    -------
    D : ndarray, shape (d, d)
        ``(eta^2 / 2) (N - B) / (B (N - 1)) Sigma_g``, ``Sigma_g = (1/N) sum_i (g_i - g)(g_i -
        g)^T``; ``(N - B) / (N - 1)`` is the finite-population correction (docs/sgd-theory.md).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from fpsolve.learning.theory import minibatch_diffusion
    >>> g = SimpleNamespace(per_sample_gradients=lambda w, _: [[1.0], [-1.0], [0.0]])
    >>> minibatch_diffusion(g, None, [0.0], eta=0.1, batch_size=1)  # 0.005 * 1 * (2/3)
    array([[0.00333333]])
    """
    G = _sample_gradients(model, data, w)
    eta, B = _eta(eta), _batch_size(batch_size, G.shape[0])
    return 0.5 * eta**2 * _finite_population(G.shape[0], B) * _population_covariance(G)


def empirical_diffusion(model, data, w, *, eta: float, batch_size: int, n: int,
                        rng=None) -> np.ndarray:
    """Sample estimate of :func:`minibatch_diffusion` from ``n`` one-step displacements.

    Parameters
    ----------
    model, data, w, eta, batch_size
        As for :func:`minibatch_diffusion`.
    n, rng : keyword-only
        Number of independent batches (displacements from ``w``), ``n >= 2``; their seed, as
        for :func:`~fpsolve.learning.dynamics.schedules.minibatch_indices` ("wr").

    Returns
    -------
    D : ndarray, shape (d, d)
        Half the sample covariance (``ddof=1``) of ``dw = -eta mean_{i in batch} g_i``; relative
        standard error of a diagonal entry ``~ sqrt(2 / n)`` (more for heavy-tailed ``g_i``).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from fpsolve.learning.theory import empirical_diffusion
    >>> g = SimpleNamespace(per_sample_gradients=lambda w, _: [[1.0], [-1.0], [0.0]])
    >>> D = empirical_diffusion(g, None, [0.0], eta=0.1, batch_size=1, n=20000, rng=0)
    >>> bool(abs(D[0, 0] / 0.00333333 - 1) < 0.05)  # 5 % = 5 standard errors
    True
    """
    G = _sample_gradients(model, data, w)
    B, n = _batch_size(batch_size, G.shape[0]), check_count("n", n, 2)
    idx = minibatch_indices(G.shape[0], B, n, schedule="wr", rng=rng)
    chunk = max(1, _CHUNK // (B * G.shape[1]))
    blocks = (G[idx[i:i + chunk]].mean(axis=1) for i in range(0, n, chunk))
    return 0.5 * _eta(eta)**2 * _mean_cov(blocks, G.mean(axis=0))[1]


@dataclass(frozen=True)
class GaussianTheory:
    """Stationary linear theory of SGD near a minimum (:func:`gaussian_theory`).

    ``H``, ``D`` the Hessian and per-step diffusion matrix, ``eta`` the learning rate;
    ``Sigma`` and ``Sigma_disc`` the continuous (``H S + S H = (2 / eta) D``) and exact
    (``S = (I - eta H) S (I - eta H) + 2 D``) covariances; ``C`` and ``C_disc`` the circulation
    ``(eta / 2)(H S - S H)`` with either; ``entropy_production`` the mean per step
    ``-tr(C D^-1 C Sigma^-1)`` and ``entropy_production_exact`` that of the discrete chain
    (docs/sgd-theory.md), equal to leading order in ``eta``.
    """

    H: np.ndarray
    D: np.ndarray
    eta: float
    Sigma: np.ndarray
    Sigma_disc: np.ndarray
    C: np.ndarray
    C_disc: np.ndarray
    entropy_production: float
    entropy_production_exact: float


def gaussian_theory(H, D, eta: float) -> GaussianTheory:
    """Covariances, circulation and entropy production of SGD linearized at a minimum.

    Parameters
    ----------
    H, D : array_like, shape (d, d)
        Hessian of ``L`` at the minimum and per-step diffusion matrix
        (:func:`minibatch_diffusion`), both symmetric positive definite.
    eta : float
        Learning rate, with ``eta * max eig(H) < 2`` (stable map).

    Returns
    -------
    GaussianTheory
        ModelError if ``H`` is not positive definite ("not a minimum"), DiffusionError: ``D``.

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.learning.theory import gaussian_theory
    >>> th = gaussian_theory(np.diag([1.0, 2.0]), np.diag([0.01, 0.02]), 0.1)  # commuting
    >>> np.allclose(th.Sigma, 0.1 * np.eye(2)), np.allclose(th.C, 0)
    (True, True)
    >>> [round(abs(v), 12) for v in (th.entropy_production, th.entropy_production_exact)]
    [0.0, 0.0]
    """
    eta = _eta(eta)
    H = _symmetric("H", H, None, ModelError)
    D = _symmetric("D", D, H.shape[0], DiffusionError)
    lam = np.linalg.eigvalsh(H)
    if lam[0] <= 0:
        raise ModelError(f"H: the point is not a minimum (smallest Hessian eigenvalue "
                         f"{lam[0]:.6g}; expected > 0)")
    if eta * lam[-1] >= 2:
        raise ModelError(f"eta: the SGD map I - eta H is unstable (eta * largest eigenvalue of "
                         f"H = {eta * lam[-1]:.6g}; expected < 2)")
    M = np.eye(H.shape[0]) - eta * H
    Sigma = stationary_covariance(-eta * H, D)  # drift A = -eta H per step
    Sigma_disc = discrete_stationary_covariance(M, 2.0 * D)
    C = circulation(H, Sigma, eta)
    return GaussianTheory(H, D, eta, Sigma, Sigma_disc, C, circulation(H, Sigma_disc, eta),
                          discrete_entropy_production(C, D, Sigma),
                          _chain_entropy_production(M, 2.0 * D, Sigma_disc))


# ----------------------------------------------------------------------------- helpers
def _chain_entropy_production(M, Q, S) -> float:
    """``<ln P(x'|x) p(x) / (P(x|x') p(x'))>`` of ``x' = M x + N(0, Q)``, ``M = M^T``, stationary
    ``N(0, S)``: ``(tr(Q^-1 E[r r^T]) - d) / 2``, ``r = x - M x' = (I - M^2) x - M xi``."""
    P = np.eye(M.shape[0]) - M @ M
    R = P @ S @ P.T + M @ Q @ M.T
    return 0.5 * (float(np.trace(sla.solve(Q, R, assume_a="pos"))) - M.shape[0])


def _sample_gradients(model, data, w) -> np.ndarray:
    """Validated per-sample gradients ``(N, d)`` at ``w``, ``N >= 2``."""
    w = _vector("w", w)
    G = np.asarray(model.per_sample_gradients(w, data), dtype=float)
    N = G.shape[0] if G.ndim == 2 and G.shape[0] >= 2 else "N >= 2"
    return _model_array("per_sample_gradients", G, (N, w.size))


def _mean_cov(blocks, center):
    """Mean and covariance (ddof=1) of the rows of ``(m, d)`` blocks, summed around ``center``."""
    n, s1, s2 = 0, 0.0, 0.0
    for X in blocks:
        X = X - center
        n, s1, s2 = n + X.shape[0], s1 + X.sum(axis=0), s2 + X.T @ X
    return center + s1 / n, (s2 - np.outer(s1, s1) / n) / (n - 1)


def _population_covariance(G) -> np.ndarray:
    dG = G - G.mean(axis=0)
    return dG.T @ dG / G.shape[0]


def _finite_population(N: int, B: int) -> float:
    """``(N - B) / (B (N - 1))``: variance factor of a batch mean drawn without replacement."""
    return (N - B) / (B * (N - 1))


def _eta(eta) -> float:
    return check_positive("eta", eta)  # finite, > 0; the error names eta


def _batch_size(batch_size, N: int) -> int:
    return check_batch_size(batch_size, N, "wr")  # an int in [1, N]; the error names it
