"""Gaussian (Ornstein-Uhlenbeck) theory in any dimension: covariance, current, entropy production.

The linear SDE ``dx = A x dt + sqrt(2 D) dW`` has the Fokker-Planck equation
``dp/dt = -d_i((A x)_i p) + d_i d_j(D_ij p)``.  For a stable ``A`` (every eigenvalue with negative
real part) and a symmetric positive definite ``D`` its stationary density is the centered Gaussian
``N(0, S)`` whose covariance solves the continuous Lyapunov equation ``A S + S A^T + 2 D = 0``.

Every function here is dense matrix algebra on ``(d, d)`` arrays with SciPy's O(d^3) solvers
(Bartels-Stewart for the Lyapunov equations, Cholesky for the positive definite factors), so
``d ~ 1000`` takes seconds.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg as sla

from ..errors import DiffusionError, ModelError

__all__ = ["stationary_covariance", "discrete_stationary_covariance", "current_matrix",
           "entropy_production_rate", "circulation", "discrete_entropy_production"]

# Symmetry test for D, S, H and antisymmetry of C, relative to the largest entry: a matrix built
# as B @ B.T or (X + X.T) / 2 in floating point is symmetric to a few ulps; 1e-10 leaves room for
# matrices assembled in other ways while still catching a genuinely non-symmetric input.
_SYM_RTOL = 1e-10


def stationary_covariance(A, D) -> np.ndarray:
    """Stationary covariance ``S`` of ``dx = A x dt + sqrt(2 D) dW``.

    Parameters
    ----------
    A : array_like, shape (d, d)
        Drift matrix; must be stable (all eigenvalues with negative real part).
    D : array_like, shape (d, d)
        Diffusion matrix, symmetric positive definite.

    Returns
    -------
    S : ndarray, shape (d, d)
        Symmetric positive definite solution of ``A S + S A^T + 2 D = 0``.

    Raises
    ------
    ModelError
        ``A`` not square, not finite, or not stable.
    DiffusionError
        ``D`` not symmetric positive definite or of the wrong shape.

    Notes
    -----
    Solved by Bartels-Stewart (``scipy.linalg.solve_continuous_lyapunov``).  Stability of ``A`` is
    tested through Lyapunov's theorem: for ``D > 0`` the solution is positive definite if and only
    if ``A`` is stable, so one Cholesky factorization of ``S`` replaces an eigenvalue computation.

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.linear import stationary_covariance
    >>> stationary_covariance([[-2.0]], [[0.5]])  # 1-D: variance D / |A|
    array([[0.25]])
    """
    return _stationary(A, D)[2]


def discrete_stationary_covariance(M, Q) -> np.ndarray:
    """Stationary covariance ``S`` of the linear map ``x' = M x + xi`` with ``Cov(xi) = Q``.

    Parameters
    ----------
    M : array_like, shape (d, d)
        One-step map; must be stable (spectral radius below 1).  For SGD near a minimum with
        Hessian ``H`` and learning rate ``eta``: ``M = I - eta H``.
    Q : array_like, shape (d, d)
        Covariance of the per-step noise, symmetric positive definite (``2 D_step`` for SGD).

    Returns
    -------
    S : ndarray, shape (d, d)
        Symmetric positive definite solution of ``S = M S M^T + Q``.

    Raises
    ------
    ModelError
        ``M`` not square, not finite, or not stable.
    DiffusionError
        ``Q`` not symmetric positive definite or of the wrong shape.

    Notes
    -----
    Solved with ``scipy.linalg.solve_discrete_lyapunov`` (O(d^3)); Stein's theorem (``Q > 0``:
    ``S > 0`` if and only if ``M`` is stable) turns the stability test into a Cholesky
    factorization, as in :func:`stationary_covariance`.

    Examples
    --------
    >>> from fpsolve.linear import discrete_stationary_covariance
    >>> discrete_stationary_covariance([[0.5]], [[0.75]])  # Q / (1 - M^2)
    array([[1.]])
    """
    M = _square("M", M)
    Q = _symmetric("Q", Q, M.shape[0], DiffusionError)
    _cholesky("Q", Q, DiffusionError)
    S, R = _lyapunov_solution(sla.solve_discrete_lyapunov, M, Q)
    if R is None:
        radius = np.max(np.abs(np.linalg.eigvals(M)))
        raise ModelError(f"M: the map is not stable (spectral radius {radius:.6g}; expected < 1), "
                         "or S = M S M^T + Q is numerically singular")
    return S


def current_matrix(A, D, S=None) -> np.ndarray:
    """Matrix ``Omega`` with probability current ``J(x) = Omega x p(x)`` for ``p = N(0, S)``.

    Parameters
    ----------
    A : array_like, shape (d, d)
        Drift matrix.
    D : array_like, shape (d, d)
        Diffusion matrix, symmetric positive definite.
    S : array_like, shape (d, d), optional
        Covariance of the Gaussian ``p``; default the stationary covariance (``A`` must then be
        stable).

    Returns
    -------
    Omega : ndarray, shape (d, d)
        ``Omega = A + D S^-1``.

    Notes
    -----
    ``J = A x p - D grad p`` and ``grad p = -S^-1 x p`` give ``J = (A + D S^-1) x p`` for any
    centered Gaussian.  In the stationary state ``Omega S = A S + D`` is antisymmetric (that is the
    Lyapunov equation), so ``div J = 0``; ``Omega = 0`` exactly when detailed balance holds, i.e.
    when ``D^-1 A`` is symmetric.

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.linear import current_matrix
    >>> np.allclose(current_matrix([[-1.0, 0.0], [0.0, -2.0]], np.eye(2)), 0.0)  # gradient drift
    True
    """
    A, D, S, _, R = _with_covariance(A, D, S)
    return A + sla.cho_solve((R, True), D).T  # D S^-1 = (S^-1 D)^T for symmetric D, S


def entropy_production_rate(A, D, S=None) -> float:
    """Mean entropy production rate ``int J^T D^-1 J / p dx`` of the Gaussian ``p = N(0, S)``.

    Parameters
    ----------
    A : array_like, shape (d, d)
        Drift matrix.
    D : array_like, shape (d, d)
        Diffusion matrix, symmetric positive definite.
    S : array_like, shape (d, d), optional
        Covariance of ``p``; default the stationary covariance (``A`` must then be stable), which
        gives the entropy production rate of the nonequilibrium steady state.

    Returns
    -------
    float
        ``sigma = tr(Omega^T D^-1 Omega S) >= 0`` (units of k_B per unit time).

    Notes
    -----
    With ``J = Omega x p``, ``int J^T D^-1 J / p = E[x^T Omega^T D^-1 Omega x]
    = tr(Omega^T D^-1 Omega S)``.  Writing ``W = Omega S = A S + D`` and the Cholesky factors
    ``D = L L^T``, ``S = R R^T`` it equals ``||L^-1 W R^-T||_F^2``, which is how it is computed
    (manifestly non-negative).  In the stationary state the Lyapunov equation gives the equivalent
    forms ``tr(A^T D^-1 A S) + tr(A)`` and ``-tr(S^-1 W D^-1 W)`` with ``W`` antisymmetric; it
    vanishes if and only if ``D^-1 A`` is symmetric (detailed balance).

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.linear import entropy_production_rate
    >>> A = np.array([[-1.0, 1.0], [-1.0, -1.0]])  # isotropic rotation, D = I: sigma = 2 omega^2
    >>> round(entropy_production_rate(A, np.eye(2)), 12)
    2.0
    """
    A, D, S, L, R = _with_covariance(A, D, S)
    return _weighted_square_norm(A @ S + D, L, R)


def circulation(H, S, eta) -> np.ndarray:
    """Circulation matrix ``C = (eta / 2) (H S - S H)`` of SGD near a minimum.

    Parameters
    ----------
    H : array_like, shape (d, d)
        Hessian of the loss at the minimum (symmetric).
    S : array_like, shape (d, d)
        Stationary covariance of the parameters (symmetric), e.g. from
        :func:`discrete_stationary_covariance`.
    eta : float
        Learning rate, positive.

    Returns
    -------
    C : ndarray, shape (d, d)
        Antisymmetric matrix; zero exactly when ``H`` and ``S`` commute (detailed balance).

    Notes
    -----
    Following Adhikari et al., "Machine learning in and out of equilibrium": the stationary
    probability flux of the linearized SGD dynamics is carried by ``C``.  For ``eta = 1`` and
    ``A = -H`` it equals ``-Omega S`` of :func:`current_matrix`.

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.linear import circulation
    >>> circulation(np.diag([1.0, 2.0]), [[1.0, 0.5], [0.5, 1.0]], 0.1)
    array([[ 0.   , -0.025],
           [ 0.025,  0.   ]])
    """
    H = _symmetric("H", H, None, ModelError)
    S = _symmetric("S", S, H.shape[0], ModelError)
    eta = float(eta)
    if not (np.isfinite(eta) and eta > 0):
        raise ModelError(f"eta: expected a positive finite learning rate, got {eta}")
    X = H @ S
    return 0.5 * eta * (X - X.T)  # (H S)^T = S H for symmetric H, S: exactly antisymmetric


def discrete_entropy_production(C, D, S) -> float:
    """Mean entropy production per step ``-tr(C D^-1 C S^-1)`` of SGD near a minimum.

    Parameters
    ----------
    C : array_like, shape (d, d)
        Antisymmetric circulation matrix (:func:`circulation`).
    D : array_like, shape (d, d)
        Diffusion matrix (per-step noise), symmetric positive definite.
    S : array_like, shape (d, d)
        Stationary covariance, symmetric positive definite.

    Returns
    -------
    float
        ``-tr(C D^-1 C S^-1) = ||L^-1 C R^-T||_F^2 >= 0`` with ``D = L L^T``, ``S = R R^T``.

    Notes
    -----
    The formula of Adhikari et al., "Machine learning in and out of equilibrium".  Antisymmetry of
    ``C`` turns ``-tr(C D^-1 C S^-1)`` into ``tr(C^T D^-1 C S^-1)``, a squared weighted norm; it
    is zero exactly when ``C = 0``.  With ``C = -Omega S`` it is the continuous
    :func:`entropy_production_rate`.

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.linear import discrete_entropy_production
    >>> C = np.array([[0.0, 0.5], [-0.5, 0.0]])
    >>> round(discrete_entropy_production(C, np.eye(2), np.eye(2)), 12)
    0.5
    """
    C = _symmetric("C", C, None, ModelError, anti=True)
    D = _symmetric("D", D, C.shape[0], DiffusionError)
    S = _symmetric("S", S, C.shape[0], ModelError)
    return _weighted_square_norm(C, _cholesky("D", D, DiffusionError),
                                 _cholesky("S", S, ModelError))


# ----------------------------------------------------------------------------- helpers
def _stationary(A, D):
    """Validated ``A``, ``D``, the stationary ``S`` and the Cholesky factors of ``D`` and ``S``."""
    A, D, L = _drift_and_diffusion(A, D)
    S, R = _lyapunov_solution(sla.solve_continuous_lyapunov, A, -2.0 * D)
    if R is None:
        top = np.max(np.linalg.eigvals(A).real)
        raise ModelError(f"A: the drift matrix is not stable (largest real part of an eigenvalue "
                         f"{top:.6g}; expected < 0), or A S + S A^T + 2 D = 0 is numerically "
                         "singular")
    return A, D, S, L, R


def _lyapunov_solution(solve, X, noise):
    """Symmetrized ``S = solve(X, noise)`` and its Cholesky factor; the factor is None when the
    solve fails or ``S`` is not positive definite, i.e. (Lyapunov, Stein) ``X`` is not stable."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # eigenvalue pairs near singularity
        try:
            S = solve(X, noise)
        except (np.linalg.LinAlgError, ValueError):
            return None, None
    S = 0.5 * (S + S.T)
    return S, _try_cholesky(S)


def _with_covariance(A, D, S):
    """``A, D, S, chol(D), chol(S)`` with ``S`` the given covariance or the stationary one."""
    if S is None:
        return _stationary(A, D)
    A, D, L = _drift_and_diffusion(A, D)
    S = _symmetric("S", S, A.shape[0], ModelError)
    return A, D, S, L, _cholesky("S", S, ModelError)


def _drift_and_diffusion(A, D):
    """Validated square ``A``, symmetric positive definite ``D`` and its Cholesky factor."""
    A = _square("A", A)
    D = _symmetric("D", D, A.shape[0], DiffusionError)
    return A, D, _cholesky("D", D, DiffusionError)


def _weighted_square_norm(W, L, R) -> float:
    """``tr(W^T (L L^T)^-1 W (R R^T)^-1) = ||L^-1 W R^-T||_F^2`` for lower-triangular L, R."""
    Z = sla.solve_triangular(L, W, lower=True)
    Z = sla.solve_triangular(R, Z.T, lower=True)
    return float(np.sum(Z * Z))


def _square(name, X, d=None, error=ModelError) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim == 0:
        X = X.reshape(1, 1)
    if X.ndim != 2 or X.shape[0] != X.shape[1]:
        raise error(f"{name}: expected a square matrix of shape (d, d), got shape {X.shape}")
    if d is not None and X.shape[0] != d:
        raise error(f"{name}: expected shape {(d, d)} to match the first matrix, got {X.shape}")
    if not np.all(np.isfinite(X)):
        raise error(f"{name}: matrix contains NaN or inf")
    return X


def _symmetric(name, X, d, error, *, anti=False) -> np.ndarray:
    """Validated square ``X``, returned as its exactly (anti)symmetric part."""
    X = _square(name, X, d, error)
    sign = -1.0 if anti else 1.0
    if np.max(np.abs(X - sign * X.T)) > _SYM_RTOL * (np.max(np.abs(X)) or 1.0):
        kind = "an antisymmetric" if anti else "a symmetric"
        raise error(f"{name}: expected {kind} matrix")
    return 0.5 * (X + sign * X.T)


def _cholesky(name, X, error) -> np.ndarray:
    L = _try_cholesky(X)
    if L is None:
        raise error(f"{name}: expected a positive definite matrix (Cholesky factorization failed)")
    return L


def _try_cholesky(X):
    if not np.all(np.isfinite(X)):
        return None
    try:
        return sla.cholesky(X, lower=True)
    except np.linalg.LinAlgError:
        return None
