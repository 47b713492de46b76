"""Lyapunov and Stein equations with a symmetric drift, solved in its eigenbasis.

Near a minimum with Hessian ``H`` the drift of gradient dynamics is symmetric: ``A = -K`` for the
continuous process ``dx = -K x dt + sqrt(2 D) dW`` and ``M = I - eta H`` for the SGD map.  Then
one symmetric eigendecomposition ``K = V diag(k) V^T`` diagonalizes the equations, and in the
eigen-coordinates ``D~ = V^T D V`` both solve entrywise:

    K S + S K = 2 D          ->   S~_ij = 2 D~_ij / (k_i + k_j)            (diagonal_lyapunov)
    S = M S M + Q            ->   S~_ij = Q~_ij / (1 - mu_i mu_j)         (diagonal_stein)

The general (non-symmetric) solvers are in :mod:`fpsolve.linear.lyapunov`.
"""

from __future__ import annotations

import numpy as np

from ..errors import DiffusionError, ModelError
import scipy.linalg as sla

from .lyapunov import _cholesky, _symmetric

__all__ = ["diagonal_lyapunov", "diagonal_stein", "symmetric_stationary_covariance",
           "symmetric_discrete_stationary_covariance", "symmetric_chain_entropy_production",
           "diagonal_chain_entropy_production", "orthogonal_complement"]

# Orthonormality of a basis, relative: columns from an SVD or QR are orthonormal to ~d ulps.
_ORTHO_TOL = 1e-8


def diagonal_lyapunov(k, D) -> np.ndarray:
    """Solution ``S`` of ``K S + S K = 2 D`` for diagonal ``K = diag(k)``.

    Parameters
    ----------
    k : array_like, shape (d,)
        Relaxation rates, positive (``-A`` for the drift ``A = -diag(k)``).
    D : array_like, shape (d, d)
        Diffusion matrix in the same coordinates, symmetric.

    Returns
    -------
    S : ndarray, shape (d, d)
        ``S_ij = 2 D_ij / (k_i + k_j)``: the stationary covariance of
        ``dx = -diag(k) x dt + sqrt(2 D) dW``.

    Notes
    -----
    ``1 / (k_i + k_j)`` is a positive definite (Cauchy) matrix, so by the Schur product theorem
    ``S`` is positive (semi)definite exactly when ``D`` is.

    Examples
    --------
    >>> from fpsolve.linear import diagonal_lyapunov
    >>> diagonal_lyapunov([1.0, 3.0], [[1.0, 0.5], [0.5, 3.0]])
    array([[1.  , 0.25],
           [0.25, 1.  ]])
    """
    k = _rates("k", k, lambda v: v > 0, "positive")
    D = _symmetric("D", D, k.size, DiffusionError)
    return 2.0 * D / (k[:, None] + k[None, :])


def diagonal_stein(mu, Q) -> np.ndarray:
    """Solution ``S`` of ``S = M S M + Q`` for diagonal ``M = diag(mu)``.

    Parameters
    ----------
    mu : array_like, shape (d,)
        Multipliers of the map, ``|mu_i| < 1`` (for SGD ``mu = 1 - eta lambda``).
    Q : array_like, shape (d, d)
        Covariance of the per-step noise in the same coordinates, symmetric.

    Returns
    -------
    S : ndarray, shape (d, d)
        ``S_ij = Q_ij / (1 - mu_i mu_j)``: the stationary covariance of ``x' = diag(mu) x + xi``.

    Notes
    -----
    ``1 / (1 - mu_i mu_j) = sum_n (mu_i mu_j)^n`` is a positive definite kernel, so ``S`` is
    positive (semi)definite exactly when ``Q`` is.

    Examples
    --------
    >>> from fpsolve.linear import diagonal_stein
    >>> diagonal_stein([0.5, 0.0], [[0.75, 0.0], [0.0, 1.0]])
    array([[1., 0.],
           [0., 1.]])
    """
    mu = _rates("mu", mu, lambda v: np.abs(v) < 1, "of modulus below 1")
    Q = _symmetric("Q", Q, mu.size, DiffusionError)
    return Q / (1.0 - mu[:, None] * mu[None, :])


def symmetric_stationary_covariance(A, D) -> np.ndarray:
    """Stationary covariance of ``dx = A x dt + sqrt(2 D) dW`` for a symmetric drift ``A``.

    Parameters
    ----------
    A : array_like, shape (d, d)
        Symmetric drift matrix, negative definite (stable).
    D : array_like, shape (d, d)
        Diffusion matrix, symmetric positive (semi)definite.

    Returns
    -------
    S : ndarray, shape (d, d)
        Solution of ``A S + S A + 2 D = 0``, the same as
        :func:`~fpsolve.linear.stationary_covariance` (which accepts any stable ``A``).

    Raises
    ------
    ModelError
        ``A`` not square, not symmetric, not finite, or not negative definite.
    DiffusionError
        ``D`` not symmetric or of the wrong shape.

    Notes
    -----
    ``A = -V diag(k) V^T`` (one symmetric eigendecomposition), ``S = V diagonal_lyapunov(k,
    V^T D V) V^T``.  Why this is faster than Bartels-Stewart
    (``scipy.linalg.solve_continuous_lyapunov``): Bartels-Stewart reduces ``A`` to real Schur
    form by nonsymmetric QR iterations (about 25 d^3 flops) and then solves a quasi-triangular
    Sylvester system column by column, a long chain of small dependent updates that level-3
    BLAS cannot batch.  For symmetric ``A`` the Schur form is diagonal: the symmetric eigensolver
    (tridiagonal reduction and divide and conquer, about 9 d^3 flops, mostly BLAS-3), one
    entrywise division in place of the triangular solve, and four matrix products for the basis
    changes.  ``benchmarks/bench_lyapunov.py`` measures the ratio.  Stability is read off the
    eigenvalues exactly; by the Schur product theorem ``S`` is positive definite iff ``D`` is.

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.linear import stationary_covariance, symmetric_stationary_covariance
    >>> A, D = np.array([[-2.0, 0.5], [0.5, -1.0]]), np.array([[1.0, 0.2], [0.2, 0.5]])
    >>> np.allclose(symmetric_stationary_covariance(A, D), stationary_covariance(A, D))
    True
    """
    A = _symmetric("A", A, None, ModelError)
    a, V = np.linalg.eigh(A)
    if a[-1] >= 0:
        raise ModelError(f"A: expected a negative definite (stable) symmetric drift, largest "
                         f"eigenvalue {a[-1]:.6g}")
    D = _symmetric("D", D, a.size, DiffusionError)
    return _back(V, diagonal_lyapunov(-a, V.T @ D @ V))


def symmetric_discrete_stationary_covariance(M, Q) -> np.ndarray:
    """Stationary covariance of ``x' = M x + xi``, ``Cov(xi) = Q``, for a symmetric map ``M``.

    Parameters
    ----------
    M : array_like, shape (d, d)
        Symmetric one-step map with spectral radius below 1 (``I - eta H`` for SGD).
    Q : array_like, shape (d, d)
        Noise covariance per step, symmetric positive (semi)definite.

    Returns
    -------
    S : ndarray, shape (d, d)
        Solution of ``S = M S M + Q``, the same as
        :func:`~fpsolve.linear.discrete_stationary_covariance`.

    Raises
    ------
    ModelError
        ``M`` not square, not symmetric, not finite, or not stable.
    DiffusionError
        ``Q`` not symmetric or of the wrong shape.

    Notes
    -----
    ``M = V diag(mu) V^T``, ``S = V diagonal_stein(mu, V^T Q V) V^T``: one symmetric
    eigendecomposition and an entrywise division, against SciPy's bilinear transformation
    followed by Bartels-Stewart (reasons of the speed-up in
    :func:`symmetric_stationary_covariance`).

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.linear import symmetric_discrete_stationary_covariance
    >>> symmetric_discrete_stationary_covariance(0.5 * np.eye(2), 0.75 * np.eye(2))
    array([[1., 0.],
           [0., 1.]])
    """
    M = _symmetric("M", M, None, ModelError)
    mu, V = np.linalg.eigh(M)
    if max(-mu[0], mu[-1]) >= 1:
        raise ModelError(f"M: expected a stable map (spectral radius below 1), got "
                         f"{max(-mu[0], mu[-1]):.6g}")
    Q = _symmetric("Q", Q, mu.size, DiffusionError)
    return _back(V, diagonal_stein(mu, V.T @ Q @ V))


def symmetric_chain_entropy_production(M, Q, S) -> float:
    """Mean entropy production per step of the chain ``x' = M x + xi`` with symmetric ``M``.

    Parameters
    ----------
    M : array_like, shape (d, d)
        Symmetric stable map (``I - eta H`` for SGD).
    Q : array_like, shape (d, d)
        Noise covariance ``Cov(xi)``, symmetric positive definite.
    S : array_like, shape (d, d)
        Stationary covariance (:func:`symmetric_discrete_stationary_covariance`).

    Returns
    -------
    float
        ``<ln P(x'|x) p(x) / (P(x|x') p(x'))> = (tr(Q^-1 R) - d) / 2`` (k_B per step).

    Notes
    -----
    The reverse step is ``x = M x' + r`` with ``r = (I - M^2) x - M xi``, ``R = E[r r^T] =
    (I - M^2) S (I - M^2) + M Q M``; the Gaussian log ratio averages to the formula.  Zero at
    detailed balance (``M`` and ``Q`` commute: ``R = Q``).

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.linear import symmetric_chain_entropy_production
    >>> round(symmetric_chain_entropy_production(0.5 * np.eye(2), np.eye(2),
    ...                                          np.eye(2) / 0.75), 12)
    0.0
    """
    M = _symmetric("M", M, None, ModelError)
    Q = _symmetric("Q", Q, M.shape[0], DiffusionError)
    P = np.eye(M.shape[0]) - M @ M
    R = P @ _symmetric("S", S, M.shape[0], ModelError) @ P + M @ Q @ M
    L = _cholesky("Q", Q, DiffusionError)
    return 0.5 * (float(np.trace(sla.cho_solve((L, True), R))) - M.shape[0])


def diagonal_chain_entropy_production(mu, Q, S) -> float:
    """:func:`symmetric_chain_entropy_production` for diagonal ``M = diag(mu)`` (entrywise ``R``).

    ``mu (d,)``, ``Q (d, d)`` symmetric positive definite, ``S (d, d)``; returns
    ``(sum_ij (Q^-1)_ij R_ij - d) / 2`` with ``R_ij = p_i S_ij p_j + mu_i Q_ij mu_j``,
    ``p = 1 - mu^2``.

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.linear import diagonal_chain_entropy_production, diagonal_stein
    >>> mu, Q = np.array([0.9, 0.5]), np.array([[1.0, 0.3], [0.3, 1.0]])
    >>> round(diagonal_chain_entropy_production(mu, Q, diagonal_stein(mu, Q)), 6)
    0.028771
    """
    mu = _rates("mu", mu, lambda v: np.abs(v) < 1, "of modulus below 1")
    Q = _symmetric("Q", Q, mu.size, DiffusionError)
    Qi = sla.cho_solve((_cholesky("Q", Q, DiffusionError), True), np.eye(mu.size))
    p = 1.0 - mu**2
    R = p[:, None] * _symmetric("S", S, mu.size, ModelError) * p[None, :] + np.outer(mu, mu) * Q
    return 0.5 * (float(np.sum(Qi * R)) - mu.size)


def orthogonal_complement(Z) -> np.ndarray:
    """Orthonormal basis of the orthogonal complement of the columns of ``Z``.

    Parameters
    ----------
    Z : array_like, shape (d, m)
        Orthonormal columns (``m = 0`` allowed).

    Returns
    -------
    P : ndarray, shape (d, d - m)
        ``P^T P = I``, ``P^T Z = 0``.

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.linear import orthogonal_complement
    >>> P = orthogonal_complement(np.array([[1.0], [1.0]]) / np.sqrt(2))
    >>> P.shape, bool(abs(P[0, 0] + P[1, 0]) < 1e-15)
    ((2, 1), True)
    """
    Z = _orthonormal("Z", Z, empty=True)
    if not Z.shape[1]:
        return np.eye(Z.shape[0])
    return np.linalg.svd(Z, full_matrices=True)[0][:, Z.shape[1]:]


# ----------------------------------------------------------------------------- helpers
def _rates(name, v, ok, what) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    if v.ndim != 1 or not np.all(np.isfinite(v)) or not np.all(ok(v)):
        raise ModelError(f"{name}: expected a finite vector of shape (d,) with entries {what}")
    return v


def _orthonormal(name, P, d=None, *, empty=False) -> np.ndarray:
    """Validated ``(d, m)`` array with orthonormal columns (``m = 0`` only if ``empty``)."""
    P = np.asarray(P, dtype=float)
    if (P.ndim != 2 or (d is not None and P.shape[0] != d) or P.shape[1] > P.shape[0]
            or P.shape[1] < (0 if empty else 1) or not np.all(np.isfinite(P))
            or np.abs(P.T @ P - np.eye(P.shape[1])).max(initial=0.0) > _ORTHO_TOL):
        raise ModelError(f"{name}: expected finite orthonormal columns of shape "
                         f"({d or 'd'}, m <= d), got shape {P.shape}")
    return P


def _back(V, S) -> np.ndarray:
    """``V S V^T`` made exactly symmetric."""
    S = V @ S @ V.T
    return 0.5 * (S + S.T)

