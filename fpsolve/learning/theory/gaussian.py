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

from ...errors import DiffusionError, ModelError
from ...linear import (circulation, diagonal_chain_entropy_production, diagonal_lyapunov,
                      diagonal_stein, discrete_entropy_production,
                      discrete_stationary_covariance, stationary_covariance,
                      symmetric_chain_entropy_production)
from ...linear.lyapunov import _symmetric
from ...linear.symmetric import _orthonormal
from ..._runs import check_count, check_positive
from ..dynamics.schedules import check_batch_size, minibatch_indices
from ..models.minimum import Minimum, as_vector as _vector, find_minimum
from ..models.minimum import model_array as _model_array

__all__ = ["Minimum", "find_minimum", "minibatch_diffusion", "empirical_diffusion",
           "GaussianTheory", "gaussian_theory", "reduced_gaussian_theory"]

CHUNK = 2**20       # floats per temporary array in the sampling loops (8 MB)


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
    return 0.5 * eta**2 * finite_population(G.shape[0], B) * _population_covariance(G)


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
    chunk = max(1, CHUNK // (B * G.shape[1]))
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

    Matrices are in the coordinates ``x = (w - w*) @ basis`` (:meth:`coordinates`) with ``w*``
    the minimum ``w (d_w,)`` and orthonormal ``basis (d_w, r)`` (None: the identity); a theory
    with ``w`` None (built from bare matrices) takes its inputs as displacements ``w - w*``.
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
    w: np.ndarray | None = None
    basis: np.ndarray | None = None

    def coordinates(self, W, center=None) -> np.ndarray:
        """``x = (W - center) @ basis`` for ``W (..., d_w)``; ``center`` default ``w`` (or 0)."""
        c = self.w if center is None else np.asarray(center, dtype=float)
        X = np.asarray(W, dtype=float) - (0.0 if c is None else c)
        return X if self.basis is None else (X.reshape(-1, X.shape[-1]) @ self.basis).reshape(
            X.shape[:-1] + (-1,))   # one 2-D product: a stacked @ loops over the rows

    def stationary_sample(self, n: int, rng=None) -> np.ndarray:
        """``n`` draws ``(n, d_w)`` of ``w* + basis x``, ``x ~ N(0, Sigma_disc)`` (stationary)."""
        L = np.linalg.cholesky(self.Sigma_disc)
        n = check_count("n", n, 1)
        x = np.random.default_rng(rng).standard_normal((n, L.shape[0])) @ L.T
        W = x if self.basis is None else x @ self.basis.T
        return W if self.w is None else self.w + W


def gaussian_theory(H, D, eta: float, *, w=None) -> GaussianTheory:
    """Covariances, circulation and entropy production of SGD linearized at a minimum.

    Parameters
    ----------
    H, D : array_like, shape (d, d)
        Hessian of ``L`` at the minimum and per-step diffusion matrix
        (:func:`minibatch_diffusion`), both symmetric positive definite.
    eta : float
        Learning rate, with ``eta * max eig(H) < 2`` (stable map).
    w : array_like, shape (d,), optional, keyword-only
        The minimum ``w*``: estimators then center parameter trajectories there by default.

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
                          symmetric_chain_entropy_production(M, 2.0 * D, Sigma_disc),
                          None if w is None else _vector("w", w, H.shape[0]))


def reduced_gaussian_theory(H, D, eta: float, *, w=None, basis=None) -> GaussianTheory:
    """:func:`gaussian_theory` on a subspace, solved in the Hessian eigenbasis (fast, large d).

    Parameters
    ----------
    H, D, eta, w
        As for :func:`gaussian_theory`; ``D`` may be singular (infinite entropy productions).
    basis : array_like, shape (d, r), optional, keyword-only
        Orthonormal columns spanning the subspace (e.g. the complement of exactly noiseless
        directions, :func:`~fpsolve.linear.orthogonal_complement`); default all of ``R^d``.

    Returns
    -------
    GaussianTheory
        In the coordinates ``x = (w - w*) @ T``, ``T = basis V`` (``r x r`` matrices, ``H``
        diagonal with increasing eigenvalues ``lambda``); ``theory.basis`` is ``T``.

    Notes
    -----
    With ``P^T H P = V diag(lambda) V^T`` the covariances are entrywise
    (:func:`~fpsolve.linear.diagonal_lyapunov`, :func:`~fpsolve.linear.diagonal_stein`), so is
    ``C_ij = (eta / 2)(lambda_i - lambda_j) Sigma_ij``, and the chain's entropy production
    ``(tr(Q^-1 R) - r) / 2`` has ``R_ij = p_i Sigma_disc_ij p_j + mu_i Q_ij mu_j`` (``mu = 1 -
    eta lambda``, ``p = 1 - mu^2``, ``Q = 2 D``): faster than :func:`gaussian_theory`'s Schur
    solves (``benchmarks/bench_lyapunov.py``).

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.learning.theory import gaussian_theory, reduced_gaussian_theory
    >>> H, D = np.array([[2.0, 0.5], [0.5, 1.0]]), np.array([[0.01, 0.0], [0.0, 0.03]])
    >>> r, g = reduced_gaussian_theory(H, D, 0.1), gaussian_theory(H, D, 0.1)
    >>> bool(np.isclose(r.entropy_production_exact, g.entropy_production_exact, rtol=1e-10))
    True
    >>> np.allclose(r.basis @ r.Sigma_disc @ r.basis.T, g.Sigma_disc)  # back to w coordinates
    True
    """
    eta, H = _eta(eta), _symmetric("H", H, None, ModelError)
    D = _symmetric("D", D, H.shape[0], DiffusionError)
    P = np.eye(H.shape[0]) if basis is None else _orthonormal("basis", basis, H.shape[0])
    lam, V = np.linalg.eigh(P.T @ H @ P)
    if lam[0] <= 0 or eta * lam[-1] >= 2:
        raise ModelError(f"H, eta: expected a stable minimum on the basis, 0 < eta lambda < 2, "
                         f"got eta lambda in [{eta * lam[0]:.6g}, {eta * lam[-1]:.6g}]")
    T = P @ V
    Dt = T.T @ D @ T
    Dt, mu = 0.5 * (Dt + Dt.T), 1.0 - eta * lam
    S, Sd = diagonal_lyapunov(eta * lam, Dt), diagonal_stein(mu, 2.0 * Dt)
    C, Cd = (0.5 * eta * (lam[:, None] - lam[None, :]) * X for X in (S, Sd))
    try:
        ep = discrete_entropy_production(C, Dt, S)
        ep_exact = diagonal_chain_entropy_production(mu, 2.0 * Dt, Sd)
    except DiffusionError:   # D singular: the chain has no time reverse
        ep = ep_exact = np.inf
    return GaussianTheory(np.diag(lam), Dt, eta, S, Sd, C, Cd, ep, ep_exact,
                          None if w is None else _vector("w", w, H.shape[0]), T)


# ----------------------------------------------------------------------------- helpers


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


def finite_population(N: int, B: int) -> float:
    """``(N - B) / (B (N - 1))``: variance factor of a batch mean drawn without replacement."""
    return (N - B) / (B * (N - 1))


def _eta(eta) -> float:
    return check_positive("eta", eta)  # finite, > 0; the error names eta


def _batch_size(batch_size, N: int) -> int:
    return check_batch_size(batch_size, N, "wr")  # an int in [1, N]; the error names it
